"""Text helpers for the segmenter: inline Markdown reduction, CJK-aware joining, and splitting.

Splitting contract (``split_spans``): the returned spans cover the input in order; the text between
two consecutive spans, and before the first / after the last, is whitespace only. So every
non-whitespace character reaches exactly one segment.
"""

from __future__ import annotations

import re
import unicodedata

from nodes.common.text import is_cjk

SENTENCE_END = set("。！？!?…；;") | {"."}
CLAUSE_END = set("，,、：:—–") | {"\u2014"}
CJK_PUNCTUATION = set("。，、；：？！…）」』》】〉")
CLOSERS = set("\"'”’)]）】」』》")

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_CODE = re.compile(r"`([^`]*)`")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~>])")
_LIST_MARKER = re.compile(r"^\s*[-*+]\s+")  # numbers of ordered lists are spoken, bullets are not
_QUOTE_MARKER = re.compile(r"^\s*(?:>\s?)+")


def strip_inline_markdown(text: str) -> str:
    """Reduce inline Markdown to the words a listener should hear.

    Images become their alt text, links their label; emphasis, strike-through and code marks go;
    backslash escapes resolve; ``<br>`` becomes a space.
    """
    out = _IMAGE.sub(r"\1", text)
    out = _LINK.sub(r"\1", out)
    out = _AUTOLINK.sub(r"\1", out)
    out = _CODE.sub(r"\1", out)
    for _ in range(3):  # nested emphasis such as ***x*** or **_x_**
        out = _BOLD.sub(r"\2", out)
        out = _ITALIC_STAR.sub(r"\1", out)
        out = _ITALIC_UNDERSCORE.sub(r"\1", out)
        out = _STRIKE.sub(r"\1", out)
    out = _HTML_BREAK.sub(" ", out)
    return _ESCAPE.sub(r"\1", out)


def strip_block_markers(line: str) -> str:
    """Drop a leading list bullet or blockquote marker."""
    return _LIST_MARKER.sub("", _QUOTE_MARKER.sub("", line), count=1)


def join_lines(left: str, right: str) -> str:
    """Join two lines of one paragraph: no space between CJK characters, one space otherwise."""
    left, right = left.rstrip(), right.lstrip()
    if not left:
        return right
    if not right:
        return left
    if (is_cjk(left[-1]) and is_cjk(right[0])) or left[-1] in CJK_PUNCTUATION or right[0] in CJK_PUNCTUATION:
        return left + right
    return f"{left} {right}"


def normalize_whitespace(text: str) -> str:
    return re.sub(r"[ \t\u00a0\u3000]+", " ", text).strip()


def is_speakable(text: str) -> bool:
    """True when ``text`` has a letter or digit (pure punctuation gives a TTS nothing to say)."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def _is_sentence_end(text: str, i: int) -> bool:
    """Whether ``text[i]`` ends a sentence. A '.' must be followed by whitespace/end/closer/CJK."""
    ch = text[i]
    if ch not in SENTENCE_END:
        return False
    if ch == ".":
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if nxt and not (nxt.isspace() or nxt in CLOSERS or is_cjk(nxt)):
            return False  # 3.5, e.g., U.S.A
    return True


def _cut_after(text: str, i: int, limit: int) -> int:
    """Index just after the mark at ``i`` and any closing quotes/brackets, not beyond ``limit``."""
    j = i + 1
    while j < limit and (text[j] in CLOSERS or text[j] in SENTENCE_END):
        j += 1
    return j


def _last_cut(text: str, start: int, end: int, predicate) -> int | None:
    """The last cut position in (start, end] after a character accepted by ``predicate``."""
    for i in range(end - 1, start, -1):
        if predicate(text, i):
            return _cut_after(text, i, end)
    return None


def _skip_space(text: str, i: int, end: int) -> int:
    while i < end and text[i].isspace():
        i += 1
    return i


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split at sentence ends; each span is trimmed of surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    i = 0
    while i < len(text):
        if _is_sentence_end(text, i):
            cut = _cut_after(text, i, len(text))
            s, e = _trim(text, start, cut)
            if s < e:
                spans.append((s, e))
            start = i = cut
            continue
        i += 1
    s, e = _trim(text, start, len(text))
    if s < e:
        spans.append((s, e))
    return spans


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut one over-long span by clause marks, then whitespace, then a hard cut."""
    out: list[tuple[int, int]] = []
    while end - start > max_chars:
        limit = start + max_chars
        cut = _last_cut(text, start, limit, lambda t, i: t[i] in CLAUSE_END)
        if cut is None:
            cut = next((i for i in range(limit, start, -1) if text[i - 1].isspace() or text[i].isspace()), None)
        if cut is None or cut <= start:
            cut = limit  # no mark, no space: a hard cut
        s, e = _trim(text, start, cut)
        if s < e:
            out.append((s, e))
        start = _skip_space(text, cut, end)
    if start < end:
        out.append(_trim(text, start, end))
    return out


def split_spans(text: str, max_chars: int, *, pack: bool = True) -> list[tuple[int, int]]:
    """Segment spans of ``text``, each at most ``max_chars`` long.

    Sentence ends first, then clause punctuation, then whitespace, then a hard cut. With ``pack``,
    consecutive pieces are merged while they fit, so a short utterance stays one request.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be >= 1")
    pieces: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        pieces.extend(_split_long(text, s, e, max_chars) if e - s > max_chars else [(s, e)])
    if not pack:
        return pieces
    merged: list[tuple[int, int]] = []
    for s, e in pieces:
        if merged and e - merged[-1][0] <= max_chars:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged
