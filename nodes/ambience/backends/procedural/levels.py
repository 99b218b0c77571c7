"""Levels: loudness targets, the peak ceiling and fades of rendered sounds, long-bed loudness
measurement, the peak limiter and one-shot normalization.
"""

from __future__ import annotations

import math

import numpy as np

from nodes.ambience.backends.procedural.dsp import _samples
from nodes.common.audio import (
    db_to_gain,
    equal_power_fade_in,
    equal_power_fade_out,
    integrated_lufs,
    max_momentary_lufs,
    seconds_to_samples,
)

BED_LUFS = -30.0  # integrated loudness of every bed
SFX_MAX_MOMENTARY_LUFS = -20.0  # loudest 400 ms of every one-shot
PEAK_CEILING = 0.89  # ≈ -1 dBFS sample peak; nothing rendered goes above it
BED_FADE_S = 0.05
SFX_FADE_OUT_S = 0.005
MEASURE_CHUNKS, MEASURE_CHUNK_S = 24, 2.5  # loudness of long beds: evenly spaced excerpts


def _measure_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness; long audio is measured on ``MEASURE_CHUNKS`` evenly spaced excerpts,
    audio shorter than one 400 ms block is measured repeated."""
    n = audio.shape[0]
    chunk = seconds_to_samples(MEASURE_CHUNK_S, sample_rate)
    if n > MEASURE_CHUNKS * chunk:
        offsets = np.linspace(0, n - chunk, MEASURE_CHUNKS).astype(int)
        audio = np.concatenate([audio[o : o + chunk] for o in offsets])
    elif n < seconds_to_samples(0.5, sample_rate):
        audio = np.tile(audio, (seconds_to_samples(0.5, sample_rate) // max(n, 1) + 1, 1))
    return integrated_lufs(audio, sample_rate)


def _peak(audio: np.ndarray) -> float:
    return float(max(audio.max(), -audio.min())) if audio.size else 0.0


def _limit(audio: np.ndarray, sample_rate: int, ceiling: float) -> np.ndarray:
    """Smooth peak limiter: gain ≤ ``ceiling / |x|`` everywhere, spread over ~5 ms around each peak."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d  # only when a peak is over

    width = max(3, _samples(0.005, sample_rate))
    held = maximum_filter1d(np.max(np.abs(audio), axis=1), width)
    gain = np.minimum(1.0, ceiling / np.maximum(held, 1e-9))
    gain = uniform_filter1d(minimum_filter1d(gain, width), width)
    return (audio * gain[:, None]).astype(np.float32)


def _normalize_sfx(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Loudest 400 ms at ``SFX_MAX_MOMENTARY_LUFS``; peaks limited under ``PEAK_CEILING``."""
    for _ in range(4):
        loudness = max_momentary_lufs(audio, sample_rate)
        if not math.isfinite(loudness):
            return audio
        audio = audio * np.float32(db_to_gain(SFX_MAX_MOMENTARY_LUFS - loudness))
        if _peak(audio) <= PEAK_CEILING:
            return audio
        audio = _limit(audio, sample_rate, PEAK_CEILING * 0.97)
    peak = _peak(audio)
    return audio * np.float32(PEAK_CEILING / peak) if peak > PEAK_CEILING else audio


def _fade_ends(audio: np.ndarray, sample_rate: int, fade_s: float) -> None:
    """In place: equal-power fade in and out over ``fade_s`` (at most half the length each)."""
    k = min(seconds_to_samples(fade_s, sample_rate), audio.shape[0] // 2)
    if k > 0:
        audio[:k] *= equal_power_fade_in(k)[:, None]
        audio[-k:] *= equal_power_fade_out(k)[:, None]
