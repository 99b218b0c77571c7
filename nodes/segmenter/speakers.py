"""Speaker lines: the three forms (``【Name】``, ``**Name:**``, ``Name:``) with an optional ``(emotion)``,
the speaker they name (a declared speaker, or a voice by alias), the unknown-speaker error with its
suggestion, and the trailing ``| key=value`` line parameters."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from nodes.common.errors import ScriptError
from nodes.common.voices import EMOTIONS, OVERRIDE_RANGES, VOICE_EFFECTS, VoiceLibrary
from nodes.segmenter.cues import _typed

LINE_PARAMS: dict[str, type] = {"effect": str, "gain_db": float, "speed": float, "pitch": float, "pan": float}

_NAME = r"[^\s:：*【】\[\]#>(（][^:：*【】\[\]]{0,39}?"
_EMOTION = r"\s*[(（]\s*([^)）]*?)\s*[)）]"
_SPEAKER_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("tag", re.compile(r"^\*\*【([^】]+)】\*\*(?:" + _EMOTION + r")?\s*(.*)$")),
    ("tag", re.compile(r"^【([^】]+)】(?:" + _EMOTION + r")?\s*(.*)$")),
    ("bold", re.compile(r"^\*\*(" + _NAME + r")(?:" + _EMOTION + r")?\s*[:：]\s*\*\*\s*(.*)$")),
    ("bold", re.compile(r"^\*\*(" + _NAME + r")(?:" + _EMOTION + r")?\s*\*\*\s*[:：]\s*(.*)$")),
    ("bare", re.compile(r"^(" + _NAME + r")(?:" + _EMOTION + r")?\s*[:：]\s*(.*)$")),
)
_LINE_PARAM_TAIL = re.compile(r"\s\|\s*([a-z_]+)\s*=\s*([^|\s][^|]*?)\s*$")


def _match_speaker(
    line: str, number: int, declared: Mapping[str, Any], library: VoiceLibrary
) -> tuple[str, str | None, str, bool] | None:
    """(speaker, emotion, rest of line, explicit) for a speaker line, else None."""
    for form, pattern in _SPEAKER_FORMS:
        m = pattern.match(line)
        if not m:
            continue
        name, emotion, rest = m.group(1).strip(), m.group(2), m.group(3)
        if form == "bare":
            speaker = _declared_name(name, declared)
            if speaker is None:
                continue  # "Note: …" is text unless Note is a declared speaker
        else:
            speaker = _declared_name(name, declared) or _alias_speaker(name, library)
            if speaker is None:
                raise _unknown_speaker(name, number, declared)
        return speaker, _emotion(emotion, number), rest, True
    return None


def _declared_name(name: str, declared: Mapping[str, Any]) -> str | None:
    if name in declared:
        return name
    folded = {n.casefold(): n for n in declared}
    return folded.get(name.casefold())


def _alias_speaker(name: str, library: VoiceLibrary) -> str | None:
    """A tag like 【大牛】 names a voice by alias or display name: the speaker is then that voice."""
    return name if library.by_alias(name) or name in library else None


def _unknown_speaker(name: str, number: int, declared: Mapping[str, Any]) -> ScriptError:
    close = difflib.get_close_matches(name, list(declared), n=1)
    suggestion = f"did you mean {close[0]!r}? otherwise " if close else ""
    return ScriptError(f"unknown speaker {name!r}", number,
                       f"{suggestion}add '{name}: <voice-id>' under 'voices:' in the front matter, "
                       f"or pass --voice '{name}=<voice-id>'")


def _emotion(raw: str | None, number: int) -> str | None:
    if raw is None:
        return None
    emotion = raw.strip().lower()
    if emotion not in EMOTIONS:
        raise ScriptError(f"unknown emotion '({raw})'", number, f"use one of: {', '.join(EMOTIONS)}")
    return emotion


def _line_params(text: str, number: int) -> tuple[str, dict[str, Any]]:
    """Strip trailing ``| key=value`` parameters (only known keys) from a speaker line."""
    params: dict[str, Any] = {}
    while True:
        m = _LINE_PARAM_TAIL.search(text)
        if not m or m.group(1) not in LINE_PARAMS:
            break
        key, raw = m.group(1), m.group(2)
        value = _typed(raw, LINE_PARAMS[key], number, key)
        if key == "effect" and value not in (*VOICE_EFFECTS, "none"):
            raise ScriptError(f"unknown effect '{value}'", number, f"use one of: {', '.join(VOICE_EFFECTS)}, none")
        if key in OVERRIDE_RANGES and not OVERRIDE_RANGES[key][0] <= value <= OVERRIDE_RANGES[key][1]:
            lo, hi = OVERRIDE_RANGES[key]
            raise ScriptError(f"{key}={raw} is out of range", number, f"use a value in [{lo:g}, {hi:g}]")
        params[key] = value
        text = text[: m.start()]
    return text, params
