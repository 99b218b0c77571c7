"""``ProceduralBackend``: renders beds and one-shots from prompts, calibrating each bed layer and
normalizing the result; duration and sample-rate limits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from nodes.ambience.backends.base import Sound
from nodes.ambience.backends.procedural.blocks import _Ctx
from nodes.ambience.backends.procedural.catalogue import (
    _ONE_SHOT_BY_NAME,
    _ONE_SHOTS,
    _SCENE_BY_NAME,
    _SCENES,
    FALLBACK_SCENE,
    FALLBACK_SFX,
)
from nodes.ambience.backends.procedural.dsp import _rng
from nodes.ambience.backends.procedural.levels import (
    BED_FADE_S,
    BED_LUFS,
    PEAK_CEILING,
    SFX_FADE_OUT_S,
    _fade_ends,
    _limit,
    _measure_lufs,
    _normalize_sfx,
    _peak,
)
from nodes.ambience.backends.procedural.matching import _DISTANT, _has_any, _Layer, _pick_sfx, _plan_bed
from nodes.common.audio import db_to_gain, equal_power_fade_out, seconds_to_samples, to_stereo
from nodes.common.errors import ConfigError, warn

SFX_MIN_S = 0.05
SFX_MAX_S = 30.0
BED_MAX_S = 3 * 3600.0
MIN_SAMPLE_RATE = 8000
SFX_DISTANT_LOWPASS_HZ = 1500.0
PROBE_S = 30.0  # a layer of a longer bed is calibrated on a render this long


def _check_rate(sample_rate: int) -> int:
    if int(sample_rate) != sample_rate or sample_rate < MIN_SAMPLE_RATE:
        raise ConfigError(f"sample_rate must be a whole number ≥ {MIN_SAMPLE_RATE} Hz, got {sample_rate!r}")
    return int(sample_rate)


class ProceduralBackend:
    """Ambience beds and one-shots synthesized from noise and tones; no files, no network."""

    name = "procedural"

    def __init__(self, **options: object):
        if options:
            raise ConfigError(f"the procedural ambience backend takes no options, got {sorted(options)}")

    # ---- lookups (pure)

    def match_bed(self, prompt: str) -> tuple[str, ...]:
        """Names of the scenes ``render_bed`` would layer for ``prompt`` (empty: room-tone fallback)."""
        return tuple(layer.scene.name for layer in _plan_bed(prompt))

    def match_sfx(self, prompt: str) -> str | None:
        """Name of the one-shot ``render_sfx`` would use for ``prompt`` (None: impact fallback)."""
        shot = _pick_sfx(prompt)
        return None if shot is None else shot.name

    def sfx_duration_s(self, prompt: str, duration_s: float | None = None) -> float:
        """Length ``render_sfx`` will give (before rounding to samples): the one-shot's nominal
        duration, or ``duration_s`` clamped to ``SFX_MIN_S``…``SFX_MAX_S``."""
        if duration_s is None:
            shot = _pick_sfx(prompt) or _ONE_SHOT_BY_NAME[FALLBACK_SFX]
            return shot.nominal_s
        if not math.isfinite(duration_s):
            raise ConfigError(f"sound effect duration must be a finite number of seconds, got {duration_s!r}")
        return float(min(max(float(duration_s), SFX_MIN_S), SFX_MAX_S))

    def describe(self) -> dict[str, list[str]]:
        """``{"scenes": [...], "sfx": [...]}``, one ``"name: keyword, keyword, ..."`` line each."""
        return {
            "scenes": [f"{s.name}: {', '.join(s.keywords)}" for s in _SCENES],
            "sfx": [f"{o.name}: {', '.join(o.keywords + o.generic)}" for o in _ONE_SHOTS],
        }

    # ---- rendering

    def render_bed(self, prompt: str, duration_s: float, sample_rate: int, seed: int) -> Sound:
        """A continuous stereo bed of exactly ``seconds_to_samples(duration_s, sample_rate)`` samples at
        ``BED_LUFS`` integrated, faded in and out over ``BED_FADE_S``."""
        sample_rate = _check_rate(sample_rate)
        if not (math.isfinite(duration_s) and 0.0 < duration_s <= BED_MAX_S):
            raise ConfigError(
                f"ambience bed duration must be in (0, {BED_MAX_S:.0f}] seconds, got {duration_s!r}"
            )
        n = max(1, seconds_to_samples(duration_s, sample_rate))
        layers = _plan_bed(prompt)
        fallback = not layers
        if fallback:
            warn(f"no procedural ambience matches {prompt!r}; using room tone")
            layers = [_Layer(_SCENE_BY_NAME[FALLBACK_SCENE])]
        out = np.zeros((n, 2), np.float32)
        for index, layer in enumerate(layers):
            label = f"bed/{index}/{layer.scene.name}"
            self._add_layer(out, layer, sample_rate, functools.partial(_rng, seed, prompt, label))
        loudness = _measure_lufs(out, sample_rate)
        if math.isfinite(loudness):
            out *= np.float32(db_to_gain(BED_LUFS - loudness))
        if _peak(out) > PEAK_CEILING:
            out[:] = _limit(out, sample_rate, PEAK_CEILING)
        _fade_ends(out, sample_rate, BED_FADE_S)
        return Sound(out, sample_rate, tuple(layer.scene.name for layer in layers), fallback)

    @staticmethod
    def _add_layer(
        out: np.ndarray, layer: _Layer, sample_rate: int, make_rng: Callable[[], np.random.Generator]
    ) -> None:
        """Add one scene at ``BED_LUFS + layer.gain_db``. A bed up to ``PROBE_S`` long is rendered and
        measured; a longer one is calibrated on a ``PROBE_S`` render from the same generator seed and
        then rendered straight into ``out``."""
        n = out.shape[0]
        probe = np.zeros((min(n, seconds_to_samples(PROBE_S, sample_rate)), 2), np.float32)
        layer.scene.render(_Ctx(make_rng(), sample_rate, layer.intensity, layer.lowpass_hz), probe, 1.0)
        loudness = _measure_lufs(probe, sample_rate)
        gain = db_to_gain(BED_LUFS + layer.gain_db - loudness) if math.isfinite(loudness) else 1.0
        if probe.shape[0] == n:
            probe *= np.float32(gain)
            out += probe
        else:
            layer.scene.render(_Ctx(make_rng(), sample_rate, layer.intensity, layer.lowpass_hz), out, gain)

    def render_sfx(self, prompt: str, sample_rate: int, seed: int, duration_s: float | None = None) -> Sound:
        """One stereo one-shot of exactly ``seconds_to_samples(self.sfx_duration_s(prompt, duration_s),
        sample_rate)`` samples, loudest 400 ms at ``SFX_MAX_MOMENTARY_LUFS``."""
        sample_rate = _check_rate(sample_rate)
        shot = _pick_sfx(prompt)
        fallback = shot is None
        if shot is None:
            warn(f"no procedural sound effect matches {prompt!r}; using a soft impact")
            shot = _ONE_SHOT_BY_NAME[FALLBACK_SFX]
        n = max(1, seconds_to_samples(self.sfx_duration_s(prompt, duration_s), sample_rate))
        lowpass_hz = SFX_DISTANT_LOWPASS_HZ if _has_any(prompt.lower(), _DISTANT) else None
        ctx = _Ctx(_rng(seed, prompt, "sfx"), sample_rate, 1.0, lowpass_hz)
        audio = ctx.darken(to_stereo(np.asarray(shot.render(ctx, n), np.float32)))
        audio = np.ascontiguousarray(audio[:n], np.float32)
        k = min(seconds_to_samples(SFX_FADE_OUT_S, sample_rate), n // 2)
        if k > 0:
            audio[-k:] *= equal_power_fade_out(k)[:, None]
        audio = _normalize_sfx(audio, sample_rate)
        return Sound(np.ascontiguousarray(audio, np.float32), sample_rate, (shot.name,), fallback)
