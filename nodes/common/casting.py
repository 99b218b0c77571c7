"""Casting: the tags a voice carries (gender, age range, accent, style) and choosing a voice for a speaker
who is described rather than named (``Mara: {gender: female, age: old}``).

Rules, in order:

1. a voice fits when its language is the script's and every given tag agrees: the same gender, an age
   range that overlaps the asked one, an accent that contains the asked words (``british`` fits
   ``British RP``);
2. voices another speaker of the script already has are not offered;
3. among those that fit, the most asked style tags win, then voices whose provider works in this run
   (not a paid one without its key), then neural engines over espeak, then voices.yaml order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

AGE_WORDS: dict[str, tuple[int, int]] = {
    "child": (5, 12),
    "teen": (13, 19),
    "young": (18, 32),
    "adult": (28, 55),
    "middle-aged": (40, 62),
    "old": (60, 95),
    "elderly": (70, 95),
}
GENDERS: tuple[str, ...] = ("female", "male", "neutral")
CASTING_KEYS: tuple[str, ...] = ("gender", "age", "accent", "style")
ROBOTIC_PROVIDERS = frozenset({"espeak"})


def parse_age(value: Any) -> tuple[int, int]:
    """``old`` / ``[60, 80]`` / ``"60-80"`` / ``45`` → an inclusive range of years. Raises ValueError."""
    if isinstance(value, str) and value.strip().lower() in AGE_WORDS:
        return AGE_WORDS[value.strip().lower()]
    if isinstance(value, str) and "-" in value:
        value = value.split("-", 1)
    if isinstance(value, bool):
        raise ValueError(f"age {value!r} is not a range")
    if isinstance(value, int | float):
        return int(value), int(value)
    if isinstance(value, list | tuple) and len(value) == 2:
        try:
            lo, hi = (int(str(v).strip()) for v in value)
        except ValueError:
            lo = hi = -1
        if 0 <= lo <= hi <= 120:
            return lo, hi
    raise ValueError(f"age {value!r} is not a range; use one of {', '.join(AGE_WORDS)}, or [from, to] in years")


def parse_gender(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in GENDERS:
        raise ValueError(f"gender {value!r} is not one of {', '.join(GENDERS)}")
    return text


def parse_style(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"style {value!r} is not a tag or a list of tags")
    return tuple(sorted({i.strip().lower() for i in items if i.strip()}))


@dataclass(frozen=True)
class Description:
    """What a script asks of a speaker's voice; every field optional."""

    gender: str | None = None
    age: tuple[int, int] | None = None
    accent: str | None = None
    style: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Description:
        """From ``{gender, age, accent, style}``; raises ValueError naming the bad key."""
        accent = raw.get("accent")
        if accent is not None and not str(accent).strip():
            raise ValueError("accent is empty")
        return cls(
            gender=parse_gender(raw["gender"]) if raw.get("gender") is not None else None,
            age=parse_age(raw["age"]) if raw.get("age") is not None else None,
            accent=str(accent).strip() if accent is not None else None,
            style=parse_style(raw["style"]) if raw.get("style") is not None else (),
        )

    def __str__(self) -> str:
        parts = [f"gender: {self.gender}"] if self.gender else []
        if self.age:
            parts.append(f"age: {self.age[0]}-{self.age[1]}")
        if self.accent:
            parts.append(f"accent: {self.accent}")
        if self.style:
            parts.append(f"style: {', '.join(self.style)}")
        return "{" + ", ".join(parts) + "}"


class Castable:
    """What casting reads of a voices.yaml entry (``VoiceEntry`` satisfies it)."""

    language: str
    provider: str
    gender: str | None
    age: tuple[int, int] | None
    accent: str | None
    style: tuple[str, ...]


def fits(entry: Castable, want: Description, language: str | None = None) -> bool:
    """Whether every tag ``want`` gives agrees with the entry (and its language, when given)."""
    if language is not None and entry.language != language:
        return False
    if want.gender and entry.gender != want.gender:
        return False
    if want.age and (entry.age is None or entry.age[1] < want.age[0] or entry.age[0] > want.age[1]):
        return False
    if want.accent:
        have = (entry.accent or "").lower()
        if not all(word in have for word in want.accent.lower().split()):
            return False
    return True


def rank(voice_ids: Iterable[str], entries: Mapping[str, Castable], want: Description,
         provider_available: Callable[[str], bool]) -> list[str]:
    """Fitting voices, best first (see the module's rules)."""
    order = {vid: k for k, vid in enumerate(entries)}

    def key(vid: str) -> tuple[int, int, int, int]:
        entry = entries[vid]
        return (-len(set(want.style) & set(entry.style)), 0 if provider_available(entry.provider) else 1,
                1 if entry.provider in ROBOTIC_PROVIDERS else 0, order[vid])

    return sorted(voice_ids, key=key)


def choose(want: Description, entries: Mapping[str, Castable], *, language: str, taken: Iterable[str],
           provider_available: Callable[[str], bool]) -> tuple[str | None, list[str]]:
    """The best unused voice that fits, or None, and the fitting voices that were taken (for the error)."""
    taken = set(taken)
    fitting = [vid for vid, e in entries.items() if fits(e, want, language)]
    free = rank([v for v in fitting if v not in taken], entries, want, provider_available)
    return (free[0] if free else None), [v for v in fitting if v in taken]
