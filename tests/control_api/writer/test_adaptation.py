"""Adaptation by a model (the fake chat server): chunked with the characters carried across, each
chunk's lines parsed (repaired once, else adapted by the rules), and no sentence lost: what the model
leaves out comes back as flagged narration."""

from __future__ import annotations

import asyncio

from control_api.writer.adaptation import RESTORED_NOTE, adapt_with_model, body_lines, chunks, spoken
from control_api.writer.completeness import letters
from control_api.writer.llm import ChatClient, LLMConfig
from nodes.segmenter.core import parse_script
from tests.control_api.writer.examples import CHAPTER, CHAPTER_PATH, FULL_REPLY, SHORT_REPLY


def adapted(fake, library, text: str, **kw):
    async def go():
        client = ChatClient(LLMConfig.from_env(fake.env()))
        try:
            return await adapt_with_model(text, client, library, **kw)
        finally:
            await client.close()
    return asyncio.run(go())


def test_chunks_cut_at_paragraphs_and_keep_every_character():
    paragraphs = [f"Paragraph {i}. " + "The river ran on. " * (i % 7 + 3) for i in range(120)]
    text = "# Title\n\n" + "\n\n".join(paragraphs[:60]) + "\n\n## Part two\n\n" + "\n\n".join(paragraphs[60:])
    pieces = chunks(text, max_chars=1000)
    assert len(pieces) > 5 and all(len(p) <= 1000 for p in pieces)
    assert letters("".join(pieces)) == letters(text)
    assert any(p.startswith("## Part two") for p in pieces)  # a heading starts its piece
    huge = "A sentence that goes on. " * 400  # one paragraph of 10,000 characters
    assert all(len(p) <= 1000 for p in chunks(huge, max_chars=1000)) and letters("".join(chunks(huge, 1000))) == letters(huge)


def test_a_complete_adaptation_is_kept_as_the_model_wrote_it(chat, library):
    chat.replies(f"```markdown\n{FULL_REPLY}```")
    result = adapted(chat, library, CHAPTER, language="en")
    assert result.mode == "llm" and not result.restored and not result.fallback_chunks
    assert result.speakers == ["Tomas", "Ada", "Ferryman"] and result.coverage.complete
    plan = parse_script(result.script, library)
    assert [u.speaker for u in plan.utterances][:4] == ["Narrator", "Tomas", "Narrator", "Tomas"]
    assert body_lines(result.script.split("---\n", 2)[2]) == body_lines(FULL_REPLY)
    assert len(result.replies) == 1 and result.replies[0].total_tokens > 0
    system = chat.log()[0]["body"]["messages"][0]["content"]
    assert "**Narrator:**" in system and "none yet" in system


def test_what_the_model_leaves_out_comes_back_as_flagged_narration_in_place(chat, library):
    chat.replies(SHORT_REPLY)
    result = adapted(chat, library, CHAPTER, language="en")
    passages = [text for _, text in result.restored]
    assert any("a dog barked twice" in p for p in passages)
    assert any("the ferryman put his head out" in p for p in passages)
    lines = result.script.split("\n")
    for line_number, text in result.restored:
        assert lines[line_number - 1] == f"**Narrator:** {text}" and lines[line_number - 2] == RESTORED_NOTE
    dog = next(n for n, t in result.restored if "dog barked" in t)
    assert "gold room in the fog" in lines[dog - 3]  # after the sentence before it, not at the end
    path = next(n for n, t in result.restored if "path with a lantern" in t)
    assert lines[path - 1] == "**Narrator:** coming down the path with a lantern."  # its quote is in the script
    assert lines[path - 3] == "**Tomas:** You're early."  # so it goes after that
    assert result.coverage.complete and result.coverage.share > 0.99
    parse_script(result.script, library)  # the comment is an authoring note: it parses, unspoken
    assert RESTORED_NOTE not in spoken(lines)


def test_a_chunk_that_fails_is_repaired_with_its_line_numbers(chat, library):
    broken = FULL_REPLY.replace("**Ada (calm):**", "**Ada (furious-ish):**")
    chat.replies(broken, FULL_REPLY)
    result = adapted(chat, library, CHAPTER, language="en")
    assert not result.fallback_chunks and len(result.replies) == 2
    repair = chat.log()[1]["body"]["messages"]
    assert repair[-2]["content"] == broken and "line 7" in repair[-1]["content"]


def test_a_chunk_that_stays_broken_is_adapted_by_the_rules(chat, library):
    broken = "**Ada (furious-ish):** I know.\n"
    chat.replies(broken, broken)
    result = adapted(chat, library, CHAPTER, language="en")
    assert result.fallback_chunks == [1] and len(result.replies) == 2
    assert {"Ada", "Tomas"} <= set(result.speakers) and result.coverage.complete
    parse_script(result.script, library)


def test_characters_are_carried_into_the_next_chunk(chat, library):
    text = CHAPTER + "\n\n" + "\n\n".join([f"The fog lay on the water, hour after hour, number {i}." for i in range(80)])
    pieces = chunks(text)
    assert len(pieces) >= 2, "the text must need two chunks"
    replies = [FULL_REPLY] + [f"**Narrator:** {p}" for p in pieces[1:]]
    chat.replies(*(r.replace("\n\n", " ") for r in replies))
    result = adapted(chat, library, text, language="en")
    later = chat.log()[1]["body"]["messages"][0]["content"]
    assert "Tomas, Ada, Ferryman" in later
    assert result.coverage.complete and not result.fallback_chunks


def test_a_chinese_chapter_gets_back_the_sentences_the_model_dropped(chat, library):
    text = (CHAPTER_PATH.parent / "chapter-zh.txt").read_text(encoding="utf-8")
    chat.replies("[ambience: 雨后的河边]\n**旁白:** 雨下了一整夜，到清晨才停。\n**老周:** 你来得太早了。潮水没转，谁也过不了河。\n"
                 "**阿梅 (whisper):** 我知道。我只是想在别人之前看看这条河。\n")
    result = adapted(chat, library, text)
    assert result.language == "zh" and result.speakers[:2] == ["老周", "阿梅"]
    passages = [t for _, t in result.restored]
    assert "老周提着灯笼从坡上走下来，" in passages  # only the narration: his quote is in the script
    dog = "远处有一扇门被风吹得砰砰作响，一只狗叫了两声，又安静下来。"
    assert dog in passages and passages.index(dog) < passages.index("有人敲门，船夫从驾驶舱里探出头来，眯着眼睛。")
    assert result.coverage.complete
    plan = parse_script(result.script, library)
    assert plan.utterances[0].speaker == "旁白" and plan.utterances[1].text.startswith("阿梅站在渡口")
