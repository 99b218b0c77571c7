"""Facts about written text that more than one stage needs."""

from __future__ import annotations

# Scripts written without spaces between words (Han, kana, hangul, bopomofo) and their full-width
# punctuation: no space when joining lines, a line may break between any two, two display columns each.
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x2E80, 0x9FFF),  # radicals, CJK symbols and punctuation, kana, bopomofo, jamo, extension A, ideographs
    (0xAC00, 0xD7AF),  # hangul syllables
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF00, 0xFFEF),  # half/full-width forms (，！？：)
    (0x20000, 0x3134F),  # extensions B–G
)


def is_cjk(char: str) -> bool:
    """Whether ``char`` (one character; empty is False) belongs to ``CJK_RANGES``."""
    if not char:
        return False
    code = ord(char)
    return any(low <= code <= high for low, high in CJK_RANGES)
