"""The script body, line by line: paragraphs (a speaker's text, continued over lines), headings (title
and chapters), cue lines and rules, collected as events in a ``_State``; inline ``[pause: s]`` travels
inside paragraph text as a marker that ``_split_pauses`` turns into (offset, seconds)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nodes.common.errors import ScriptError
from nodes.common.types import Chapter
from nodes.common.voices import VoiceLibrary
from nodes.segmenter.cues import MAX_PAUSE_S, _number, parse_cue
from nodes.segmenter.speakers import _line_params, _match_speaker
from nodes.segmenter.text import (
    is_speakable,
    join_lines,
    normalize_whitespace,
    strip_block_markers,
    strip_inline_markdown,
)

# An inline ``[pause: s]`` travels inside paragraph text as PAUSE_OPEN seconds@line PAUSE_CLOSE.
PAUSE_OPEN, PAUSE_CLOSE = "\ue000", "\ue001"
_INLINE_PAUSE = re.compile(r"\[\s*pause\s*:\s*([^\]]*)\]", re.IGNORECASE)
_PAUSE_MARK = re.compile(PAUSE_OPEN + r"([^@]*)@(\d+)" + PAUSE_CLOSE)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BRACKET_LINE = re.compile(r"^\[(.*)\]\s*$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")


@dataclass
class _Paragraph:
    speaker: str
    emotion: str | None
    line: int
    text: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    explicit: bool = True  # started by a speaker tag (vs. narrator / continued speaker)


@dataclass
class _State:
    events: list[tuple[str, Any]] = field(default_factory=list)  # ("utterance", _Paragraph) | ("cue", Cue) | ("chapter", Chapter)
    paragraph: _Paragraph | None = None
    awaiting_text: _Paragraph | None = None  # a speaker tag whose text starts on a later line
    last_speaker: str | None = None
    title: str | None = None
    content_seen: bool = False
    front_title: Any = None


# --- body -------------------------------------------------------------------------------------


def _parse_body(
    lines: list[str], body_start: int, declared: Mapping[str, Any], library: VoiceLibrary,
    narrator: str | None, state: _State,
) -> None:
    for index in range(body_start, len(lines)):
        number = index + 1
        raw = lines[index]
        if raw == "\0":  # a comment-only line: invisible, does not break the paragraph
            continue
        line = raw.strip()
        if not line or _RULE.match(line):
            _end_paragraph(state)
            continue
        heading = _HEADING.match(line)
        if heading:
            _heading(state, number, len(heading.group(1)), heading.group(2))
            continue
        bracket = _BRACKET_LINE.match(line)
        if bracket and not re.match(r"^\[[^\]]*\]\(", line):
            _cue(state, number, bracket.group(1))
            continue
        speaker = _match_speaker(line, number, declared, library)
        if speaker is not None:
            _start_paragraph(state, number, *speaker)
            continue
        _text_line(state, number, line, narrator)
    _end_paragraph(state)
    if state.awaiting_text is not None:
        p = state.awaiting_text
        raise ScriptError(f"speaker line for {p.speaker} has no text", p.line,
                          f"write the line after the name, e.g. '{p.speaker}: Hello'")


def _heading(state: _State, number: int, level: int, title: str) -> None:
    _end_paragraph(state)
    _no_dangling_speaker(state)
    title = normalize_whitespace(strip_inline_markdown(title))
    if not title:
        raise ScriptError("heading has no title", number, "write a title after the '#'")
    if not state.content_seen and level == 1 and state.title is None and not state.front_title:
        state.title = title
        state.events.append(("title", number))
        return
    state.events.append(("chapter", Chapter(index=-1, title=title, line=number, level=level)))
    state.last_speaker = None


def _cue(state: _State, number: int, inner: str) -> None:
    _end_paragraph(state)
    _no_dangling_speaker(state)
    state.events.append(("cue", parse_cue(inner, number)))


def _start_paragraph(state: _State, number: int, speaker: str, emotion: str | None, rest: str, explicit: bool) -> None:
    _end_paragraph(state)
    _no_dangling_speaker(state)
    paragraph = _Paragraph(speaker=speaker, emotion=emotion, line=number, explicit=explicit)
    text, params = _line_params(rest, number)
    paragraph.params = params
    state.last_speaker = speaker
    if text.strip():
        paragraph.text = _clean(text, number)
        state.paragraph = paragraph
    else:
        state.awaiting_text = paragraph  # MoFA style: 【大牛】 alone, the text on the next lines


def _text_line(state: _State, number: int, line: str, narrator: str | None) -> None:
    text = strip_block_markers(line)
    if state.paragraph is not None:
        state.paragraph.text = join_lines(state.paragraph.text, _clean(text, number))
        return
    if state.awaiting_text is not None:
        paragraph, state.awaiting_text = state.awaiting_text, None
        paragraph.text = _clean(text, number)
        state.paragraph = paragraph
        return
    speaker = narrator or state.last_speaker
    if speaker is None:
        raise ScriptError("text has no speaker", number,
                          "start the line with a speaker ('Name: text' or '【Name】text'), "
                          "or set 'narrator: Name' in the front matter")
    state.paragraph = _Paragraph(speaker=speaker, emotion=None, line=number, text=_clean(text, number),
                                 explicit=False)


def _clean(text: str, number: int) -> str:
    """Inline Markdown reduced to words; inline ``[pause: s]`` kept as a marker (see ``_split_pauses``)."""

    def mark(m: re.Match[str]) -> str:
        seconds = _number(m.group(1), number, "pause length")
        if not 0 < seconds <= MAX_PAUSE_S:
            raise ScriptError(f"pause of {m.group(1).strip()} s is out of range", number,
                              f"use a number of seconds above 0 and at most {MAX_PAUSE_S:g}, e.g. [pause: 0.8]")
        return f" {PAUSE_OPEN}{seconds!r}@{number}{PAUSE_CLOSE} "

    return normalize_whitespace(strip_inline_markdown(_INLINE_PAUSE.sub(mark, text)))


def _split_pauses(text: str, line: int) -> tuple[str, list[tuple[int, float]]]:
    """Paragraph text without pause markers, and the pauses as (offset into that text, seconds).

    A pause must sit between words; pauses with nothing speakable between them add up."""
    pieces = _PAUSE_MARK.split(text)  # text, seconds, line, text, seconds, line, ..., text
    clean = pieces[0].strip()
    pauses: list[tuple[int, float]] = []
    for k in range(1, len(pieces), 3):
        seconds, where, after = float(pieces[k]), int(pieces[k + 1]), pieces[k + 2].strip()
        if not is_speakable(clean):
            raise ScriptError("an inline [pause] must sit between words; nothing is said before this one",
                              where, "to pause before the line, put [pause: s] on its own line above it")
        if pauses and pauses[-1][0] == len(clean):
            seconds += pauses.pop()[1]
            if seconds > MAX_PAUSE_S:
                raise ScriptError(f"pauses in a row add up to {seconds:g} s", where,
                                  f"keep a pause at most {MAX_PAUSE_S:g} s")
        pauses.append((len(clean), seconds))
        clean = join_lines(clean, after)
    if pauses and not is_speakable(clean[pauses[-1][0]:]):
        raise ScriptError("an inline [pause] must sit between words; nothing is said after this one",
                          line, "to pause after the line, put [pause: s] on its own line below it")
    return clean, pauses


def _end_paragraph(state: _State) -> None:
    paragraph, state.paragraph = state.paragraph, None
    if paragraph is None:
        return
    if not is_speakable(_PAUSE_MARK.sub(" ", paragraph.text)):
        raise ScriptError(f"nothing to say in {_PAUSE_MARK.sub(' ', paragraph.text).strip()!r}", paragraph.line,
                          "give the line some words, or remove it")
    state.events.append(("utterance", paragraph))
    state.content_seen = True


def _no_dangling_speaker(state: _State) -> None:
    if state.awaiting_text is not None:
        p = state.awaiting_text
        raise ScriptError(f"speaker line for {p.speaker} has no text", p.line,
                          f"write the line after the name, e.g. '{p.speaker}: Hello'")
    state.content_seen = state.content_seen or bool(state.events)
