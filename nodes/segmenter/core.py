"""Script parser and segmenter: Markdown script → ``Plan`` (utterances, segments, cues, chapters).

The format is design §5. Every error is a ``ScriptError`` naming the 1-based line of the file and the
fix. Nothing is dropped silently: each speakable character of the body reaches exactly one segment,
and anything the parser cannot place is an error, not a skip.

This module is the entry point (``parse_script``) and re-exports the public names; the parts live in
``frontmatter`` (decoding, front matter, declared voices), ``body`` (the body, line by line),
``cues``, ``speakers`` (speaker lines), ``plan`` (config, segments, the plan) and ``text``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nodes.common.types import Plan
from nodes.common.voices import VoiceLibrary, offline_only
from nodes.segmenter.body import PAUSE_CLOSE, PAUSE_OPEN, _parse_body, _State
from nodes.segmenter.cues import AMBIENCE_STOP_WORDS, CUE_KINDS, CUE_PARAMS, MAX_PAUSE_S, parse_cue
from nodes.segmenter.frontmatter import (
    FRONT_MATTER_KEYS,
    NARRATOR_NAMES,
    _declared_voices,
    _decode,
    _front_matter,
    _narrator,
    cast_described,
)
from nodes.segmenter.plan import (
    DEFAULT_MAX_CHARS,
    DEFAULT_PROVIDER_MAX_CHARS,
    INLINE_PAUSE_PROVIDERS,
    SegmenterConfig,
    _build_plan,
    plan_seed,
)
from nodes.segmenter.speakers import LINE_PARAMS

__all__ = [
    "AMBIENCE_STOP_WORDS",
    "CUE_KINDS",
    "CUE_PARAMS",
    "DEFAULT_MAX_CHARS",
    "DEFAULT_PROVIDER_MAX_CHARS",
    "FRONT_MATTER_KEYS",
    "INLINE_PAUSE_PROVIDERS",
    "LINE_PARAMS",
    "MAX_PAUSE_S",
    "NARRATOR_NAMES",
    "PAUSE_CLOSE",
    "PAUSE_OPEN",
    "SegmenterConfig",
    "parse_cue",
    "parse_script",
    "plan_seed",
]


def parse_script(
    text: str,
    library: VoiceLibrary,
    *,
    voice_config: Mapping[str, Any] | None = None,
    provider_available: Callable[[str], bool] = offline_only,
    config: SegmenterConfig | None = None,
) -> Plan:
    """Parse and segment a script.

    ``voice_config`` (task / CLI) maps speaker → voice id or override mapping and wins over the front
    matter. ``provider_available`` decides when a voice falls back (offline: piper and espeak only).
    """
    config = config or SegmenterConfig()
    lines = _decode(text)
    body_start, front = _front_matter(lines)
    declared, declared_lines = _declared_voices(front, lines, body_start, voice_config or {})
    cast_described(declared, declared_lines, front, library, provider_available)
    narrator = _narrator(front, declared, body_start)
    state = _State(front_title=front.get("title"))
    _parse_body(lines, body_start, declared, library, narrator, state)
    return _build_plan(state, front, declared, declared_lines, library, provider_available, config, body_start)
