"""What the API and the workers share: validating a submission and turning it into a task row."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from control_api.engines.base import SETTING_GROUPS, RenderOptions
from control_api.limits import Limits, estimate_duration_s, minimax_characters
from control_api.settings import ServiceSettings
from control_api.templates import stage_settings, template_names
from nodes.ambience.backends.registry import library_roots
from nodes.common.errors import ConfigError, collect_warnings
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
    segments = plan.segments
    notes = caught.messages + list(plan.warnings)
    duration_s = estimate_duration_s(plan, Limits(settings.max_duration_s, settings.max_lines, settings.max_chars))
    chars = sum(len(s.text) for s in segments)
    return Validated(title=plan.title, chars=chars, segments=len(segments), warnings=notes, duration_s=duration_s,
                     cost=settings.credit_cost(chars, duration_s), minimax_chars=minimax_characters(plan))


def request_hash(script: str, template: str, voice_config: dict[str, Any], options: dict[str, Any]) -> str:
    body = json.dumps([script, template, voice_config, options], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()
