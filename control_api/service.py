"""What the API and the workers share: validating a submission and turning it into a task row."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from control_api.engines.base import SETTING_GROUPS, RenderOptions
from control_api.limits import Limits, estimate_duration_s, minimax_characters
from control_api.settings import ServiceSettings
from control_api.templates import stage_settings, template_names
from nodes.ambience.backends.registry import library_roots
from nodes.common.errors import ConfigError, ScriptError, collect_warnings
from nodes.common.text import is_cjk
from nodes.common.types import Plan
from nodes.common.voices import VoiceLibrary, default_voices_path, load_voices, providers_from_env
from nodes.segmenter.core import parse_script


def library_for(path: Path | None) -> VoiceLibrary:
    """voices.yaml (``path``, or the default), read again whenever the file changes: no restart needed."""
    path = path or default_voices_path()
    try:
        stat = path.stat()
    except OSError:
        return load_voices(path)  # says what is wrong with the path
    return _library(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _library(path: Path, _mtime_ns: int, _size: int) -> VoiceLibrary:
    return load_voices(path)


@dataclass(frozen=True)
class Validated:
    title: str
    chars: int
    segments: int
    warnings: list[str]
    duration_s: float = 0.0  # estimated output length (an upper estimate)
    cost: int = 1  # credits
    minimax_chars: int = 0  # what MiniMax would bill, before cache hits


def render_options(voice_config: dict[str, Any], options: dict[str, Any]) -> RenderOptions:
    """``options`` = {"seed": int, "settings": {group: {key: value}}} (what ``--set`` takes on the CLI), and
    ``keep`` (bool: the audio never expires; the worker reads it)."""
    unknown = set(options) - {"seed", "settings", "keep"}
    if unknown:
        raise ConfigError(f"unknown option(s) {sorted(unknown)}: options take 'seed', 'settings' and 'keep'")
    if not isinstance(options.get("keep", False), bool):
        raise ConfigError("options.keep must be true or false")
    settings = options.get("settings") or {}
    if not isinstance(settings, dict) or not all(isinstance(v, dict) for v in settings.values()):
        raise ConfigError(f"options.settings must map a group ({', '.join(SETTING_GROUPS)}) to {{key: value}}")
    seed = options.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63):
        raise ConfigError("options.seed must be an integer from 0 to 2^63 - 1")
    return RenderOptions(voice_config=voice_config, seed=seed, settings=settings)


def validate(settings: ServiceSettings, script: str, template: str, voice_config: dict[str, Any],
             options: dict[str, Any]) -> Validated:
    """Parse the script against the voices and the template's settings, as the worker will.
    Raises ``ScriptError`` (with line and fix) or ``ConfigError``."""
    plan, notes, duration_s = _parsed(settings, script, template, voice_config, options)
    segments = plan.segments
    chars = sum(len(s.text) for s in segments)
    return Validated(title=plan.title, chars=chars, segments=len(segments), warnings=notes, duration_s=duration_s,
                     cost=settings.credit_cost(chars, duration_s), minimax_chars=minimax_characters(plan))


def _parsed(settings: ServiceSettings, script: str, template: str, voice_config: dict[str, Any],
            options: dict[str, Any]) -> tuple[Plan, list[str], float]:
    """The plan, its warnings and its estimated length; the errors ``validate`` names."""
    if template not in template_names():
        raise ConfigError(f"unknown template {template!r}: choose one of {', '.join(template_names())}")
    render = render_options(voice_config, options)
    stages = stage_settings(template, render.settings)
    library = (render.settings.get("ambience") or {}).get("library")
    if library:  # a user names a library the operator offers; never a folder of the server
        offered = library_roots(os.environ)
        if library not in offered:
            raise ConfigError(f"ambience.library must name one of the sound libraries this service offers: "
                              f"{', '.join(sorted(offered)) or 'none is configured (DRAMAFLOW_AMBIENCE_LIBRARIES)'}")
    with collect_warnings() as caught:
        plan = parse_script(script, library_for(settings.voices_file), voice_config=render.voice_config,
                            config=stages.segmenter, provider_available=providers_from_env(os.environ))
    duration_s = estimate_duration_s(plan, Limits(settings.max_duration_s, settings.max_lines, settings.max_chars))
    return plan, caught.messages + list(plan.warnings), duration_s


def check_script(settings: ServiceSettings, script: str, template: str, voice_config: dict[str, Any]) -> dict[str, Any]:
    """What an editor shows while a script is written: its speakers (with their voices and how much
    they say), counts, the estimated length, and the error and warnings with their lines. Never raises
    for the script: an error is part of the answer."""
    lines = len(script.splitlines())
    result: dict[str, Any] = {"title": "", "language": None, "speakers": [], "estimated_duration_s": None,
                              "counts": {"lines": lines, "utterances": 0, "segments": 0, "cues": 0, "chapters": 0,
                                         "chars": 0}, "errors": [], "warnings": []}
    try:
        plan, notes, duration_s = _parsed(settings, script, template, voice_config, {})
    except ScriptError as exc:
        result["errors"].append({"line": exc.line, "message": exc.message, "hint": exc.hint})
        return result
    except ConfigError as exc:
        result["errors"].append({"line": None, "message": str(exc), "hint": None})
        return result
    speakers: dict[str, dict[str, Any]] = {}
    for utterance in plan.utterances:
        row = speakers.setdefault(utterance.speaker, {
            "name": utterance.speaker, "voice": utterance.voice.voice_id, "provider": utterance.voice.provider,
            "language": utterance.voice.language, "line": utterance.line, "utterances": 0, "words": 0})
        row["utterances"] += 1
        row["words"] += word_count(utterance.text)
    segments = plan.segments
    result.update(title=plan.title, language=plan.language, speakers=list(speakers.values()),
                  estimated_duration_s=round(duration_s, 1),
                  warnings=[_located(note) for note in notes])
    result["counts"].update(utterances=len(plan.utterances), segments=len(segments), cues=len(plan.cues),
                            chapters=len(plan.chapters), chars=sum(len(s.text) for s in segments))
    return result


def word_count(text: str) -> int:
    """Words as a listener counts them: each CJK character is one, other words split on spaces."""
    cjk = sum(1 for c in text if is_cjk(c))
    return cjk + len("".join(" " if is_cjk(c) else c for c in text).split())


def _located(note: str) -> dict[str, Any]:
    match = re.match(r"line (\d+): (.*)", note, re.S)
    return {"line": int(match[1]), "message": match[2]} if match else {"line": None, "message": note}


def request_hash(script: str, template: str, voice_config: dict[str, Any], options: dict[str, Any]) -> str:
    body = json.dumps([script, template, voice_config, options], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()
