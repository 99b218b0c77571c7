"""Property tests: every spoken character reaches exactly one segment, in order."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.segmenter.core import SegmenterConfig, parse_script
from nodes.segmenter.text import split_spans

LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789"
CJK = "我们今天来聊播客音频离线工具声音的是了在"
PUNCT = ".,!?;:。，！？、；：…—"
WORDS = st.text(alphabet=LATIN + CJK, min_size=1, max_size=12)
PIECE = st.tuples(WORDS, st.sampled_from(["", "", " ", " ", ". ", ", ", "! ", "? ", "。", "，", "；", "… "]))
TEXT = st.lists(PIECE, min_size=1, max_size=40).map(lambda ps: "".join(w + p for w, p in ps).strip())

FRONT = "---\nvoices: {Alpha: en-joe, Beta: en-espeak-f, 丙: zh-espeak-m}\n---\n"
FORMS = ["**{n}:** {t}", "**{n}**: {t}", "{n}: {t}", "【{n}】{t}", "**【{n}】**{t}"]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=LATIN + CJK + PUNCT + "  \t", min_size=0, max_size=400),
       max_chars=st.integers(min_value=1, max_value=120), pack=st.booleans())
def test_split_spans_cover_the_text_in_order(text, max_chars, pack):
    spans = split_spans(text, max_chars, pack=pack)
    cursor = 0
    for start, end in spans:
        assert cursor <= start < end <= len(text)
        assert text[cursor:start].strip() == ""  # only whitespace is ever skipped
        assert end - start <= max_chars
        assert text[start:end] == text[start:end].strip()
        cursor = end
    assert text[cursor:].strip() == ""


@settings(max_examples=150, deadline=None)
@given(
    turns=st.lists(
        st.tuples(st.sampled_from(["Alpha", "Beta", "丙"]), st.sampled_from(FORMS),
                  st.lists(TEXT, min_size=1, max_size=3)),
        min_size=1, max_size=12,
    ),
    limit=st.integers(min_value=5, max_value=200),
)
def test_every_character_of_the_script_reaches_exactly_one_segment(library, turns, limit):
    lines: list[str] = []
    expected: list[tuple[str, str]] = []
    for name, form, paragraph_lines in turns:
        lines.append(form.format(n=name, t=paragraph_lines[0]))
        lines.extend(paragraph_lines[1:])
        lines.append("")
        expected.append((name, squash("".join(paragraph_lines))))
    plan = parse_script(FRONT + "\n".join(lines), library,
                        config=SegmenterConfig(max_chars={"default": limit, "zh": limit}))
    assert [(u.speaker, squash(u.text)) for u in plan.utterances] == [e for e in expected if e[1]]
    segments = plan.segments
    assert [s.seq for s in segments] == list(range(len(segments)))
    assert squash("".join(s.text for s in segments)) == squash("".join(t for _, t in expected))
    for u in plan.utterances:
        assert squash("".join(s.text for s in u.segments)) == squash(u.text)
        assert all(0 < len(s.text) <= limit for s in u.segments)
