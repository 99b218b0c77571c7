"""Subtitles: each placed segment's text wrapped into lines (CJK-aware, measured in display columns) and
timed cues (``subtitle_cues``), written as SubRip (``to_srt``, with ``Name: `` on a change of speaker)
or WebVTT (``to_vtt``, with ``<v Name>`` voice tags). Pure: no files are written here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from nodes.common.text import is_cjk
from nodes.common.types import Timeline

MAX_CHARS_PER_LINE = 42
MAX_LINES = 2
MIN_CUE_MS = 1  # cues squeezed by overlapping segments still last at least this long

# Punctuation that must not start a line (it sticks to what precedes) or end one (sticks to what follows).
_NO_LINE_START = set("，。！？、；：）」』】》〉’”…,.!?;:)]}%")
_NO_LINE_END = set("（「『【《〈‘“([{")


@dataclass(frozen=True)
class SubtitleCue:
    """One subtitle. ``text`` holds the display lines joined by ``\\n``, already wrapped."""

    start_s: float
    end_s: float
    text: str
    speaker: str


def subtitle_cues(
    timeline: Timeline, max_chars_per_line: int = MAX_CHARS_PER_LINE, max_lines: int = MAX_LINES
) -> list[SubtitleCue]:
    """Cues for every placed segment, in time order.

    - A segment's text is wrapped at word boundaries (between any two characters in CJK text) into
      lines of at most ``max_chars_per_line`` characters, and every ``max_lines`` lines make a cue;
      the segment's time span is shared among its cues in proportion to their text length.
    - The first line of a cue whose speaker differs from the previous cue's leaves room for the
      ``Name: `` prefix that ``to_srt`` adds there, so the SRT lines stay within the limit too.
    - Times are whole milliseconds; ``start_s < end_s`` and each start is >= the previous end
      (segments that overlap are pushed later).
    - Every non-whitespace character of every segment appears in exactly one cue, in order.
    """
    if max_chars_per_line < 1 or max_lines < 1:
        raise ValueError("max_chars_per_line and max_lines must be >= 1")
    cues: list[SubtitleCue] = []
    previous_end_ms = 0
    previous_speaker: str | None = None
    for start_s, end_s, text, speaker in _timed_texts(timeline):
        prefix = _speaker_prefix(speaker, max_chars_per_line) if speaker != previous_speaker else ""
        lines = _wrap(_tokens(text), max_chars_per_line - display_width(prefix), max_chars_per_line)
        if not lines:
            continue
        pieces = ["\n".join(lines[i : i + max_lines]) for i in range(0, len(lines), max_lines)]
        start_ms = max(_to_ms(start_s), previous_end_ms)
        end_ms = max(_to_ms(end_s), start_ms + MIN_CUE_MS * len(pieces))
        bounds = _split_span(start_ms, end_ms, [len(p) for p in pieces])
        for piece, (a, b) in zip(pieces, pairwise(bounds), strict=True):
            cues.append(SubtitleCue(start_s=a / 1000.0, end_s=b / 1000.0, text=piece, speaker=speaker))
        previous_end_ms, previous_speaker = end_ms, speaker
    return cues


def to_srt(cues: Sequence[SubtitleCue], *, max_chars_per_line: int = MAX_CHARS_PER_LINE) -> str:
    """SubRip text: 1-based index, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, the cue's lines.

    ``Name: `` (shortened to fit half a line) starts the first line whenever the speaker changes;
    cues from ``subtitle_cues`` left room for it, given the same ``max_chars_per_line``.
    """
    blocks = []
    previous_speaker: str | None = None
    for number, cue in enumerate(cues, start=1):
        text = cue.text
        if cue.speaker != previous_speaker:
            text = _speaker_prefix(cue.speaker, max_chars_per_line) + text
        previous_speaker = cue.speaker
        timing = f"{_timestamp(cue.start_s, ',')} --> {_timestamp(cue.end_s, ',')}"
        blocks.append(f"{number}\n{timing}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(cues: Sequence[SubtitleCue]) -> str:
    """WebVTT text: ``WEBVTT`` header, ``HH:MM:SS.mmm`` times, the speaker as a ``<v Name>`` voice tag.

    ``&``, ``<`` and ``>`` in the text and the speaker name are escaped as character references.
    """
    blocks = ["WEBVTT\n"]
    for cue in cues:
        timing = f"{_timestamp(cue.start_s, '.')} --> {_timestamp(cue.end_s, '.')}"
        voice = f"<v {_vtt_escape(cue.speaker)}>" if cue.speaker else ""
        blocks.append(f"{timing}\n{voice}{_vtt_escape(cue.text)}\n")
    return "\n".join(blocks)


@dataclass(frozen=True)
class _Token:
    text: str
    space_before: bool


def _timed_texts(timeline: Timeline) -> list[tuple[float, float, str, str]]:
    """(start_s, end_s, text, speaker) per segment (per utterance if it has none), by start time."""
    items = []
    for utterance in timeline.utterances:
        spans = utterance.segments or (utterance,)
        items.extend((s.start_s, s.end_s, s.text, utterance.speaker) for s in spans)
    return sorted(items, key=lambda item: item[0])


def _tokens(text: str) -> list[_Token]:
    """Unbreakable units of ``text``: words, single CJK characters, punctuation glued to neighbours."""
    raw: list[_Token] = []
    for match in re.finditer(r"\S+", text):
        spaced = True
        for run in _runs(match.group()):
            raw.append(_Token(run, spaced))
            spaced = False
    tokens: list[_Token] = []
    glue_next = False
    for token in raw:
        attach = tokens and not token.space_before and (glue_next or token.text[0] in _NO_LINE_START)
        if attach:
            tokens[-1] = _Token(tokens[-1].text + token.text, tokens[-1].space_before)
        else:
            tokens.append(token)
        glue_next = token.text[-1] in _NO_LINE_END
    return tokens


def _runs(word: str) -> list[str]:
    """Split a space-free word into runs: each CJK character alone, other characters grouped."""
    runs: list[str] = []
    for char in word:
        if is_cjk(char) or not runs or is_cjk(runs[-1][-1]):
            runs.append(char)
        else:
            runs[-1] += char
    return runs


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: CJK characters are double width."""
    return sum(2 if is_cjk(c) else 1 for c in text)


def _cut_to_width(text: str, width: int) -> int:
    """How many leading characters of ``text`` fit in ``width`` columns (at least one)."""
    used = 0
    for i, char in enumerate(text):
        used += display_width(char)
        if used > width:
            return max(1, i)
    return len(text)


def _wrap(tokens: list[_Token], first_width: int, width: int) -> list[str]:
    """Greedy line filling in display columns; the first line holds ``first_width``, the others ``width``.

    A token wider than a whole line is cut between characters.
    """
    lines: list[str] = []
    current = ""
    for token in tokens:
        text, space = token.text, token.space_before
        while text:
            capacity = max(1, first_width if not lines else width)
            piece = (" " if space and current else "") + text
            if display_width(current) + display_width(piece) <= capacity:
                current += piece
                break
            if current:
                lines.append(current)
                current = ""
                continue
            cut = _cut_to_width(text, capacity)
            lines.append(text[:cut])
            text, space = text[cut:], False
    if current:
        lines.append(current)
    return lines


def _split_span(start_ms: int, end_ms: int, weights: list[int]) -> list[int]:
    """``len(weights) + 1`` strictly increasing boundaries from start to end, spaced by weight."""
    total = sum(weights) or 1
    count = len(weights)
    bounds = [start_ms]
    cumulative = 0
    for i, weight in enumerate(weights[:-1], start=1):
        cumulative += weight
        ideal = start_ms + round((end_ms - start_ms) * cumulative / total)
        bounds.append(min(max(ideal, bounds[-1] + MIN_CUE_MS), end_ms - MIN_CUE_MS * (count - i)))
    bounds.append(end_ms)
    return bounds


def _speaker_prefix(speaker: str, max_chars_per_line: int) -> str:
    """``"Name: "``, with the name cut (and ``…`` added) so the prefix takes at most half a line."""
    if not speaker:
        return ""
    room = max_chars_per_line // 2 - 2  # ": " takes two
    if room < 1:
        return ""
    name = speaker if display_width(speaker) <= room else speaker[: _cut_to_width(speaker, room - 1)] + "…"
    return f"{name}: " if name != "…" else ""


def _to_ms(seconds: float) -> int:
    return max(0, int(round(seconds * 1000.0)))


def _timestamp(seconds: float, separator: str) -> str:
    ms = _to_ms(seconds)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
