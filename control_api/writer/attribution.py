"""Who says a quoted line, as prose tells it: "…," said Mara / Mara said, "…" / 他说道：“…” / “…”她道.

Pure functions over text: the rule-based adapter uses them to attribute quotes, the completeness check to
know which words of the source became speaker names (a speech tag is not lost text)."""

from __future__ import annotations

import re
from dataclasses import dataclass

EN_VERBS = {
    "said": None, "says": None, "asked": None, "replied": None, "answered": None, "added": None,
    "began": None, "continued": None, "called": None, "agreed": None, "went on": None,
    "whispered": "whisper", "murmured": "whisper", "breathed": "whisper",
    "shouted": "angry", "yelled": "angry", "snapped": "angry", "roared": "angry", "growled": "angry",
    "cried": "fearful", "gasped": "surprised", "exclaimed": "surprised",
    "laughed": "happy", "chuckled": "happy", "sobbed": "sad", "sighed": "sad", "muttered": "calm",
}
ZH_VERBS = {
    "低声说道": "whisper", "低声说": "whisper", "低声道": "whisper", "小声说": "whisper", "轻声说": "whisper",
    "喊道": "angry", "吼道": "angry", "嚷道": "angry", "大喊": "angry", "叫道": "surprised", "惊呼": "surprised",
    "笑道": "happy", "笑着说": "happy", "哭道": "sad", "叹道": "sad", "叹了口气说": "sad",
    "说道": None, "问道": None, "答道": None, "回答": None, "说": None, "道": None, "问": None,
}
EN_PRONOUNS = {"he", "she", "they", "i", "we"}
ZH_PRONOUNS = {"他", "她", "它", "我", "你"}
_EN_VERB = "|".join(sorted((re.escape(v) for v in EN_VERBS), key=len, reverse=True))
_ZH_VERB = "|".join(sorted((re.escape(v) for v in ZH_VERBS), key=len, reverse=True))
_EN_NAME = r"(?:[A-Z][a-zA-Z'\-]+(?:\s[A-Z][a-zA-Z'\-]+)?|[Hh]e|[Ss]he|[Tt]hey|I|[Ww]e)"
_ADVERB = r"(?:\s+[a-z]+ly)?"
# after a quote: ", said Mara softly." / "Mara said." / "she whispered"
EN_AFTER = re.compile(rf"^\s*,?\s*(?:(?P<verb1>{_EN_VERB})\s+(?P<name1>{_EN_NAME})|(?P<name2>{_EN_NAME})"
                      rf"{_ADVERB}\s+(?P<verb2>{_EN_VERB})){_ADVERB}\s*[.,!?;]?")
# before a quote: "Mara said, " / "Mara said quietly: "
EN_BEFORE = re.compile(rf"(?:^|(?<=[\s.!?]))(?P<name>{_EN_NAME}){_ADVERB}\s+(?P<verb>{_EN_VERB}){_ADVERB}\s*[,:]?\s*$")
_ZH_NAME = r"[\u4e00-\u9fff]{1,3}"
_ZH_ADVERB = r"(?:[\u4e00-\u9fff]{1,3}地)?"
# a Chinese name runs into its verb (小林问道, 老渔夫慢慢地说): both the shortest and the longest name are
# tried, and the reading with the longer verb wins (问道 over 道), then the longer name (老渔夫 over 老渔)
ZH_BEFORE = tuple(re.compile(rf"(?P<name>{_ZH_NAME}{lazy}){_ZH_ADVERB}(?P<verb>{_ZH_VERB})[：:，,]?\s*$")
                  for lazy in ("?", ""))
ZH_AFTER = tuple(re.compile(rf"^\s*(?P<name>{_ZH_NAME}{lazy}){_ZH_ADVERB}(?P<verb>{_ZH_VERB})[。，,.!！]?")
                 for lazy in ("?", ""))
NOT_NAMES = {"The", "Then", "But", "And", "When", "So", "Now", "Yet", "It", "This", "That", "There"}


@dataclass(frozen=True)
class Tag:
    """A speech tag: who (``None`` for a pronoun: the speaker is not named), the emotion its verb implies,
    and the span of the tag in the text it was found in."""

    speaker: str | None
    emotion: str | None
    start: int
    end: int


def _speaker(name: str, chinese: bool) -> str | None:
    if chinese:
        return None if name in ZH_PRONOUNS or not name else name
    if name.lower() in EN_PRONOUNS or name in NOT_NAMES:
        return None
    return name


def _best(patterns: tuple[re.Pattern[str], ...], text: str, search: bool) -> re.Match[str] | None:
    found = [m for m in ((p.search if search else p.match)(text) for p in patterns) if m]
    return max(found, key=lambda m: (len(m["verb"]), len(m["name"])), default=None)


def tag_after(text: str, chinese: bool) -> Tag | None:
    """The speech tag at the start of the text that follows a quote."""
    match = _best(ZH_AFTER, text, search=False) if chinese else EN_AFTER.match(text)
    if not match:
        return None
    if chinese:
        name, verb = match["name"], match["verb"]
        if len(name) > 3 or (not name and verb in ("说", "道", "问")):
            return None
    else:
        name, verb = match["name1"] or match["name2"], match["verb1"] or match["verb2"]
    if not chinese and name in NOT_NAMES:
        return None
    emotion = (ZH_VERBS if chinese else EN_VERBS).get(verb)
    return Tag(_speaker(name, chinese), emotion, match.start(), match.end())


def tag_before(text: str, chinese: bool) -> Tag | None:
    """The speech tag at the end of the text that precedes a quote (within its sentence)."""
    match = _best(ZH_BEFORE, text, search=True) if chinese else EN_BEFORE.search(text)
    if not match or (not chinese and match["name"] in NOT_NAMES):
        return None
    emotion = (ZH_VERBS if chinese else EN_VERBS).get(match["verb"])
    return Tag(_speaker(match["name"], chinese), emotion, match.start(), match.end())
