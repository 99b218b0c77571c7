"""Mixer: place dialogue, sfx and beds on the timeline, duck the beds under speech, master.

Level plan (reference/mixing-standards.md): each utterance is levelled to ``speech_lufs``; beds sit
``ambience_below_speech_db`` under it and are ducked a further ``duck_db`` while speech is active;
one-shots sit ``sfx_below_speech_db`` under it (loudest 400 ms). The sum is brought to
``target_lufs`` integrated, then a look-ahead limiter holds the 4× oversampled true peak at
``true_peak_ceiling_dbtp``; gain and limiting iterate until loudness is within ``lufs_tolerance``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nodes.common.audio import (
    as_2d,
    db_to_gain,
    equal_power_fade_in,
    equal_power_fade_out,
    gated_loudness,
    hop_samples,
    integrated_lufs,
    max_momentary_lufs,
    oversampled_peak,
    seconds_to_samples,
    to_stereo,
    true_peak_dbtp,
)
from nodes.common.errors import warn
from nodes.common.settings import check_ranges
from nodes.common.types import PlacedCue, PlacedUtterance, Timeline
from nodes.mixer.meters import ProgrammeMeters

MAX_LEVELLING_GAIN_DB = 24.0
EDGE_FADE_S = 0.005  # de-click the ends of clips cut by the programme end
PEAK_FLOOR_DB = 6.0  # mastering keeps the peak from this far under the limiter's expected threshold


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

    def __post_init__(self) -> None:
        check_ranges(self, MIX_RANGES)


MIX_RANGES = {"speech_lufs": (-40.0, -10.0), "ambience_below_speech_db": (0.0, 60.0),
              "sfx_below_speech_db": (-10.0, 60.0), "duck_db": (0.0, 40.0), "duck_pre_roll_s": (0.0, 5.0),
              "duck_attack_s": (0.0, 5.0), "duck_release_s": (0.0, 5.0), "duck_bridge_s": (0.0, 5.0),
              "target_lufs": (-40.0, -5.0), "lufs_tolerance": (0.01, 2.0), "true_peak_ceiling_dbtp": (-12.0, 0.0),
              "limiter_lookahead_s": (0.0005, 0.05), "limiter_release_s": (0.001, 2.0), "master_iterations": (1, 20)}


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
    """Mix stereo clips into a mastered programme of exactly ``timeline.duration_s``: ``mix_bus`` then
    ``master``. A caller that can let go of the clips in between (the dora node) calls the two itself."""
    return master(mix_bus(timeline, dialogue, beds, sfx, config), timeline.sample_rate, config)


def mix_bus(
    timeline: Timeline,
    dialogue: Mapping[int, np.ndarray],
    beds: Mapping[int, np.ndarray],
    sfx: Mapping[int, np.ndarray],
    config: MixConfig = MixConfig(),
    pans: Mapping[int, float] | None = None,
) -> np.ndarray:
    """The unmastered programme, ``(samples, 2)`` float32 of exactly ``timeline.duration_s``.

    ``dialogue`` is keyed by segment seq (clips may run past their slot: reverb tails), ``beds`` and
    ``sfx`` by cue index. Every placed segment must have a clip (``KeyError`` otherwise). Dialogue
    clips are stereo, or mono with their pan in ``pans`` (panned here as ``process_dialogue`` would).
    """
    bus = Bus(timeline, config)
    bus.add_dialogue(dialogue, pans or {})
    for cue in bus.order:
        bus.add_cue(cue.index, (beds if cue.kind == "ambience" else sfx)[cue.index])
    return bus.audio


class Bus:
    """The programme being mixed. Everything is summed into one buffer, in one order: the dialogue, by
    utterance, then the beds (ducked as they are placed), then the one-shots, each by cue. Clips may be
    given as they arrive, in any order: each waits only until the ones before it are placed, and is let
    go once it is on the bus, so a long programme's lines and beds are never all held at once. The order
    never changes, so neither do the samples."""

    def __init__(self, timeline: Timeline, config: MixConfig = MixConfig()) -> None:
        self.timeline, self.config = timeline, config
        self.audio = np.zeros((seconds_to_samples(timeline.duration_s, timeline.sample_rate), 2), dtype=np.float32)
        self.order = [c for c in timeline.cues if c.kind == "ambience"] + [c for c in timeline.cues if c.kind == "sfx"]
        self._spoken = self._placed = 0
        self._lines: dict[int, tuple[np.ndarray, float]] = {}
        self._waiting: dict[int, np.ndarray] = {}

    def add_segment(self, seq: int, clip: np.ndarray, pan: float = 0.0) -> None:
        """One segment's dialogue, stereo, or mono with its pan."""
        self._lines[seq] = (clip, pan)
        self._drain()

    def add_dialogue(self, clips: Mapping[int, np.ndarray], pans: Mapping[int, float]) -> None:
        self._lines.update({seq: (clip, pans.get(seq, 0.0)) for seq, clip in clips.items()})
        self._drain()

    def add_cue(self, index: int, audio: np.ndarray) -> None:
        self._waiting[index] = audio
        self._drain()

    @property
    def dialogue_placed(self) -> bool:
        return self._spoken == len(self.timeline.utterances)

    @property
    def complete(self) -> bool:
        return self.dialogue_placed and self._placed == len(self.order)

    def missing(self) -> list[str]:
        """What is still to be placed and has not been given: ``segment N`` and ``cue N``."""
        lines = [f"segment {s.seq}" for u in self.timeline.utterances[self._spoken:] for s in u.segments
                 if s.seq not in self._lines]
        return lines + [f"cue {c.index}" for c in self.order[self._placed:] if c.index not in self._waiting]

    def _drain(self) -> None:
        for utterance in self.timeline.utterances[self._spoken:]:
            if any(s.seq not in self._lines for s in utterance.segments):
                return
            pieces = [self._lines.pop(s.seq) for s in utterance.segments]
            _add_utterance(self.audio, self.timeline, utterance, [to_stereo(c, pan) for c, pan in pieces], self.config)
            self._spoken += 1
        self._lines.clear()  # segments no utterance places
        while self._placed < len(self.order):
            cue = self.order[self._placed]
            if cue.index not in self._waiting:
                return
            clip = self._waiting.pop(cue.index)
            if cue.kind == "ambience":
                _add_bed(self.audio, self.timeline, cue, clip, self.config)
            else:
                _add_one_shot(self.audio, self.timeline, cue, clip, self.config)
            self._placed += 1


def _place(bus: np.ndarray, clip: np.ndarray, start: int, sample_rate: int) -> None:
    """Add ``clip`` at sample ``start``; what runs past the end is cut with a short fade."""
    if start >= len(bus):
        return
    clip = to_stereo(clip)
    room = len(bus) - start
    if len(clip) > room:
        clip = clip[:room].copy()
        fade = min(len(clip), seconds_to_samples(EDGE_FADE_S, sample_rate))
        clip[len(clip) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    bus[start:start + len(clip)] += clip


def _add_utterance(bus: np.ndarray, timeline: Timeline, utterance: PlacedUtterance, pieces: list[np.ndarray],
                   config: MixConfig) -> None:
    """An utterance's stereo segment clips, levelled together to the speech anchor and placed."""
    sr = timeline.sample_rate
    gain = db_to_gain(_levelling_gain_db(np.concatenate(pieces), sr, config.speech_lufs))
    for segment, clip in zip(utterance.segments, pieces, strict=True):
        _place(bus, clip * np.float32(gain), seconds_to_samples(segment.start_s, sr), sr)


def _levelling_gain_db(audio: np.ndarray, sample_rate: int, target_lufs: float) -> float:
    """Gain that brings speech to ``target_lufs`` (short lines: loudest 400 ms), clamped."""
    loudness = integrated_lufs(audio, sample_rate)
    if not math.isfinite(loudness):
        loudness = max_momentary_lufs(audio, sample_rate)
    if not math.isfinite(loudness):
        return 0.0
    return float(np.clip(target_lufs - loudness, -MAX_LEVELLING_GAIN_DB, MAX_LEVELLING_GAIN_DB))


def _add_bed(bus: np.ndarray, timeline: Timeline, cue: PlacedCue, bed: np.ndarray, config: MixConfig) -> None:
    """A bed levelled under speech, equal-power fades where scenes hand over, ducked under speech."""
    sr = timeline.sample_rate
    bed = to_stereo(bed)
    target = config.speech_lufs - config.ambience_below_speech_db + float(dict(cue.params).get("gain_db", 0.0))
    loudness = integrated_lufs(bed, sr)
    gain = db_to_gain(target - loudness) if math.isfinite(loudness) else 0.0
    fade_n = min(len(bed) // 2, seconds_to_samples(float(dict(cue.params).get("fade_s", 2.0)), sr))
    shaped = bed * np.float32(gain)
    shaped[:fade_n] *= equal_power_fade_in(fade_n)[:, None]
    shaped[len(shaped) - fade_n:] *= equal_power_fade_out(fade_n)[:, None]
    start = seconds_to_samples(cue.start_s, sr)
    shaped *= duck_envelope(timeline.speech_regions, len(shaped), sr, config, start=start)[:, None]
    _place(bus, shaped, start, sr)


def _add_one_shot(bus: np.ndarray, timeline: Timeline, cue: PlacedCue, clip: np.ndarray, config: MixConfig) -> None:
    sr = timeline.sample_rate
    params = dict(cue.params)
    clip = as_2d(clip)
    if clip.shape[1] == 1:
        clip = to_stereo(clip, float(params.get("pan", 0.0)))
    elif "pan" in params:
        clip = _pan_stereo(clip, float(params["pan"]))
    target = config.speech_lufs - config.sfx_below_speech_db + float(params.get("gain_db", 0.0))
    loudness = max_momentary_lufs(clip, sr)
    gain = db_to_gain(target - loudness) if math.isfinite(loudness) else 0.0
    _place(bus, clip * np.float32(gain), seconds_to_samples(cue.start_s, sr), sr)


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


def duck_envelope(
    regions: Sequence[tuple[float, float]], n: int, sample_rate: int, config: MixConfig, *, start: int = 0
) -> np.ndarray:
    """Linear gain for beds over samples [start, start + n): 1 in the clear, ``-duck_db`` under speech.

    The dip starts ``duck_pre_roll_s`` before each (bridged) speech region, reaches full depth after
    ``duck_attack_s`` and recovers over ``duck_release_s`` after it, with raised-cosine curves.
    """
    depth = np.zeros(n, dtype=np.float32)  # 0 = no duck, 1 = full duck
    attack = max(1, seconds_to_samples(config.duck_attack_s, sample_rate))
    release = max(1, seconds_to_samples(config.duck_release_s, sample_rate))
    up = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, attack, dtype=np.float32))
    down = 0.5 + 0.5 * np.cos(np.linspace(0.0, math.pi, release, dtype=np.float32))
    for start_s, end_s in merged_regions(regions, config.duck_bridge_s):
        a = seconds_to_samples(start_s - config.duck_pre_roll_s, sample_rate) - start
        b = seconds_to_samples(end_s, sample_rate) - start
        if b + release < 0 or a >= n:
            continue
        _max_into(depth, a, up)
        _max_into(depth, a + attack, np.ones(max(0, b - a - attack), dtype=np.float32))
        _max_into(depth, max(b, a + attack), down)
    return np.power(np.float32(10.0), np.float32(-config.duck_db / 20.0) * depth).astype(np.float32)


def _max_into(target: np.ndarray, start: int, curve: np.ndarray) -> None:
    lo, hi = max(0, start), min(len(target), start + len(curve))
    if lo < hi:
        np.maximum(target[lo:hi], curve[lo - start:hi - start], out=target[lo:hi])


# --- mastering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Patch:
    """Limiter gain (< 1 somewhere) over samples [start, start + len(gain)); 1 elsewhere."""

    start: int
    gain: np.ndarray


def master(mix_bus: np.ndarray, sample_rate: int, config: MixConfig = MixConfig()) -> MixResult:
    """Gain to ``target_lufs`` and true-peak limit at the ceiling, iterating until both hold.

    ``mix_bus`` is modified in place (it is the programme-length buffer; copying it would double the
    memory). The K-weighted energy and the oversampled peak envelope are measured once (``ProgrammeMeters``
    keeps what the iterations need of them, not two more programme-length arrays): a gain scales the
    peak linearly, and limiting only changes the samples in its patches, whose hop energies are
    re-weighted instead of re-filtering the programme. The result is measured exactly at the end.
    """
    x = as_2d(mix_bus)
    expected_gain = db_to_gain(config.target_lufs - config.speech_lufs)
    meters = ProgrammeMeters(x, sample_rate, floor=db_to_gain(config.true_peak_ceiling_dbtp - PEAK_FLOOR_DB)
                             / expected_gain)
    hops = meters.hops
    loudness = gated_loudness(hops, sample_rate)
    if not math.isfinite(loudness):
        warn("the mix is silent; nothing to master")
        return MixResult(x, sample_rate, loudness, true_peak_dbtp(x, sample_rate), 0.0, 0.0)
    gain_db = config.target_lufs - loudness
    for _ in range(config.master_iterations):
        limited_at = db_to_gain(gain_db)  # each try's patches are used as they come, never all held
        patches = iter_limiter_patches(meters, limited_at, sample_rate, config.true_peak_ceiling_dbtp, config)
        loudness = gated_loudness(_patched_hops(hops, meters.energy, patches, limited_at**2, sample_rate), sample_rate)
        if abs(loudness - config.target_lufs) <= config.lufs_tolerance / 2:
            break
        gain_db += config.target_lufs - loudness
    x *= np.float32(db_to_gain(gain_db))
    reduction_db = 0.0
    for patch in iter_limiter_patches(meters, limited_at, sample_rate, config.true_peak_ceiling_dbtp, config):
        x[patch.start:patch.start + len(patch.gain)] *= patch.gain[:, None]
        reduction_db = max(reduction_db, -20.0 * math.log10(max(float(patch.gain.min()), 1e-12)))
    del meters
    return MixResult(x, sample_rate, integrated_lufs(x, sample_rate), true_peak_dbtp(x, sample_rate),
                     reduction_db, gain_db)


def _patched_hops(hops: np.ndarray, energy: Callable[[int, int], np.ndarray], patches: Iterable[_Patch],
                  power_gain: float, sample_rate: int) -> np.ndarray:
    """Hop energies of the programme after gain and limiting, without rebuilding the programme;
    ``energy(lo, hi)`` gives the per-sample K-weighted energy over [lo, hi)."""
    hop = hop_samples(sample_rate)
    out = hops * power_gain
    for patch in patches:
        first, last = patch.start // hop, min(len(hops), -(-(patch.start + len(patch.gain)) // hop))
        if first >= last:
            continue
        lo = first * hop
        weights = np.ones(last * hop - lo, dtype=np.float64)
        inside = slice(patch.start - lo, min(len(weights), patch.start - lo + len(patch.gain)))
        weights[inside] = patch.gain[: inside.stop - inside.start].astype(np.float64) ** 2
        out[first:last] = (energy(lo, last * hop) * weights).reshape(-1, hop).sum(axis=1) * power_gain
    return out


def limiter_patches(
    peak: np.ndarray | ProgrammeMeters, gain: float, sample_rate: int, ceiling_dbtp: float,
    config: MixConfig = MixConfig()
) -> list[_Patch]:
    """Where ``peak * gain`` would pass the ceiling, the limiter gain around it (look-ahead + release).
    ``peak`` is the per-sample oversampled peak, or the meters that keep what of it matters."""
    return list(iter_limiter_patches(peak, gain, sample_rate, ceiling_dbtp, config))


def iter_limiter_patches(
    peak: np.ndarray | ProgrammeMeters, gain: float, sample_rate: int, ceiling_dbtp: float,
    config: MixConfig = MixConfig()
) -> Iterator[_Patch]:
    """``limiter_patches`` one at a time, in order: a loud hour's patches can cover half of it."""
    threshold = db_to_gain(ceiling_dbtp) / gain
    sparse = isinstance(peak, ProgrammeMeters)
    over = peak.above(threshold) if sparse else np.flatnonzero(peak > threshold)
    if over.size == 0:
        return
    w = max(1, seconds_to_samples(config.limiter_lookahead_s, sample_rate))
    tail = w + seconds_to_samples(10.0 * config.limiter_release_s, sample_rate)  # release settles to < 1e-4
    breaks = np.flatnonzero(np.diff(over) > 2 * tail)
    for first, last in zip(np.r_[0, breaks + 1], np.r_[breaks, over.size - 1], strict=True):
        lo, hi = max(0, int(over[first]) - 2 * w), min(len(peak), int(over[last]) + tail)
        local = limiter_gain((peak.peak(lo, hi) if sparse else peak[lo:hi]).astype(np.float64) * gain, sample_rate, ceiling_dbtp, config)
        yield _Patch(lo, local.astype(np.float32))


def limiter_gain(peak: np.ndarray, sample_rate: int, ceiling_dbtp: float, config: MixConfig = MixConfig()) -> np.ndarray:
    """Per-sample gain (<= 1) that keeps ``peak * gain`` at or under the ceiling, smoothly.

    The required gain (ceiling / peak) is min-filtered over the look-ahead window and then averaged
    over the same window; both windows contain the sample, so the result never exceeds the
    requirement while ramping down ahead of a peak. A one-pole release slows the recovery.
    """
    from nodes.common.iir import linear_filter, running_min

    required = np.minimum(1.0, db_to_gain(ceiling_dbtp) / np.maximum(peak, 1e-12))
    if required.size == 0 or required.min() >= 1.0:
        return np.ones(len(peak))
    w = max(1, seconds_to_samples(config.limiter_lookahead_s, sample_rate))
    ahead = running_min(required, w)
    padded = np.concatenate([np.full(w - 1, ahead[0]), ahead])
    smooth = np.convolve(padded, np.ones(w) / w, mode="valid")
    a = math.exp(-1.0 / max(1.0, config.limiter_release_s * sample_rate))
    released = linear_filter([1.0 - a], [1.0, -a], smooth, [a * smooth[0]])[0]
    return np.minimum(smooth, released)


def true_peak_limit(
    x: np.ndarray, sample_rate: int, ceiling_dbtp: float, config: MixConfig = MixConfig()
) -> np.ndarray:
    """A copy of ``x`` limited so that its 4× oversampled peak stays at or under ``ceiling_dbtp``."""
    out = as_2d(x).copy()
    for patch in limiter_patches(oversampled_peak(out, sample_rate), 1.0, sample_rate, ceiling_dbtp, config):
        out[patch.start:patch.start + len(patch.gain)] *= patch.gain[:, None]
    return out
