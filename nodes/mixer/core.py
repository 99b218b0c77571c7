"""Mixer: place dialogue, sfx and beds on the timeline, duck the beds under speech, master.

Level plan (reference/mixing-standards.md): each utterance is levelled to ``speech_lufs``; beds sit
``ambience_below_speech_db`` under it and are ducked a further ``duck_db`` while speech is active;
one-shots sit ``sfx_below_speech_db`` under it (loudest 400 ms). The sum is brought to
``target_lufs`` integrated, then a look-ahead limiter holds the 4× oversampled true peak at
``true_peak_ceiling_dbtp``; gain and limiting iterate until loudness is within ``lufs_tolerance``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nodes.common.audio import (
    as_2d,
    block_powers,
    db_to_gain,
    equal_power_fade_in,
    equal_power_fade_out,
    gated_loudness,
    integrated_lufs,
    k_weighted,
    max_momentary_lufs,
    oversampled_peak,
    seconds_to_samples,
    to_stereo,
    true_peak_dbtp,
)
from nodes.common.errors import warn
from nodes.common.types import Timeline

MAX_LEVELLING_GAIN_DB = 24.0
EDGE_FADE_S = 0.005  # de-click the ends of clips cut by the programme end


@dataclass(frozen=True)
class MixConfig:
    speech_lufs: float = -18.0
    ambience_below_speech_db: float = 20.0
    sfx_below_speech_db: float = 8.0
    duck_db: float = 8.0
    duck_pre_roll_s: float = 0.1
    duck_attack_s: float = 0.1
    duck_release_s: float = 0.5
    duck_bridge_s: float = 0.5
    target_lufs: float = -16.0
    lufs_tolerance: float = 0.1
    true_peak_ceiling_dbtp: float = -1.5  # headroom for MP3; the output stage re-checks at -1.0
    limiter_lookahead_s: float = 0.005
    limiter_release_s: float = 0.08
    master_iterations: int = 6


@dataclass(frozen=True)
class MixResult:
    master: np.ndarray  # (samples, 2) float32
    sample_rate: int
    lufs: float
    true_peak_dbtp: float
    limiter_max_reduction_db: float
    master_gain_db: float


def mix(
    timeline: Timeline,
    dialogue: Mapping[int, np.ndarray],
    beds: Mapping[int, np.ndarray],
    sfx: Mapping[int, np.ndarray],
    config: MixConfig = MixConfig(),
) -> MixResult:
    """Mix stereo clips into a mastered programme of exactly ``timeline.duration_s``.

    ``dialogue`` is keyed by segment seq (clips may run past their slot: reverb tails), ``beds`` and
    ``sfx`` by cue index. Every placed segment must have a clip (``KeyError`` otherwise).
    """
    sr = timeline.sample_rate
    n = seconds_to_samples(timeline.duration_s, sr)
    dialogue_bus = _dialogue_bus(timeline, dialogue, n, config)
    ambience_bus = _ambience_bus(timeline, beds, n, config)
    ambience_bus *= duck_envelope(timeline.speech_regions, n, sr, config)[:, None]
    sfx_bus = _sfx_bus(timeline, sfx, n, config)
    return master(dialogue_bus + ambience_bus + sfx_bus, sr, config)


def _place(bus: np.ndarray, clip: np.ndarray, start: int) -> None:
    """Add ``clip`` at sample ``start``; what runs past the end is cut with a short fade."""
    if start >= len(bus):
        return
    clip = to_stereo(clip)
    room = len(bus) - start
    if len(clip) > room:
        clip = clip[:room].copy()
        fade = min(len(clip), seconds_to_samples(EDGE_FADE_S, 44100))
        clip[len(clip) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    bus[start:start + len(clip)] += clip


def _dialogue_bus(timeline: Timeline, clips: Mapping[int, np.ndarray], n: int, config: MixConfig) -> np.ndarray:
    sr = timeline.sample_rate
    bus = np.zeros((n, 2), dtype=np.float32)
    for utterance in timeline.utterances:
        pieces = [as_2d(clips[s.seq]) for s in utterance.segments]
        gain = db_to_gain(_levelling_gain_db(np.concatenate(pieces), sr, config.speech_lufs))
        for segment, clip in zip(utterance.segments, pieces, strict=True):
            _place(bus, clip * np.float32(gain), seconds_to_samples(segment.start_s, sr))
    return bus


def _levelling_gain_db(audio: np.ndarray, sample_rate: int, target_lufs: float) -> float:
    """Gain that brings speech to ``target_lufs`` (short lines: loudest 400 ms), clamped."""
    loudness = integrated_lufs(audio, sample_rate)
    if not math.isfinite(loudness):
        loudness = max_momentary_lufs(audio, sample_rate)
    if not math.isfinite(loudness):
        return 0.0
    return float(np.clip(target_lufs - loudness, -MAX_LEVELLING_GAIN_DB, MAX_LEVELLING_GAIN_DB))


def _ambience_bus(timeline: Timeline, beds: Mapping[int, np.ndarray], n: int, config: MixConfig) -> np.ndarray:
    """Beds levelled under speech, with equal-power fades where one scene hands over to the next."""
    sr = timeline.sample_rate
    bus = np.zeros((n, 2), dtype=np.float32)
    for cue in timeline.cues:
        if cue.kind != "ambience":
            continue
        bed = to_stereo(beds[cue.index])
        target = config.speech_lufs - config.ambience_below_speech_db + float(dict(cue.params).get("gain_db", 0.0))
        loudness = integrated_lufs(bed, sr)
        gain = db_to_gain(target - loudness) if math.isfinite(loudness) else 0.0
        fade_n = min(len(bed) // 2, seconds_to_samples(float(dict(cue.params).get("fade_s", 2.0)), sr))
        shaped = bed * np.float32(gain)
        shaped[:fade_n] *= equal_power_fade_in(fade_n)[:, None]
        shaped[len(shaped) - fade_n:] *= equal_power_fade_out(fade_n)[:, None]
        _place(bus, shaped, seconds_to_samples(cue.start_s, sr))
    return bus


def _sfx_bus(timeline: Timeline, clips: Mapping[int, np.ndarray], n: int, config: MixConfig) -> np.ndarray:
    sr = timeline.sample_rate
    bus = np.zeros((n, 2), dtype=np.float32)
    for cue in timeline.cues:
        if cue.kind != "sfx":
            continue
        params = dict(cue.params)
        clip = as_2d(clips[cue.index])
        if clip.shape[1] == 1:
            clip = to_stereo(clip, float(params.get("pan", 0.0)))
        elif "pan" in params:
            clip = _pan_stereo(clip, float(params["pan"]))
        target = config.speech_lufs - config.sfx_below_speech_db + float(params.get("gain_db", 0.0))
        loudness = max_momentary_lufs(clip, sr)
        gain = db_to_gain(target - loudness) if math.isfinite(loudness) else 0.0
        _place(bus, clip * np.float32(gain), seconds_to_samples(cue.start_s, sr))
    return bus


def _pan_stereo(clip: np.ndarray, pan: float) -> np.ndarray:
    """Balance control for a stereo clip: attenuate the far side with a constant-power law."""
    angle = (min(max(pan, -1.0), 1.0) + 1.0) * math.pi / 4.0
    gains = np.array([math.cos(angle), math.sin(angle)], dtype=np.float32) * np.float32(math.sqrt(2.0))
    return (clip * np.minimum(gains, 1.0)).astype(np.float32)


def merged_regions(regions: Sequence[tuple[float, float]], bridge_s: float) -> list[tuple[float, float]]:
    """Sort and merge speech regions; gaps shorter than ``bridge_s`` are bridged."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(regions):
        if merged and start - merged[-1][1] < bridge_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def duck_envelope(regions: Sequence[tuple[float, float]], n: int, sample_rate: int, config: MixConfig) -> np.ndarray:
    """Linear gain for the beds: 1 in the clear, ``-duck_db`` under speech.

    The dip starts ``duck_pre_roll_s`` before each (bridged) speech region, reaches full depth after
    ``duck_attack_s`` and recovers over ``duck_release_s`` after it, with raised-cosine curves.
    """
    depth = np.zeros(n, dtype=np.float32)  # 0 = no duck, 1 = full duck
    attack = max(1, seconds_to_samples(config.duck_attack_s, sample_rate))
    release = max(1, seconds_to_samples(config.duck_release_s, sample_rate))
    up = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, attack, dtype=np.float32))
    down = 0.5 + 0.5 * np.cos(np.linspace(0.0, math.pi, release, dtype=np.float32))
    for start_s, end_s in merged_regions(regions, config.duck_bridge_s):
        a = seconds_to_samples(start_s - config.duck_pre_roll_s, sample_rate)
        b = seconds_to_samples(end_s, sample_rate)
        _max_into(depth, a, up)
        _max_into(depth, a + attack, np.ones(max(0, b - a - attack), dtype=np.float32))
        _max_into(depth, max(b, a + attack), down)
    return np.power(10.0, -config.duck_db * depth / 20.0).astype(np.float32)


def _max_into(target: np.ndarray, start: int, curve: np.ndarray) -> None:
    lo, hi = max(0, start), min(len(target), start + len(curve))
    if lo < hi:
        np.maximum(target[lo:hi], curve[lo - start:hi - start], out=target[lo:hi])


# --- mastering ---------------------------------------------------------------------------------


def master(mix_bus: np.ndarray, sample_rate: int, config: MixConfig = MixConfig()) -> MixResult:
    """Gain to ``target_lufs`` and true-peak limit at the ceiling, iterating until both hold.

    The K-weighted signal and the oversampled peak envelope are computed once: gain scales the peak
    linearly, and the limiter's gain moves slowly next to the K-filter's memory, so each iteration
    re-weights block powers instead of re-filtering. The result is then measured exactly.
    """
    x = as_2d(mix_bus)
    weighted = k_weighted(x, sample_rate)
    loudness = gated_loudness(block_powers(weighted, sample_rate))
    if not math.isfinite(loudness):
        warn("the mix is silent; nothing to master")
        return MixResult(x.astype(np.float32), sample_rate, loudness, true_peak_dbtp(x, sample_rate), 0.0, 0.0)
    peak = oversampled_peak(x, sample_rate)
    gain_db = config.target_lufs - loudness
    curve = np.ones(len(x))
    for _ in range(config.master_iterations):
        gain = db_to_gain(gain_db)
        curve = gain * limiter_gain(peak * gain, sample_rate, config.true_peak_ceiling_dbtp, config)
        loudness = gated_loudness(block_powers(weighted, sample_rate, power_gain=curve**2))
        if abs(loudness - config.target_lufs) <= config.lufs_tolerance / 2:
            break
        gain_db += config.target_lufs - loudness
    out = (x * curve[:, None]).astype(np.float32)
    reduction_db = float(gain_db - 20.0 * math.log10(max(float(curve.min()), 1e-12)))
    return MixResult(out, sample_rate, integrated_lufs(out, sample_rate), true_peak_dbtp(out, sample_rate),
                     max(0.0, reduction_db), gain_db)


def limiter_gain(peak: np.ndarray, sample_rate: int, ceiling_dbtp: float, config: MixConfig = MixConfig()) -> np.ndarray:
    """Per-sample gain (<= 1) that keeps ``peak * gain`` at or under the ceiling, smoothly.

    The required gain (ceiling / peak) is min-filtered over the look-ahead window and then averaged
    over the same window; both windows contain the sample, so the result never exceeds the
    requirement while ramping down ahead of a peak. A one-pole release slows the recovery.
    """
    from scipy.ndimage import minimum_filter1d
    from scipy.signal import lfilter

    required = np.minimum(1.0, db_to_gain(ceiling_dbtp) / np.maximum(peak, 1e-12))
    if required.size == 0 or required.min() >= 1.0:
        return np.ones(len(peak))
    w = max(1, seconds_to_samples(config.limiter_lookahead_s, sample_rate))
    ahead = minimum_filter1d(required, size=w, origin=-(w // 2), mode="nearest")
    padded = np.concatenate([np.full(w - 1, ahead[0]), ahead])
    smooth = np.convolve(padded, np.ones(w) / w, mode="valid")
    a = math.exp(-1.0 / max(1.0, config.limiter_release_s * sample_rate))
    released = lfilter([1.0 - a], [1.0, -a], smooth, zi=[a * smooth[0]])[0]
    return np.minimum(smooth, released)


def true_peak_limit(
    x: np.ndarray, sample_rate: int, ceiling_dbtp: float, config: MixConfig = MixConfig()
) -> np.ndarray:
    """``x`` limited so that its 4× oversampled peak stays at or under ``ceiling_dbtp``."""
    x = as_2d(x)
    return (x * limiter_gain(oversampled_peak(x, sample_rate), sample_rate, ceiling_dbtp, config)[:, None]).astype(
        np.float32)
