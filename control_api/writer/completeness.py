"""Did an adaptation keep the source? The share of the source's characters (letters, digits, CJK;
punctuation and spaces left out, speech tags that became speaker names left out) that the script's
spoken text holds, and the passages (sentences) of the source it does not hold, in order."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

MIN_COVERAGE = 0.95
SENTENCE = re.compile(r"[^。！？!?.\n]+[。！？!?.]*[”」\"]?")
PART = re.compile(r"“[^”]*”?|\"[^\"]*\"?|「[^」]*」?|『[^』]*』?|[^“\"「『]+")  # quotes and the narration between


def letters(text: str) -> str:
    """The characters that count: letters, digits and CJK, lower-cased."""
    return "".join(c for c in text.lower() if c.isalnum())


@dataclass(frozen=True)
class Coverage:
    share: float  # 0..1 of the source's counted characters found in the script
    missing: tuple[str, ...]  # source sentences the script does not hold

    @property
    def complete(self) -> bool:
        return self.share >= MIN_COVERAGE


def coverage(source: str, spoken: str) -> Coverage:
    """How much of ``source`` (tags already removed) the ``spoken`` text of a script holds."""
    wanted, held = Counter(letters(source)), Counter(letters(spoken))
    total = sum(wanted.values())
    share = 1.0 if total == 0 else sum(min(n, held[c]) for c, n in wanted.items()) / total
    return Coverage(share, tuple(gaps(source, spoken).values()))


def gaps(source: str, spoken: str) -> dict[str, str]:
    """Each sentence of ``source`` that ``spoken`` does not hold → what of it is missing: the sentence,
    or only its quotes or narration that are missing when the rest is held."""
    flat = letters(spoken)
    found: dict[str, str] = {}
    for sentence in (s.strip() for s in SENTENCE.findall(source)):
        if len(letters(sentence)) < 4 or letters(sentence) in flat:
            continue
        parts = [p.strip() for p in PART.findall(sentence) if letters(p)]
        lacking = [p for p in parts if letters(p) not in flat]
        found[sentence] = " ".join(lacking) if lacking and len(lacking) < len(parts) else sentence
    return found
