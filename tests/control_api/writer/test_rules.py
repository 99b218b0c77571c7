"""The offline adapter: prose to a drama script by rules (control_api/writer/rules.py, attribution.py,
completeness.py). Every adapted script is parsed by dramaflow's own parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_api.writer.attribution import tag_after, tag_before
from control_api.writer.completeness import coverage
from control_api.writer.rules import adapt
from nodes.segmenter.core import parse_script

ROOT = Path(__file__).resolve().parents[3]


def lines_of(library, script: str) -> list[tuple[str, str, str | None]]:
    plan = parse_script(script, library)  # raises on anything the renderer would refuse
    return [(u.speaker, u.text, u.emotion) for u in plan.utterances]


@pytest.mark.parametrize(("after", "chinese", "speaker", "emotion"), [
    (" said Mara. And then", False, "Mara", None),
    (", Mara said quietly.", False, "Mara", None),
    (" whispered Old Tom.", False, "Old Tom", "whisper"),
    (" she whispered.", False, None, "whisper"),
    (" The rain fell.", False, "-", None),
    ("小林问道。", True, "小林", None),
    ("老渔夫慢慢地说。", True, "老渔夫", None),
    ("她道。", True, None, None),
    ("老周笑道：", True, "老周", "happy"),
    ("门开了。", True, "-", None),
])
def test_speech_tags_after_a_quote(after, chinese, speaker, emotion):
    tag = tag_after(after, chinese)
    if speaker == "-":
        assert tag is None
    else:
        assert tag is not None and (tag.speaker, tag.emotion) == (speaker, emotion)


@pytest.mark.parametrize(("before", "chinese", "speaker", "emotion"), [
    ("The door opened. Mara said, ", False, "Mara", None),
    ("Wren shouted: ", False, "Wren", "angry"),
    ("He said, ", False, None, None),
    ("老渔夫慢慢地说：", True, "老渔夫", None),
    ("他说道：", True, None, None),
    ("阿梅低声道：", True, "阿梅", "whisper"),
])
def test_speech_tags_before_a_quote(before, chinese, speaker, emotion):
    tag = tag_before(before, chinese)
    assert tag is not None and (tag.speaker, tag.emotion) == (speaker, emotion)
    assert before[tag.end:].strip() == ""


def test_the_english_example_attributes_every_named_line_and_loses_no_text(library):
    adapted = adapt((ROOT / "scripts" / "chapter-en.txt").read_text(encoding="utf-8"))
    lines = lines_of(library, adapted.script)
    said = {text: (speaker, emotion) for speaker, text, emotion in lines}
    assert said["You're early."] == ("Tomas", None)  # “…,” said Tomas
    assert said["I know."] == ("Ada", None)  # “…,” Ada said quietly
    assert said["Most of them true, as it turned out."] == ("Tomas", None)  # Tomas laughed. “…”
    assert said["Just one."] == ("Ada", "whisper")  # she whispered, in a paragraph about Ada
    assert said["He said a lot of things."] == ("Ada", None)  # unattributed: the other of the last two
    assert adapted.speakers == ["Tomas", "Ada"] and adapted.tags_removed == 4
    assert adapted.coverage.share == 1.0 and adapted.coverage.missing == ()
    assert "[ambience: a slow river, water lapping at wooden posts]" in adapted.script
    assert "[sfx: three knocks on a wooden door]" in adapted.script
    assert lines[0][0] == "Narrator" and "said Tomas" not in adapted.script


def test_the_chinese_example_attributes_every_named_line_and_loses_no_text(library):
    adapted = adapt((ROOT / "scripts" / "chapter-zh.txt").read_text(encoding="utf-8"))
    assert adapted.language == "zh"
    said = {text: (speaker, emotion) for speaker, text, emotion in lines_of(library, adapted.script)}
    assert said["你来得太早了。"] == ("老周", None)  # 老周提着灯笼…: the character the paragraph names
    assert said["我知道。我只是想在别人之前看看这条河。"] == ("阿梅", "whisper")  # 阿梅轻声说：
    assert said["后来看，大多都是真的。"] == ("老周", "happy")  # 老周笑道：
    assert said["两个人过河？"] == ("船夫", None)  # “…”船夫问道
    assert said["一个人。他留下。"] == ("阿梅", "whisper")  # 她低声道, in a paragraph about 阿梅
    assert adapted.speakers == ["老周", "阿梅", "船夫"] and adapted.coverage.complete


def test_unattributed_quotes_alternate_between_the_last_two_speakers(library):
    text = '"Hello," said Ann.\n\n"Hi," said Bo.\n\n"How are you?"\n\n"Fine."\n\n"Good."\n'
    said = [(speaker, text) for speaker, text, _ in lines_of(library, adapt(text).script)]
    assert said == [("Ann", "Hello."), ("Bo", "Hi."), ("Ann", "How are you?"), ("Bo", "Fine."), ("Ann", "Good.")]


def test_prose_that_looks_like_script_syntax_stays_text(library):
    text = ("The sign said [pause: 3] in red. <!-- not a comment --> A | b=c\n\n"
            "**Bold** words and a heading-like line:\n\n# Chapter One\n\n## Part Two\n\n[sfx: nothing]\n")
    adapted = adapt(text)
    spoken = " ".join(t for _, t, _ in lines_of(library, adapted.script))
    assert "not a comment" in spoken and "(sfx: nothing)" in spoken and "(pause: 3)" in spoken
    assert adapted.coverage.complete
    assert "## Part Two" in adapted.script


def test_completeness_names_the_passages_a_script_left_out():
    source = "The tide came in. The boat rocked against the pier. Nobody spoke for a long time."
    found = coverage(source, "The tide came in. Nobody spoke for a long time.")
    assert found.missing == ("The boat rocked against the pier.",)
    assert 0.5 < found.share < 0.95 and not found.complete
    assert coverage(source, source.upper()).complete
