"""Cue lines: the inside of ``[ambience: …]``, ``[sfx: …]`` and ``[pause: seconds]`` parsed into a ``Cue``,
with typed and range-checked ``| key=value`` parameters. ``_typed`` and ``_number`` also read the
parameters of speaker lines and inline pauses."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from nodes.common.errors import ScriptError
from nodes.common.types import Cue
from nodes.segmenter.text import normalize_whitespace

CUE_KINDS = ("ambience", "sfx", "pause")
AMBIENCE_STOP_WORDS = ("none", "off", "stop", "silence")
MAX_PAUSE_S = 60.0

CUE_PARAMS: dict[str, dict[str, type]] = {
    "ambience": {"gain_db": float, "fade_s": float, "reverb": str, "seed": int},
    "sfx": {"gain_db": float, "duration_s": float, "wait": bool, "pan": float, "seed": int},
    "pause": {},
}
_CUE = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*(.*)$", re.DOTALL)
_CUE_NO_COLON = re.compile(r"^\s*(ambience|sfx|pause)\b", re.IGNORECASE)


def parse_cue(inner: str, number: int) -> Cue:
    """Parse the inside of ``[kind: value | key=value …]``."""
    m = _CUE.match(inner)
    if not m:
        if _CUE_NO_COLON.match(inner):
            kind = _CUE_NO_COLON.match(inner).group(1).lower()
            raise ScriptError(f"cue [{inner}] is missing ':' after '{kind}'", number, f"write it as [{kind}: …]")
        raise ScriptError(f"a line in square brackets is read as a cue, but [{inner}] is not one", number,
                          "cues are [ambience: …], [sfx: …] and [pause: seconds]; "
                          "to have it spoken, write it without the brackets")
    kind = m.group(1).lower()
    if kind not in CUE_KINDS:
        close = difflib.get_close_matches(kind, CUE_KINDS, n=1)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        raise ScriptError(f"unknown cue kind '{kind}'", number, f"{suggestion}known cues: {', '.join(CUE_KINDS)}")
    value, *param_parts = [p.strip() for p in m.group(2).split("|")]
    params = _cue_params(kind, param_parts, number)
    if kind == "pause":
        seconds = _number(value, number, "pause length")
        if not 0 < seconds <= MAX_PAUSE_S:
            raise ScriptError(f"pause of {value} s is out of range", number,
                              f"use a number of seconds above 0 and at most {MAX_PAUSE_S:g}, e.g. [pause: 1.5]")
        return Cue(index=-1, kind="pause", line=number, duration_s=seconds)
    if not value:
        hint = "describe the scene, e.g. [ambience: rain on a window], or stop it with [ambience: none]" \
            if kind == "ambience" else "describe the sound, e.g. [sfx: door creaks open]"
        raise ScriptError(f"{kind} cue has no description", number, hint)
    if kind == "ambience" and value.lower() in AMBIENCE_STOP_WORDS:
        return Cue(index=-1, kind="ambience_stop", line=number, params=tuple(sorted(params.items())))
    duration = params.pop("duration_s", None)
    return Cue(index=-1, kind=kind, line=number, prompt=normalize_whitespace(value), duration_s=duration,
               params=tuple(sorted(params.items())))


def _cue_params(kind: str, parts: list[str], number: int) -> dict[str, Any]:
    allowed = CUE_PARAMS[kind]
    params: dict[str, Any] = {}
    for part in parts:
        if "=" not in part:
            raise ScriptError(f"cue parameter '{part}' is not key=value", number,
                              f"write e.g. '| gain_db=-6'; {kind} accepts: {', '.join(allowed) or 'no parameters'}")
        key, raw = (s.strip() for s in part.split("=", 1))
        if key not in allowed:
            raise ScriptError(f"unknown {kind} parameter '{key}'", number,
                              f"{kind} accepts: {', '.join(allowed) or 'no parameters'}")
        params[key] = _typed(raw, allowed[key], number, key)
    _check_param_ranges(kind, params, number)
    return params


def _check_param_ranges(kind: str, params: Mapping[str, Any], number: int) -> None:
    ranges = {"gain_db": (-40.0, 20.0), "fade_s": (0.0, 30.0), "duration_s": (0.05, 30.0), "pan": (-1.0, 1.0)}
    for key, (lo, hi) in ranges.items():
        if key in params and not lo <= params[key] <= hi:
            raise ScriptError(f"{key}={params[key]:g} is out of range", number, f"use a value in [{lo:g}, {hi:g}]")
    if params.get("reverb") not in (None, "none", "room", "hall"):
        raise ScriptError(f"unknown reverb '{params['reverb']}'", number, "use reverb=room, reverb=hall or reverb=none")


def _typed(raw: str, kind: type, number: int, key: str) -> Any:
    if kind is bool:
        lowered = raw.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ScriptError(f"{key}={raw} is not true/false", number, f"write {key}=true or {key}=false")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ScriptError(f"{key}={raw} is not a whole number", number) from None
    if kind is float:
        return _number(raw, number, key)
    return raw


def _number(raw: str, number: int, what: str) -> float:
    try:
        value = float(raw.removesuffix("s").strip())
    except ValueError:
        raise ScriptError(f"{what} '{raw}' is not a number", number, "write a number such as 1.5") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ScriptError(f"{what} '{raw}' is not a finite number", number)
    return value
