"""Prompt matching: which scenes a bed prompt layers (with the gain, intensity and low-pass its
adjectives imply) and which one-shot a sound-effect prompt picks.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from nodes.ambience.backends.procedural.catalogue import (
    _ONE_SHOT_BY_NAME,
    _ONE_SHOTS,
    _SCENE_BY_NAME,
    _SCENES,
    _OneShot,
    _Scene,
)

MAX_LAYERS = 3
LAYER_OFFSETS_DB = (0.0, -2.0, -4.0)  # later layers sit a little under the first one
LOUDER_GAIN_DB, LOUDER_INTENSITY = 4.0, 1.5
SOFTER_GAIN_DB, SOFTER_INTENSITY = -4.0, 0.65
DISTANT_GAIN_DB, DISTANT_LOWPASS_HZ = -4.0, 1200.0


_LOUDER = (
    "heavy",
    "loud",
    "storm",
    "stormy",
    "strong",
    "intense",
    "pouring",
    "torrential",
    "busy",
    "raging",
    "roaring",
    "wild",
    "大",
    "暴",
    "猛",
    "强",
    "倾盆",
)
_SOFTER = (
    "light",
    "gentle",
    "soft",
    "quiet",
    "faint",
    "calm",
    "soothing",
    "mild",
    "little",
    "小",
    "轻",
    "微",
    "细",
    "静",
)
_DISTANT = (
    "distant",
    "far",
    "far away",
    "far-off",
    "faraway",
    "in the distance",
    "remote",
    "muffled",
    "远",
    "遥远",
    "远处",
)
_CLAUSE_BREAK = re.compile(
    r"[,;.!?:，。；！？、：/()（）]|\b(?:and|with|plus|over|under|behind|while)\b|和|与|加上|还有|伴随|夹杂|伴着|混着"
)
_LATIN = "a-z0-9à-öø-ÿ"


@functools.lru_cache(maxsize=512)
def _pattern(keyword: str) -> re.Pattern[str]:
    """Latin keywords match whole words ("car" not in "scary"); CJK keywords match anywhere."""
    escaped = re.escape(keyword.lower())
    if re.match(f"[{_LATIN}]", keyword.lower()):
        return re.compile(f"(?<![{_LATIN}]){escaped}(?![{_LATIN}])")
    return re.compile(escaped)


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    name: str
    generic: bool = False


def _hits(text: str, entries: list[tuple[str, str, bool]]) -> list[_Hit]:
    """Every keyword occurrence; where occurrences overlap, the longest wins ("火车" is a train, not fire)."""
    found = [
        _Hit(m.start(), m.end(), name, generic)
        for name, keyword, generic in entries
        for m in _pattern(keyword).finditer(text)
    ]
    found.sort(key=lambda h: (-(h.end - h.start), h.start))
    kept: list[_Hit] = []
    for hit in found:
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def _has_any(text: str, words: tuple[str, ...]) -> bool:
    return any(_pattern(w).search(text) for w in words)


@dataclass(frozen=True)
class _Layer:
    scene: _Scene
    gain_db: float = 0.0
    intensity: float = 1.0
    lowpass_hz: float | None = None


def _shape(text: str) -> tuple[float, float, float | None]:
    """(gain_db, intensity, lowpass_hz) implied by the adjectives in ``text``."""
    gain_db, intensity, lowpass_hz = 0.0, 1.0, None
    if _has_any(text, _LOUDER):
        gain_db, intensity = gain_db + LOUDER_GAIN_DB, intensity * LOUDER_INTENSITY
    if _has_any(text, _SOFTER):
        gain_db, intensity = gain_db + SOFTER_GAIN_DB, intensity * SOFTER_INTENSITY
    if _has_any(text, _DISTANT):
        gain_db, lowpass_hz = gain_db + DISTANT_GAIN_DB, DISTANT_LOWPASS_HZ
    return gain_db, intensity, lowpass_hz


def _clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the clauses of ``text``, split at punctuation and words like "with"."""
    cuts = [0] + [p for m in _CLAUSE_BREAK.finditer(text) for p in (m.start(), m.end())] + [len(text)]
    return [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=True) if b > a]


def _plan_bed(prompt: str) -> list[_Layer]:
    """The scenes a bed prompt asks for (≤ ``MAX_LAYERS``, in prompt order), each shaped by the
    adjectives of its own clause, or of clauses that name no scene."""
    text = prompt.lower()
    entries = [(s.name, kw, False) for s in _SCENES for kw in s.keywords]
    hits = _hits(text, entries)
    firsts: dict[str, _Hit] = {}
    for hit in hits:
        firsts.setdefault(hit.name, hit)
    clauses = _clauses(text)
    sceneless = " ".join(text[a:b] for a, b in clauses if not any(a <= h.start < b for h in hits))
    layers = []
    for index, hit in enumerate(list(firsts.values())[:MAX_LAYERS]):
        a, b = next(((a, b) for a, b in clauses if a <= hit.start < b), (0, len(text)))
        gain_db, intensity, lowpass_hz = _shape(text[a:b] + " " + sceneless)
        offset = LAYER_OFFSETS_DB[min(index, len(LAYER_OFFSETS_DB) - 1)]
        layers.append(
            _Layer(
                _SCENE_BY_NAME[hit.name], gain_db + offset, float(np.clip(intensity, 0.3, 2.5)), lowpass_hz
            )
        )
    return layers


def _pick_sfx(prompt: str) -> _OneShot | None:
    """The one-shot a prompt asks for: the first specific keyword, else the first generic one."""
    text = prompt.lower()
    entries = [(o.name, kw, False) for o in _ONE_SHOTS for kw in o.keywords]
    entries += [(o.name, kw, True) for o in _ONE_SHOTS for kw in o.generic]
    hits = _hits(text, entries)
    specific = [h for h in hits if not h.generic]
    chosen = (specific or hits or [None])[0]
    return None if chosen is None else _ONE_SHOT_BY_NAME[chosen.name]
