"""Drafts written by a model (the fake chat server): checked by dramaflow's parser, repaired once with
the problems by line, returned with them when they stay; the context kept within its budget."""

from __future__ import annotations

import asyncio

from control_api.writer.author import MAX_MESSAGES, Brief, context, system_prompt, write
from control_api.writer.drafts import check_draft, extract_script
from control_api.writer.llm import ChatClient, LLMConfig

BRIEF = Brief(topic="why the tide turns", style="interview", target_duration_s=30,
              speakers=({"name": "Host", "voice": "en-joe", "persona": "curious"},
                        {"name": "Guest", "voice": "en-espeak-f", "persona": "an oceanographer"}))
GOOD = ("---\ntitle: Tides\nvoices: {Host: en-joe, Guest: en-espeak-f}\n---\n"
        "**Host:** Welcome back. Today we ask a simple question with a long answer: why does the tide turn twice a day?\n"
        "**Guest:** Because the moon pulls the water toward it, and the earth turns underneath that bulge of sea.\n"
        "**Host:** So there are two bulges, one on each side?\n"
        "**Guest:** Exactly. The far side is left behind as the earth is pulled, so the oceans stretch both ways.\n")
BROKEN = GOOD.replace("**Guest:** Exactly.", "**Gust:** Exactly.")




def drafted(fake, library, request: str, **kw):
    async def go():
        client = ChatClient(LLMConfig.from_env(fake.env()))
        try:
            return await write(client, library, BRIEF, request, **kw)
        finally:
            await client.close()
    return asyncio.run(go())


def test_a_good_draft_passes_at_once(chat, library):
    chat.replies(f"Here is your script:\n\n```markdown\n{GOOD}```\n")
    result = drafted(chat, library, "Write it.")
    assert result.check.ok and not result.repaired and len(result.replies) == 1
    assert result.check.script == GOOD and result.check.words["Guest"] > 20
    assert result.tokens == result.replies[0].total_tokens > 0


def test_a_wrong_tag_is_repaired_by_a_second_call_quoting_the_line(chat, library):
    chat.replies(BROKEN, GOOD)
    result = drafted(chat, library, "Write it.")
    assert result.check.ok and result.repaired and len(result.replies) == 2
    repair = chat.log()[1]["body"]["messages"]
    assert repair[-2] == {"role": "assistant", "content": BROKEN}
    assert "line 8: unknown speaker 'Gust'" in repair[-1]["content"] and "did you mean 'Guest'" in repair[-1]["content"]


def test_a_draft_that_stays_broken_comes_back_with_its_problems(chat, library):
    chat.replies(BROKEN, BROKEN)
    result = drafted(chat, library, "Write it.")
    assert not result.check.ok and len(result.replies) == 2
    assert [(p.line, p.message) for p in result.check.problems] == [(8, "unknown speaker 'Gust'")]


def test_podcast_checks_two_speakers_shares_and_length(library):
    lonely = "---\nvoices: {Host: en-joe}\n---\n" + "**Host:** A long monologue about the sea and the moon.\n" * 8
    assert "at least two speakers" in str(check_draft(lonely, library, style="casual").problems[0])
    quiet = GOOD.replace("Because the moon pulls the water toward it, and the earth turns underneath that bulge of sea.",
                         "Yes.").replace("Exactly. The far side is left behind as the earth is pulled, so the oceans "
                                         "stretch both ways.", "Right.")
    assert any("Guest says" in p.message and p.line == 6 for p in check_draft(quiet, library, style="debate").problems)
    assert check_draft(GOOD, library, style="drama").ok  # no podcast rules for a drama
    long_target = check_draft(GOOD, library, style="interview", target_duration_s=600).problems
    assert [p.hint for p in long_target] == ["lengthen it"]


def test_the_context_keeps_the_draft_whole_and_the_latest_messages_that_fit(library):
    system = system_prompt(BRIEF, library)
    assert "why the tide turns" in system and "en-espeak-f" in system and "[sfx:" in system
    history = [{"role": "user" if i % 2 else "assistant", "content": f"message {i} " + "x" * 1200} for i in range(30)]
    draft = "**Host:** " + "word " * 4000  # about 5,000 tokens: never cut
    messages = context(system, draft, history, "Make it shorter.", token_budget=8000)
    assert messages[1]["content"].endswith(draft) and messages[-1]["content"] == "Make it shorter."
    kept = messages[2:-1]
    assert 0 < len(kept) < MAX_MESSAGES and kept[-1]["content"].startswith("message 29")  # the newest kept
    assert sum(len(m["content"]) for m in messages) // 4 <= 8000 + 10
    assert len(context(system, None, history, "Go on.", token_budget=10**6)) == 2 + MAX_MESSAGES


def test_a_topic_with_template_syntax_stays_text(library):
    brief = Brief(topic="$voices and ${topic} {0}", style="casual")
    assert "$voices and ${topic} {0}" in system_prompt(brief, library)


def test_extract_script_leaves_a_plain_script_alone():
    assert extract_script(GOOD) == GOOD
    assert extract_script("Sure! Here it is.\n" + GOOD) == GOOD
