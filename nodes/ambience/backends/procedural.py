"""Procedural ambience beds and one-shot sound effects, synthesized with numpy/scipy.

No sample files, no downloads, no models: every sound is filtered noise, sine partials and envelopes.

Beds
    A prompt is matched against the keywords of the scenes in ``_SCENES``; up to ``MAX_LAYERS``
    matched scenes (first by position in the prompt) are layered. Adjectives in the same clause as a
    scene's keyword shape it ("heavy" → louder and denser, "light" → quieter and sparser, "distant" →
    quieter and low-passed). A prompt that matches nothing gives room tone, ``fallback=True`` and a
    ``DramaflowWarning``. Beds are normalized to ``BED_LUFS`` integrated, fade in and out over
    ``BED_FADE_S`` and never contain a silent stretch.

One-shots
    The prompt picks one entry of ``_ONE_SHOTS`` (specific keywords beat generic ones such as "door"
    or "glass"). Each has a nominal duration; an explicit ``duration_s`` is clamped to
    ``SFX_MIN_S``…``SFX_MAX_S`` and longer requests repeat the pattern (more knocks, more steps, more
    rings) or let the tail ring out. One-shots are normalized to ``SFX_MAX_MOMENTARY_LUFS``.

Speed
    Long beds are not synthesized sample by sample: each stationary component is rendered once as a
    ``TEXTURE_S`` texture and recombined from random excerpts with equal-power crossfades; slow
    modulations and sparse events (thunder, cars, birds, clacks) run over the full length. Everything
    is added straight into the one output buffer, so a 30-minute bed needs one full-length array.

Determinism
    All randomness comes from a ``numpy`` generator seeded with a SHA-256 of (seed, kind, prompt).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import signal
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

from nodes.ambience.backends.base import Sound
from nodes.common.audio import (
    db_to_gain,
    equal_power_fade_in,
    equal_power_fade_out,
    integrated_lufs,
    max_momentary_lufs,
    seconds_to_samples,
    to_stereo,
)
from nodes.common.errors import ConfigError, warn

BED_LUFS = -30.0  # integrated loudness of every bed
SFX_MAX_MOMENTARY_LUFS = -20.0  # loudest 400 ms of every one-shot
PEAK_CEILING = 0.89  # ≈ -1 dBFS sample peak; nothing rendered goes above it
BED_FADE_S = 0.05
SFX_FADE_OUT_S = 0.005
SFX_MIN_S = 0.05
SFX_MAX_S = 30.0
BED_MAX_S = 3 * 3600.0
MIN_SAMPLE_RATE = 8000
MAX_LAYERS = 3
LAYER_OFFSETS_DB = (0.0, -2.0, -4.0)  # later layers sit a little under the first one
LOUDER_GAIN_DB, LOUDER_INTENSITY = 4.0, 1.5
SOFTER_GAIN_DB, SOFTER_INTENSITY = -4.0, 0.65
DISTANT_GAIN_DB, DISTANT_LOWPASS_HZ = -4.0, 1200.0
SFX_DISTANT_LOWPASS_HZ = 1500.0

TEXTURE_S = 24.0  # stationary components are rendered this long, then recombined
SEGMENT_S = (3.0, 7.0)  # lengths of the excerpts a long texture is rebuilt from
CROSSFADE_S = 0.5
WARMUP_S = 0.25  # filter start-up discarded from every texture
PROBE_S = 30.0  # a layer of a longer bed is calibrated on a render this long
MEASURE_CHUNKS, MEASURE_CHUNK_S = 24, 2.5  # loudness of long beds: evenly spaced excerpts
_INT16_TO_UNIT = math.sqrt(3.0) / 32768.0  # uniform int16 → unit-variance noise
_NYQUIST_FRACTION = 0.45


# --------------------------------------------------------------------------------------------------
# Randomness and noise


def _rng(seed: int, prompt: str, kind: str) -> np.random.Generator:
    """A generator that depends only on (seed, kind, prompt), stable across runs and platforms."""
    digest = hashlib.sha256(f"{int(seed)}\x1f{kind}\x1f{prompt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _white(rng: np.random.Generator, n: int, channels: int = 2) -> np.ndarray:
    """Unit-variance white noise, float32 ``(n, channels)``, channels independent.

    Built from raw PCG64 bits (uniform int16): several times faster than ``standard_normal``.
    """
    count = n * channels
    raw = rng.bit_generator.random_raw((count + 3) // 4)
    ints = raw.view(np.int16)[:count]
    return (ints.astype(np.float32) * np.float32(_INT16_TO_UNIT)).reshape(n, channels)


def _unit(x: np.ndarray) -> np.ndarray:
    """Scale to unit RMS (over all channels); silence stays silence."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return x if rms <= 0.0 else (x * np.float32(1.0 / rms)).astype(np.float32, copy=False)


def _impulses(
    rng: np.random.Generator, n: int, sample_rate: int, rate_hz: float, channels: int = 2
) -> np.ndarray:
    """Sparse random clicks: about ``rate_hz`` per second per channel with random sign and size."""
    x = np.zeros((n, channels), np.float32)
    for ch in range(channels):
        count = int(rng.poisson(rate_hz * n / sample_rate))
        idx = rng.integers(0, n, count)
        x[idx, ch] = (rng.uniform(0.1, 1.0, count) ** 2 * rng.choice([-1.0, 1.0], count)).astype(np.float32)
    return x


# --------------------------------------------------------------------------------------------------
# Filters and tones


@functools.lru_cache(maxsize=1024)
def _design(btype: str, low_hz: float, high_hz: float, sample_rate: int, order: int) -> np.ndarray:
    """Butterworth second-order sections (float32) with edges clamped into the usable band."""
    top = _NYQUIST_FRACTION * sample_rate
    if btype == "bandpass":
        high_hz = min(high_hz, top)
        wn: float | tuple[float, float] = (min(max(low_hz, 5.0), high_hz * 0.7), high_hz)
    else:
        wn = min(max(low_hz, 5.0), top)
    return signal.butter(order, wn, btype=btype, fs=sample_rate, output="sos").astype(np.float32)


def _filt(
    x: np.ndarray, btype: str, freq_hz: float | tuple[float, float], sample_rate: int, order: int = 2
) -> np.ndarray:
    """Butterworth ``lowpass``/``highpass`` (``freq_hz`` a number) or ``bandpass`` (``freq_hz`` a
    (low, high) pair) along time (axis 0), float32 in and out.

    Cut-offs are clamped below ``_NYQUIST_FRACTION`` of the sample rate, so any rate works.
    """
    low_hz, high_hz = freq_hz if isinstance(freq_hz, tuple) else (freq_hz, freq_hz)
    sos = _design(btype, float(low_hz), float(high_hz), int(sample_rate), order)
    return signal.sosfilt(sos, np.asarray(x, np.float32), axis=0).astype(np.float32, copy=False)


def _resonate(x: np.ndarray, freq_hz: float, q: float, sample_rate: int) -> np.ndarray:
    """A single resonant peak (``iirpeak``) at ``freq_hz``: wood, hinges, bodies."""
    freq_hz = min(freq_hz, _NYQUIST_FRACTION * sample_rate)
    b, a = signal.iirpeak(freq_hz, q, fs=sample_rate)
    return signal.lfilter(b, a, x, axis=0).astype(np.float32)


def _samples(duration_s: float, sample_rate: int) -> int:
    """``seconds_to_samples``, but never less than one sample."""
    return max(1, seconds_to_samples(duration_s, sample_rate))


def _repeats(n: int, sample_rate: int, first_s: float, period_s: float, tail_s: float) -> list[int]:
    """Starts of a pattern repeated every ``period_s`` from ``first_s`` while ``tail_s`` still fits
    before the end of ``n`` samples; always at least the first one."""
    first, period = seconds_to_samples(first_s, sample_rate), _samples(period_s, sample_rate)
    last = n - seconds_to_samples(tail_s, sample_rate)
    return [first] + list(range(first + period, last + 1, period))


def _time_s(n: int, sample_rate: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / sample_rate


def _partials(
    n: int, sample_rate: int, freqs_hz, amps, decays_s, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Sum of exponentially decaying sines (modal synthesis), float32 ``(n,)``; partials above the
    usable band are skipped. Random start phases when ``rng`` is given."""
    t = _time_s(n, sample_rate)
    out = np.zeros(n, np.float64)
    for f, a, tau in zip(freqs_hz, amps, decays_s, strict=True):
        if f >= _NYQUIST_FRACTION * sample_rate:
            continue
        phase = 0.0 if rng is None else rng.uniform(0.0, 2.0 * math.pi)
        out += a * np.exp(-t / tau) * np.sin(2.0 * math.pi * f * t + phase)
    return out.astype(np.float32)


def _sweep(freq_hz: np.ndarray, sample_rate: int, harmonics=(1.0,)) -> np.ndarray:
    """Oscillator following the per-sample frequency curve ``freq_hz``; ``harmonics`` are amplitudes
    of harmonics 1, 2, 3…; any above the usable band are dropped."""
    f = np.minimum(np.asarray(freq_hz, np.float64), _NYQUIST_FRACTION * sample_rate)
    phase = 2.0 * math.pi * np.cumsum(f) / sample_rate
    out = np.zeros(f.shape[0], np.float64)
    for k, amp in enumerate(harmonics, start=1):
        if amp and float(f.max()) * k < _NYQUIST_FRACTION * sample_rate:
            out += amp * np.sin(k * phase)
    return out.astype(np.float32)


def _decay(n: int, sample_rate: int, tau_s: float, attack_s: float = 0.0) -> np.ndarray:
    """Envelope: linear attack over ``attack_s`` then exponential decay with time constant ``tau_s``."""
    t = _time_s(n, sample_rate)
    env = np.exp(-t / tau_s)
    if attack_s > 0:
        env *= np.minimum(1.0, t / attack_s)
    return env.astype(np.float32)


def _burst(
    rng: np.random.Generator, n: int, sample_rate: int, tau_s: float, band, btype: str = "bandpass"
) -> np.ndarray:
    """A decaying filtered noise burst, mono ``(n,)``, peak about 1."""
    x = _filt(_white(rng, n, 1), btype, band, sample_rate)[:, 0] * _decay(n, sample_rate, tau_s)
    peak = float(np.max(np.abs(x))) if n else 0.0
    return x / np.float32(peak) if peak > 0 else x


def _pan_gains(pan) -> tuple[np.ndarray, np.ndarray]:
    """Constant-power pan (-1 left … +1 right), unity per channel at centre (same law as ``to_stereo``)."""
    angle = (np.clip(pan, -1.0, 1.0) + 1.0) * math.pi / 4.0
    return np.cos(angle) * math.sqrt(2.0), np.sin(angle) * math.sqrt(2.0)


def _pan(mono: np.ndarray, pan) -> np.ndarray:
    """Mono ``(n,)`` → stereo ``(n, 2)``; ``pan`` may be a number or a per-sample curve."""
    left, right = _pan_gains(pan)
    return np.stack([mono * left, mono * right], axis=1).astype(np.float32)


def _window(n: int, rise_fraction: float = 0.5) -> np.ndarray:
    """Smooth hump: sin² rise over ``rise_fraction`` of ``n`` then sin² fall, peak 1."""
    rise = max(1, int(n * rise_fraction))
    fall = max(1, n - rise)
    up = np.sin(np.linspace(0.0, math.pi / 2.0, rise)) ** 2
    down = np.cos(np.linspace(0.0, math.pi / 2.0, fall)) ** 2
    return np.concatenate([up, down])[:n].astype(np.float32)


def _add(buf: np.ndarray, grain: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Add ``grain`` into ``buf`` at ``start``, truncated at the end of ``buf``."""
    k = min(grain.shape[0], buf.shape[0] - start)
    if k > 0 and start >= 0:
        buf[start : start + k] += grain[:k] * np.float32(gain)


# --------------------------------------------------------------------------------------------------
# Building blocks for long beds


class _Curve:
    """Piecewise-linear gain curve through ``values[k]`` at sample ``k * hop``, evaluated by slice
    (never materialized at full length). ``values`` is ``(k,)`` or ``(k, channels)``."""

    def __init__(self, values: np.ndarray, hop: int):
        v = np.asarray(values, np.float32)
        v = v[:, None] if v.ndim == 1 else v
        self.channels = v.shape[1]
        self._values = [np.ascontiguousarray(v[:, c]) for c in range(self.channels)]
        self.hop = hop
        self._ramp = (np.arange(hop, dtype=np.float32) / np.float32(hop))[None, :]

    @staticmethod
    def points(n: int, hop: int) -> int:
        """How many control values a curve over ``n`` samples needs."""
        return n // hop + 2

    def channel(self, start: int, length: int, channel: int = 0) -> np.ndarray:
        """Contiguous float32 curve of one channel for samples ``start … start+length-1``."""
        hop = self.hop
        i0, i1 = start // hop, (start + length - 1) // hop + 1
        v = self._values[min(channel, self.channels - 1)][i0 : i1 + 1]
        seg = (v[:-1, None] + (v[1:] - v[:-1])[:, None] * self._ramp).ravel()
        offset = start - i0 * hop
        return seg[offset : offset + length]

    def segment(self, start: int, length: int) -> np.ndarray:
        """The curve for samples ``start … start+length-1``, shaped ``(length, channels)``."""
        return np.stack([self.channel(start, length, c) for c in range(self.channels)], axis=1)


def _wander(
    rng: np.random.Generator,
    n: int,
    sample_rate: int,
    period_s: float,
    depth: float,
    floor: float = 0.1,
    channels: int = 2,
    spread: float = 0.3,
) -> _Curve:
    """Slow random gain around 1 (± ``depth``), new target every ``period_s``; channels share most of
    the motion (``spread`` is the independent part); never below ``floor``."""
    hop = max(1, seconds_to_samples(period_s, sample_rate))
    k = _Curve.points(n, hop)
    common = rng.uniform(-1.0, 1.0, (k, 1))
    own = rng.uniform(-1.0, 1.0, (k, channels))
    values = 1.0 + depth * (common + spread * own) / (1.0 + spread)
    return _Curve(np.maximum(values, floor), hop)


@dataclass(frozen=True)
class _Ctx:
    """What a generator needs: randomness, rate, how intense, and whether it is heard from afar."""

    rng: np.random.Generator
    sample_rate: int
    intensity: float = 1.0
    lowpass_hz: float | None = None

    def darken(self, x: np.ndarray) -> np.ndarray:
        """Low-pass ``x`` when the sound is distant; identity otherwise."""
        return x if self.lowpass_hz is None else _filt(x, "lowpass", self.lowpass_hz, self.sample_rate)

    def scaled(self, factor: float) -> _Ctx:
        return replace(self, intensity=self.intensity * factor)

    def samples(self, duration_s: float) -> int:
        return _samples(duration_s, self.sample_rate)


def _texture(ctx: _Ctx, n: int, render: Callable[[_Ctx, int], np.ndarray]) -> np.ndarray:
    """Render a stationary stereo component for ``min(n, TEXTURE_S)``: filter start-up discarded,
    darkened when distant, unit RMS."""
    m = min(n, ctx.samples(TEXTURE_S))
    warm = ctx.samples(WARMUP_S)
    x = ctx.darken(render(ctx, m + warm))[warm:]
    return _unit(np.ascontiguousarray(x, np.float32))


def _add_texture(
    ctx: _Ctx, out: np.ndarray, texture: np.ndarray, gain: float, curve: _Curve | None = None
) -> None:
    """Add ``texture × gain × curve`` over all of ``out``.

    When ``out`` is longer than the texture, it is rebuilt from random excerpts of ``SEGMENT_S``
    joined by ``CROSSFADE_S`` equal-power crossfades (uncorrelated noise keeps its power).
    """
    n, m = out.shape[0], texture.shape[0]

    def put(pos: int, piece: np.ndarray) -> None:
        k = piece.shape[0]
        if curve is None:
            out[pos : pos + k] += piece * np.float32(gain)
            return
        for c in range(out.shape[1]):  # per channel: contiguous curves are ~10x faster than (k, 2) ones
            g = curve.channel(pos, k, c) * np.float32(gain)
            g *= piece[:, c]
            out[pos : pos + k, c] += g

    if n <= m:
        put(0, texture[:n])
        return
    xf = ctx.samples(CROSSFADE_S)
    seg_lo, seg_hi = ctx.samples(SEGMENT_S[0]), min(ctx.samples(SEGMENT_S[1]), m - 2 * xf)
    fade_in, fade_out = equal_power_fade_in(xf)[:, None], equal_power_fade_out(xf)[:, None]
    pos, tail = 0, None
    while pos < n:
        body = int(ctx.rng.integers(min(seg_lo, seg_hi), seg_hi + 1))
        off = int(ctx.rng.integers(0, m - body - 2 * xf + 1))
        if tail is not None:
            k = min(xf, n - pos)
            put(pos, tail[:k] * fade_out[:k] + texture[off : off + k] * fade_in[:k])
            pos += k
        k = min(body, n - pos)
        if k > 0:
            put(pos, texture[off + xf : off + xf + k])
            pos += k
        tail = texture[off + xf + body : off + 2 * xf + body]


def _add_loop(out: np.ndarray, loop: np.ndarray, gain: float) -> None:
    """Add a seamless periodic ``loop`` (tones with whole cycles) repeated over ``out``."""
    n, m = out.shape[0], loop.shape[0]
    for pos in range(0, n, m):
        k = min(m, n - pos)
        out[pos : pos + k] += loop[:k] * np.float32(gain)


def _starts(
    rng: np.random.Generator, n: int, sample_rate: int, rate_hz: float, first_within_s: float | None = None
) -> np.ndarray:
    """Random event start samples (Poisson, ``rate_hz`` per second), sorted; with ``first_within_s``
    one event is guaranteed to start that early."""
    count = int(rng.poisson(rate_hz * n / sample_rate))
    starts = np.sort(rng.integers(0, n, count))
    if first_within_s is not None:
        limit = max(1, min(n, seconds_to_samples(first_within_s, sample_rate)))
        if count == 0 or starts[0] >= limit:
            starts = np.concatenate([[int(rng.integers(0, limit))], starts])
    return starts.astype(np.int64)


def _scatter(
    rng: np.random.Generator,
    out: np.ndarray,
    grains: list[np.ndarray],
    starts: np.ndarray,
    gain_range: tuple[float, float],
    pan_range: tuple[float, float],
) -> None:
    """Add a randomly chosen grain (mono or stereo) at every start, with random gain and pan."""
    count = starts.shape[0]
    if count == 0 or not grains:
        return
    which = rng.integers(0, len(grains), count)
    gains = rng.uniform(*gain_range, count)
    left, right = _pan_gains(rng.uniform(*pan_range, count))
    n = out.shape[0]
    for s, w, g, lg, rg in zip(starts, which, gains, left, right, strict=True):
        grain = grains[w]
        k = min(grain.shape[0], n - int(s))
        if k <= 0 or s < 0:
            continue
        lr = np.array([g * lg, g * rg], np.float32)
        piece = grain[:k, None] if grain.ndim == 1 else grain[:k]
        out[s : s + k] += piece * lr


def _palette(ctx: _Ctx, count: int, limit: int, make: Callable[[_Ctx], np.ndarray]) -> list[np.ndarray]:
    """Up to ``limit`` (at least one) variants of a grain, darkened when distant."""
    return [ctx.darken(make(ctx)) for _ in range(max(1, min(limit, count)))]


# --------------------------------------------------------------------------------------------------
# Scenes: each ``_bed_*(ctx, out, gain)`` adds its sound, scaled by ``gain``, into ``out`` (n, 2).
# Components are unit RMS before mixing, so the numbers below are relative levels.


def _rain_texture(ctx: _Ctx, m: int) -> np.ndarray:
    sr, k = ctx.sample_rate, ctx.intensity
    noise = _white(ctx.rng, m)
    hiss = _unit(_filt(noise, "bandpass", (700.0, 9000.0), sr))
    body = _unit(_filt(noise, "lowpass", 450.0, sr))
    drops = _unit(_filt(_impulses(ctx.rng, m, sr, 300.0 * (0.4 + k)), "bandpass", (1800.0, 7000.0), sr))
    return hiss * np.float32(0.5 + 0.5 * k) + body * np.float32(0.45 * k) + drops * np.float32(0.6)


def _bed_rain(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Rain: broadband hiss, a low roar that grows with intensity, sparse drop patter."""
    n = out.shape[0]
    texture = _texture(ctx, n, _rain_texture)
    _add_texture(ctx, out, texture, gain, _wander(ctx.rng, n, ctx.sample_rate, 2.5, 0.15))


def _rumble(ctx: _Ctx) -> np.ndarray:
    """One distant thunder roll, stereo, several overlapping swells, peak about 1."""
    rng, sr = ctx.rng, ctx.sample_rate
    n = ctx.samples(rng.uniform(3.5, 8.0))
    noise = _white(rng, n)
    x = _unit(_filt(noise, "lowpass", rng.uniform(90.0, 200.0), sr, order=4))
    x += _unit(_filt(noise, "bandpass", (150.0, 500.0), sr)) * np.float32(0.35)
    t = _time_s(n, sr)
    env = np.zeros(n)
    for _ in range(int(rng.integers(2, 5))):
        t0, attack, tau = rng.uniform(0.0, 0.35 * n / sr), rng.uniform(0.05, 0.4), rng.uniform(0.6, 2.0)
        dt = np.maximum(t - t0, 0.0)
        env += rng.uniform(0.4, 1.0) * (1.0 - np.exp(-dt / attack)) * np.exp(-dt / tau)
    env /= env.max()
    tail = n // 10
    env[n - tail :] *= np.linspace(1.0, 0.0, tail)
    return (x * env[:, None].astype(np.float32)).astype(np.float32)


def _bed_thunderstorm(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Steady rain plus thunder rolls at random times (one within the first few seconds)."""
    _bed_rain(ctx.scaled(1.25), out, gain)
    n, sr = out.shape[0], ctx.sample_rate
    starts = _starts(ctx.rng, n, sr, ctx.intensity / 15.0, first_within_s=min(6.0, 0.4 * n / sr))
    grains = _palette(ctx, len(starts), 6, _rumble)
    _scatter(ctx.rng, out, grains, starts, (2.0 * gain, 4.5 * gain), (-0.5, 0.5))


def _wind_texture(ctx: _Ctx, m: int) -> np.ndarray:
    sr = ctx.sample_rate
    noise = _white(ctx.rng, m)
    low = _unit(_filt(noise, "lowpass", 350.0, sr))
    mid = _unit(_filt(noise, "bandpass", (400.0, 1400.0), sr))
    f0 = ctx.rng.uniform(500.0, 900.0)
    whistle = _unit(_filt(_white(ctx.rng, m), "bandpass", (f0 * 0.93, f0 * 1.07), sr))
    return low + mid * np.float32(0.5) + whistle * np.float32(0.25 * ctx.intensity)


def _bed_wind(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Wind: low rush and a faint whistle, moved by gusts that differ a little left and right."""
    n = out.shape[0]
    texture = _texture(ctx, n, _wind_texture)
    depth = min(0.85, 0.55 * ctx.intensity)
    _add_texture(
        ctx, out, texture, gain, _wander(ctx.rng, n, ctx.sample_rate, 1.8, depth, floor=0.2, spread=0.5)
    )


def _swell_curves(ctx: _Ctx, n: int) -> tuple[_Curve, _Curve]:
    """Wave swells (6–11 s each): the body rises and falls; the foam peaks just after the body."""
    rng, sr = ctx.rng, ctx.sample_rate
    hop = max(1, sr // 50)
    t = np.arange(_Curve.points(n, hop)) * hop / sr
    periods = rng.uniform(6.0, 11.0, int(t[-1] / 6.0) + 3)
    bounds = np.concatenate([[0.0], np.cumsum(periods)]) - rng.uniform(0.0, periods[0])
    amps = rng.uniform(0.55, 1.0, periods.shape[0])
    curves = []
    for delay, power, floor in ((0.0, 1.0, 0.25), (0.15, 2.0, 0.08)):
        values = []
        for ch_shift in (0.0, 0.04):  # the break travels a little across the stereo field
            idx = np.clip(
                np.searchsorted(bounds, t - ch_shift * 8.0, side="right") - 1, 0, periods.shape[0] - 1
            )
            phase = np.clip((t - ch_shift * 8.0 - bounds[idx]) / periods[idx], 0.0, 1.0)
            shape = np.sin(math.pi * np.clip((phase - delay) / (1.0 - delay), 0.0, 1.0) ** 0.8) ** 2
            values.append(floor + (1.0 - floor) * amps[idx] * shape**power)
        curves.append(_Curve(np.stack(values, axis=1), hop))
    return curves[0], curves[1]


def _bed_ocean(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Ocean: slow swells of low surf, with brighter foam washing in after each crest."""
    n, sr = out.shape[0], ctx.sample_rate
    body = _texture(ctx, n, lambda c, m: _filt(_white(c.rng, m), "lowpass", 500.0, sr))
    foam = _texture(ctx, n, lambda c, m: _filt(_white(c.rng, m), "bandpass", (1200.0, 9000.0), sr))
    body_curve, foam_curve = _swell_curves(ctx, n)
    _add_texture(ctx, out, body, gain, body_curve)
    _add_texture(ctx, out, foam, gain * 0.7 * ctx.intensity, foam_curve)


def _bubble(ctx: _Ctx) -> np.ndarray:
    """A water bubble: a short rising sine blip."""
    n = ctx.samples(ctx.rng.uniform(0.015, 0.045))
    f0 = ctx.rng.uniform(400.0, 1400.0)
    f = f0 * np.linspace(1.0, ctx.rng.uniform(1.3, 1.9), n)
    return _sweep(f, ctx.sample_rate) * _window(n, 0.2)


def _river_texture(ctx: _Ctx, m: int) -> np.ndarray:
    rng, sr = ctx.rng, ctx.sample_rate
    x = _unit(_filt(_white(rng, m), "bandpass", (200.0, 3000.0), sr)) * np.float32(0.6)
    babble = np.zeros((m, 2), np.float32)
    for _ in range(6):  # burbling bands: narrow noise bands, each fluttering on its own
        f = rng.uniform(300.0, 2200.0)
        band = _unit(_filt(_white(rng, m, 1), "bandpass", (f * 0.8, f * 1.25), sr))[:, 0]
        flutter = _wander(rng, m, sr, rng.uniform(0.05, 0.14), 1.0, floor=0.0, channels=1).segment(0, m)[:, 0]
        babble += _pan(band * flutter**2, rng.uniform(-0.7, 0.7))
    x += _unit(babble)
    bubbles = np.zeros((m, 2), np.float32)
    grains = _palette(ctx, 12, 12, _bubble)
    _scatter(rng, bubbles, grains, _starts(rng, m, sr, 12.0 * ctx.intensity), (0.2, 1.0), (-0.8, 0.8))
    return x + _unit(bubbles) * np.float32(0.35)


def _bed_river(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """River / stream: a wash of water with babbling bands and bubbles."""
    n = out.shape[0]
    _add_texture(
        ctx, out, _texture(ctx, n, _river_texture), gain, _wander(ctx.rng, n, ctx.sample_rate, 3.0, 0.1)
    )


def _fire_texture(ctx: _Ctx, m: int) -> np.ndarray:
    sr = ctx.sample_rate
    noise = _white(ctx.rng, m)
    roar = _unit(_filt(noise, "lowpass", 200.0, sr)) + _unit(
        _filt(noise, "bandpass", (250.0, 1200.0), sr)
    ) * np.float32(0.4)
    roar += _unit(_filt(noise, "highpass", 3000.0, sr)) * np.float32(0.08)
    flicker = _wander(ctx.rng, m, sr, 0.12, 0.35, spread=0.5).segment(0, m)
    return roar * flicker


def _pop(ctx: _Ctx) -> np.ndarray:
    """One crackle: one to three very short bright noise bursts within ~15 ms."""
    rng, sr = ctx.rng, ctx.sample_rate
    n = ctx.samples(0.04)
    x = np.zeros(n, np.float32)
    for _ in range(int(rng.integers(1, 4))):
        burst = _burst(
            rng,
            ctx.samples(rng.uniform(0.003, 0.02)),
            sr,
            rng.uniform(0.001, 0.006),
            rng.uniform(1000.0, 3000.0),
            "highpass",
        )
        _add(x, burst, int(rng.integers(0, ctx.samples(0.015))), rng.uniform(0.4, 1.0))
    return x


def _bed_fire(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Fire: a flickering low roar with crackling pops scattered across the stereo field."""
    n, sr = out.shape[0], ctx.sample_rate
    _add_texture(ctx, out, _texture(ctx, n, _fire_texture), gain)
    starts = _starts(ctx.rng, n, sr, 7.0 * ctx.intensity, first_within_s=0.5)
    _scatter(
        ctx.rng, out, _palette(ctx, len(starts), 24, _pop), starts, (0.5 * gain, 2.5 * gain), (-0.8, 0.8)
    )


def _bird_call(ctx: _Ctx) -> np.ndarray:
    """A chirp, a trill or a two-note whistle, each with its own pitch; mono, peak about 1."""
    rng, sr = ctx.rng, ctx.sample_rate
    kind = int(rng.integers(0, 3))
    if kind == 0:  # chirp: one fast sweep up or down
        n = ctx.samples(rng.uniform(0.04, 0.12))
        f0 = rng.uniform(2500.0, 6000.0)
        f = f0 * (rng.uniform(0.6, 1.5)) ** np.linspace(0.0, 1.0, n)
        return _sweep(f, sr, (1.0, 0.15)) * _window(n, 0.3)
    if kind == 1:  # trill: a run of short down-chirps
        notes = []
        base, note_s, gap_s = rng.uniform(3000.0, 7000.0), rng.uniform(0.02, 0.045), rng.uniform(0.01, 0.03)
        for i in range(int(rng.integers(4, 12))):
            n = ctx.samples(note_s)
            f = base * (1.0 - 0.01 * i) * np.linspace(1.0, rng.uniform(0.75, 0.9), n)
            notes += [_sweep(f, sr) * _window(n, 0.25), np.zeros(ctx.samples(gap_s), np.float32)]
        return np.concatenate(notes)
    notes = []  # whistle: one or two sustained notes with vibrato
    f0 = rng.uniform(1800.0, 3500.0)
    for i in range(int(rng.integers(1, 3))):
        n = ctx.samples(rng.uniform(0.15, 0.35))
        t = _time_s(n, sr)
        f = (
            f0
            * (1.0 if i == 0 else rng.uniform(0.75, 1.3))
            * (1.0 + 0.03 * np.sin(2 * math.pi * rng.uniform(6, 12) * t))
        )
        notes.append(_sweep(f, sr) * _window(n, 0.2))
    return np.concatenate(notes)


def _bed_forest(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Forest: light wind in the leaves and bird calls of varied pitch at random places."""
    n, sr = out.shape[0], ctx.sample_rate
    leaves = _texture(ctx, n, lambda c, m: _filt(_white(c.rng, m), "bandpass", (150.0, 2500.0), sr))
    _add_texture(ctx, out, leaves, gain * 0.35, _wander(ctx.rng, n, sr, 2.0, 0.3))
    starts = _starts(ctx.rng, n, sr, 1.5 * ctx.intensity, first_within_s=1.0)
    _scatter(
        ctx.rng,
        out,
        _palette(ctx, len(starts), 16, _bird_call),
        starts,
        (0.3 * gain, 1.3 * gain),
        (-0.9, 0.9),
    )


def _cricket_chirp(ctx: _Ctx, carrier_hz: float) -> np.ndarray:
    """One cricket chirp: 3–5 pulses of a high tone."""
    rng, sr = ctx.rng, ctx.sample_rate
    on, off = ctx.samples(rng.uniform(0.012, 0.018)), ctx.samples(rng.uniform(0.008, 0.014))
    pulse = _sweep(np.full(on, carrier_hz), sr, (1.0, 0.1)) * _window(on, 0.3)
    gap = np.zeros(off, np.float32)
    return np.concatenate([np.concatenate([pulse, gap]) for _ in range(int(rng.integers(3, 6)))])


def _bed_insects(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Night insects: faint night air plus a chorus of crickets, each with its own pitch, rate and place."""
    n, sr, rng = out.shape[0], ctx.sample_rate, ctx.rng

    def air(c: _Ctx, m: int) -> np.ndarray:
        noise = _white(c.rng, m)
        return _unit(_filt(noise, "lowpass", 250.0, sr)) * np.float32(0.5) + _unit(
            _filt(noise, "highpass", 4500.0, sr)
        ) * np.float32(0.3)

    _add_texture(ctx, out, _texture(ctx, n, air), gain * 0.4)
    for _ in range(4 + round(3 * min(ctx.intensity, 2.0))):
        grain = ctx.darken(_cricket_chirp(ctx, rng.uniform(3800.0, 5600.0)))
        period_s = rng.uniform(0.45, 0.9)
        count = int(n / sr / period_s) + 2
        times_s = rng.uniform(0.0, period_s) + np.cumsum(period_s * rng.uniform(0.96, 1.04, count)) - period_s
        starts = (np.maximum(times_s, 0.0) * sr).astype(np.int64)
        level = rng.uniform(0.6, 2.0) * gain
        pan = rng.uniform(-0.9, 0.9)
        _scatter(rng, out, [grain], starts[starts < n], (0.85 * level, level), (pan, pan))


def _car_pass(ctx: _Ctx, tire: np.ndarray) -> np.ndarray:
    """A car passing by: engine tone whose pitch drops past the listener, tyre hiss, pan across."""
    rng, sr = ctx.rng, ctx.sample_rate
    n = min(ctx.samples(rng.uniform(3.0, 6.0)), tire.shape[0])
    t = _time_s(n, sr)
    x = (t - n / sr * rng.uniform(0.4, 0.6)) / rng.uniform(0.5, 1.0)
    closeness = 1.0 / (1.0 + x**2)
    engine = _unit(_sweep(rng.uniform(70.0, 140.0) * (1.0 - 0.05 * np.tanh(x)), sr, (1.0, 0.5, 0.3, 0.2)))
    off = int(rng.integers(0, tire.shape[0] - n + 1))
    mono = (0.6 * engine * closeness + tire[off : off + n] * closeness**1.3) * _window(n, 0.5) ** 0.3
    return _pan(mono.astype(np.float32), rng.choice([-1.0, 1.0]) * 0.85 * np.tanh(x))


def _horn(ctx: _Ctx) -> np.ndarray:
    """A car horn: two reedy tones a major third apart, one or two honks."""
    rng, sr = ctx.rng, ctx.sample_rate
    f1 = rng.uniform(380.0, 440.0)
    honks = []
    for _ in range(int(rng.integers(1, 3))):
        n = ctx.samples(rng.uniform(0.25, 0.7))
        tone = _sweep(np.full(n, f1), sr, (1.0, 0.0, 0.33, 0.0, 0.2)) + _sweep(
            np.full(n, f1 * 1.26), sr, (1.0, 0.0, 0.33, 0.0, 0.2)
        )
        env = np.minimum(
            1.0, np.minimum(np.arange(n) / ctx.samples(0.01), (n - np.arange(n)) / ctx.samples(0.04))
        )
        honks += [tone * env.astype(np.float32), np.zeros(ctx.samples(0.12), np.float32)]
    return _filt(np.concatenate(honks), "lowpass", 2500.0, sr)


def _bed_traffic(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """City traffic: distant rumble, cars passing left↔right with a doppler pitch drop, the odd horn."""
    n, sr, rng = out.shape[0], ctx.sample_rate, ctx.rng

    def rumble(c: _Ctx, m: int) -> np.ndarray:
        noise = _white(c.rng, m)
        return _unit(_filt(noise, "lowpass", 220.0, sr)) + _unit(
            _filt(noise, "bandpass", (300.0, 2500.0), sr)
        ) * np.float32(0.35)

    _add_texture(ctx, out, _texture(ctx, n, rumble), gain, _wander(rng, n, sr, 4.0, 0.2))
    tire = _unit(_filt(_white(rng, ctx.samples(6.5), 1), "bandpass", (250.0, 3000.0), sr))[:, 0]
    cars = _starts(rng, n, sr, 0.22 * ctx.intensity, first_within_s=3.0)
    _scatter(
        rng,
        out,
        _palette(ctx, len(cars), 10, lambda c: _car_pass(c, tire)),
        cars,
        (0.8 * gain, 2.2 * gain),
        (-0.2, 0.2),
    )
    horns = _starts(rng, n, sr, ctx.intensity / 40.0)
    _scatter(rng, out, _palette(ctx, len(horns), 3, _horn), horns, (0.6 * gain, 1.2 * gain), (-0.8, 0.8))


def _voice_band(ctx: _Ctx, m: int) -> np.ndarray:
    """One murmuring 'voice': band-passed noise, syllable-rate flutter, phrases and pauses."""
    rng, sr = ctx.rng, ctx.sample_rate
    c = rng.uniform(250.0, 900.0)
    band = _unit(_filt(_white(rng, m, 1), "bandpass", (c * 0.6, c * 2.0), sr))[:, 0]
    hop = ctx.samples(rng.uniform(0.1, 0.2))
    syllables = _Curve(rng.uniform(0.0, 1.0, _Curve.points(m, hop)) ** 2, hop).segment(0, m)[:, 0]
    phrase_hop = ctx.samples(0.25)
    runs = []
    while sum(len(r) for r in runs) < _Curve.points(m, phrase_hop):
        runs += [np.ones(int(rng.integers(4, 17))), np.zeros(int(rng.integers(1, 7)))]
    gate = _Curve(np.concatenate(runs), phrase_hop).segment(0, m)[:, 0]
    return band * syllables * gate


def _clink(ctx: _Ctx) -> np.ndarray:
    """A cup, glass or spoon clink: a tick and a few inharmonic high partials; peak about 1."""
    rng, sr = ctx.rng, ctx.sample_rate
    n = ctx.samples(0.5)
    f0 = rng.uniform(2200.0, 3400.0)
    ring = _partials(
        n,
        sr,
        f0 * np.array([1.0, 2.76, 5.4, 8.9]),
        [1.0, 0.5, 0.25, 0.1],
        np.array([0.25, 0.12, 0.06, 0.03]) * rng.uniform(0.5, 1.2),
        rng,
    )
    x = ring + _burst(rng, n, sr, 0.0008, 3000.0, "highpass") * np.float32(0.5)
    return x / np.float32(np.max(np.abs(x)))


def _stir(ctx: _Ctx) -> np.ndarray:
    """A spoon stirring a cup: three to five quick small clinks."""
    x = np.zeros(ctx.samples(1.0), np.float32)
    for i in range(int(ctx.rng.integers(3, 6))):
        _add(x, _clink(ctx)[: ctx.samples(0.3)], ctx.samples(0.13 * i), ctx.rng.uniform(0.3, 0.7))
    return x


def _bed_cafe(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Café: a babble of many murmuring voices in a room, with cup and spoon clinks."""
    n, sr, rng = out.shape[0], ctx.sample_rate, ctx.rng

    def babble(c: _Ctx, m: int) -> np.ndarray:
        voices = np.zeros((m, 2), np.float32)
        for _ in range(int(np.clip(round(10 * c.intensity), 4, 20))):
            voices += _pan(_voice_band(c, m), c.rng.uniform(-0.8, 0.8))
        room = _unit(_filt(_white(c.rng, m), "lowpass", 400.0, sr)) * np.float32(0.15)
        return _unit(_filt(voices, "lowpass", 3500.0, sr)) + room

    _add_texture(ctx, out, _texture(ctx, n, babble), gain)
    starts = _starts(rng, n, sr, 0.4 * ctx.intensity, first_within_s=2.0)
    grains = _palette(ctx, len(starts), 6, _clink) + _palette(ctx, len(starts), 2, _stir)
    _scatter(rng, out, grains, starts, (0.2 * gain, 0.6 * gain), (-0.8, 0.8))


def _hum_loop(ctx: _Ctx, mains_hz: int, harmonics: tuple[float, ...]) -> np.ndarray:
    """One second of mains hum (whole cycles, so it repeats seamlessly), stereo."""
    t = _time_s(ctx.sample_rate, ctx.sample_rate)
    hum = sum(a * np.sin(2 * math.pi * mains_hz * (k + 1) * t) for k, a in enumerate(harmonics))
    return to_stereo(np.asarray(hum, np.float32))


def _bed_room_tone(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Office / room tone: HVAC air noise, faint hiss and a low mains hum."""
    n, sr = out.shape[0], ctx.sample_rate

    def air(c: _Ctx, m: int) -> np.ndarray:
        noise = _white(c.rng, m)
        x = _unit(_filt(noise, "lowpass", 250.0, sr, order=1)) + _unit(
            _filt(noise, "bandpass", (300.0, 2500.0), sr)
        ) * np.float32(0.25)
        return x + _unit(_filt(noise, "highpass", 5000.0, sr)) * np.float32(0.05)

    _add_texture(ctx, out, _texture(ctx, n, air), gain, _wander(ctx.rng, n, sr, 5.0, 0.08))
    mains_hz = int(ctx.rng.choice([50, 60]))
    _add_loop(out, _hum_loop(ctx, mains_hz, (0.25, 0.12, 0.06)), gain)


def _clack(ctx: _Ctx) -> np.ndarray:
    """A wheel over a rail joint: a low thump and a metallic click."""
    rng, sr = ctx.rng, ctx.sample_rate
    n = ctx.samples(0.25)
    thump = _partials(n, sr, [rng.uniform(80.0, 130.0)], [1.0], [0.05])
    click = _burst(rng, n, sr, 0.012, (900.0, 3500.0))
    ring = _partials(n, sr, [rng.uniform(1800.0, 2600.0)], [0.2], [0.03], rng)
    x = thump + click * np.float32(0.6) + ring
    return x / np.float32(np.max(np.abs(x)))


def _bed_train(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Train interior: low rumble that sways, and the da-dum da-dum of wheels over rail joints."""
    n, sr, rng = out.shape[0], ctx.sample_rate, ctx.rng

    def rumble(c: _Ctx, m: int) -> np.ndarray:
        noise = _white(c.rng, m)
        x = _unit(_filt(noise, "lowpass", 110.0, sr)) + _unit(
            _filt(noise, "bandpass", (150.0, 700.0), sr)
        ) * np.float32(0.5)
        return x + _unit(_filt(noise, "bandpass", (1000.0, 4000.0), sr)) * np.float32(0.06)

    _add_texture(ctx, out, _texture(ctx, n, rumble), gain, _wander(rng, n, sr, 1.2, 0.12))
    speed = rng.uniform(0.9, 1.1) * math.sqrt(ctx.intensity)
    period_s, axle_s, bogie_s = 1.4 / speed, 0.12 / speed, 0.42 / speed
    count = int(n / sr / period_s) + 2
    joints = rng.uniform(0.0, period_s) + np.arange(count) * period_s + rng.uniform(-0.01, 0.01, count)
    times_s = np.sort(np.concatenate([joints, joints + axle_s, joints + bogie_s, joints + bogie_s + axle_s]))
    starts = (times_s * sr).astype(np.int64)
    _scatter(
        rng,
        out,
        _palette(ctx, len(starts), 6, _clack),
        starts[starts < n],
        (1.2 * gain, 2.0 * gain),
        (-0.3, 0.3),
    )


def _thump(ctx: _Ctx) -> np.ndarray:
    """A soft low bump (road joints, a dropped bag): a low sine knock plus a little noise."""
    rng, sr = ctx.rng, ctx.sample_rate
    n = ctx.samples(0.4)
    x = _partials(n, sr, [rng.uniform(40.0, 90.0)], [1.0], [rng.uniform(0.08, 0.15)])
    x += _burst(rng, n, sr, 0.03, 300.0, "lowpass") * np.float32(0.5)
    return x / np.float32(np.max(np.abs(x)))


def _bed_car(ctx: _Ctx, out: np.ndarray, gain: float) -> None:
    """Car interior: road noise, a steady engine drone and the occasional bump."""
    n, sr, rng = out.shape[0], ctx.sample_rate, ctx.rng

    def road(c: _Ctx, m: int) -> np.ndarray:
        noise = _white(c.rng, m)
        return _unit(_filt(noise, "lowpass", 300.0, sr)) + _unit(
            _filt(noise, "bandpass", (400.0, 1800.0), sr)
        ) * np.float32(0.2)

    _add_texture(ctx, out, _texture(ctx, n, road), gain, _wander(rng, n, sr, 3.0, 0.15))
    firing_hz = int(rng.integers(24, 36)) * 2  # even, so the half-order rumble also has whole cycles
    t = _time_s(sr, sr)
    drone = sum(
        a * np.sin(2 * math.pi * firing_hz * r * t)
        for r, a in ((0.5, 0.3), (1, 1.0), (2, 0.45), (3, 0.25), (4, 0.12))
    )
    _add_loop(out, to_stereo(np.asarray(drone, np.float32)), gain * 0.35)
    bumps = _starts(rng, n, sr, 0.12 * ctx.intensity)
    _scatter(rng, out, _palette(ctx, len(bumps), 4, _thump), bumps, (1.0 * gain, 2.0 * gain), (-0.2, 0.2))


# --------------------------------------------------------------------------------------------------
# One-shots: each ``_sfx_*(ctx, n)`` returns exactly ``n`` samples, mono ``(n,)`` or stereo ``(n, 2)``,
# fitting its pattern to the length (more knocks, steps, rings when longer).


def _knock(ctx: _Ctx) -> np.ndarray:
    rng, sr = ctx.rng, ctx.sample_rate
    n = ctx.samples(0.18)
    modes = rng.uniform([150.0, 270.0, 480.0, 800.0], [190.0, 330.0, 560.0, 950.0])
    body = _partials(n, sr, modes, [1.0, 0.7, 0.5, 0.3], [0.05, 0.035, 0.02, 0.012])
    return body + _burst(rng, n, sr, 0.002, 2000.0, "highpass") * np.float32(0.5)


def _sfx_door_knock(ctx: _Ctx, n: int) -> np.ndarray:
    """Knocks on a wooden door in groups of three (0.24 s apart, groups 1 s apart), as many as fit."""
    x = np.zeros(n, np.float32)
    t_s, i, last_start = 0.02, 0, max(0, n - ctx.samples(0.15))
    while True:
        start = seconds_to_samples(t_s, ctx.sample_rate)
        if i > 0 and start > last_start:
            break
        _add(x, _knock(ctx), start, ctx.rng.uniform(0.8, 1.0))
        i += 1
        t_s += 1.0 if i % 3 == 0 else 0.24 * ctx.rng.uniform(0.95, 1.05)
    return x


def _creak(ctx: _Ctx, n: int, upward: bool) -> np.ndarray:
    """One creak: a stick-slip pulse train whose rate sweeps, through hinge/wood resonances."""
    rng, sr = ctx.rng, ctx.sample_rate
    t = np.linspace(0.0, 1.0, n)
    speed = max(1.0, 0.6 * sr / n)  # a very short creak is a quick squeak: more pulses per second
    lo, hi = rng.uniform(20.0, 40.0) * speed, rng.uniform(80.0, 160.0) * speed
    sweep = 0.5 - 0.5 * np.cos(math.pi * (t if upward else 1.0 - t))
    rate = (lo + (hi - lo) * sweep) * (1.0 + 0.15 * np.sin(2 * math.pi * rng.uniform(2.0, 5.0) * t * n / sr))
    phase = np.cumsum(rate) / sr
    pulses = np.diff(np.floor(phase), prepend=0.0).astype(np.float32) * rng.uniform(0.5, 1.0, n).astype(
        np.float32
    )
    x = sum(
        _resonate(pulses, rng.uniform(*band), rng.uniform(8.0, 15.0), sr)
        for band in ((500, 700), (1000, 1400), (1900, 2500))
    )
    return np.asarray(x, np.float32) * _window(n, 0.3)


def _sfx_door_creak(ctx: _Ctx, n: int) -> np.ndarray:
    """A slow creaking hinge; longer requests become several creaks, alternating direction (≤ 3 s each)."""
    count = max(1, math.ceil(n / ctx.samples(3.0)))
    edges = np.linspace(0, n, count + 1).astype(int)
    return np.concatenate(
        [
            _creak(ctx, int(b - a), i % 2 == 0)
            for i, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True))
        ]
    )


def _step(ctx: _Ctx) -> np.ndarray:
    """One footstep: heel thump then toe scuff."""
    rng, sr = ctx.rng, ctx.sample_rate
    n = ctx.samples(0.3)
    heel = _burst(rng, n, sr, 0.025, 300.0, "lowpass") + _partials(
        n, sr, [rng.uniform(90.0, 140.0)], [0.6], [0.04]
    )
    toe = _burst(rng, n, sr, 0.03, (800.0, 4000.0)) * np.float32(0.4)
    x = heel.copy()
    _add(x, toe, ctx.samples(rng.uniform(0.05, 0.08)))
    return x


def _sfx_footsteps(ctx: _Ctx, n: int) -> np.ndarray:
    """Walking footsteps, about two per second, alternating feet a little left and right."""
    x = np.zeros((n, 2), np.float32)
    t_s, i, last_start = min(0.05, 0.2 * n / ctx.sample_rate), 0, max(0, n - ctx.samples(0.25))
    while True:
        start = seconds_to_samples(t_s, ctx.sample_rate)
        if i > 0 and start > last_start:
            break
        _add(x, _pan(_step(ctx), 0.15 if i % 2 else -0.15), start, ctx.rng.uniform(0.8, 1.0))
        i += 1
        t_s += 0.52 * ctx.rng.uniform(0.96, 1.04)
    return x


def _gate(
    n: int, sample_rate: int, on_spans_s: list[tuple[float, float]], ramp_s: float = 0.005
) -> np.ndarray:
    """0/1 gate open during each (start, end) span, with short linear ramps, float32 ``(n,)``."""
    t = _time_s(n, sample_rate)
    g = np.zeros(n)
    for a, b in on_spans_s:
        g = np.maximum(g, np.clip(np.minimum(t - a, b - t) / ramp_s, 0.0, 1.0))
    return g.astype(np.float32)


def _sfx_phone_ring(ctx: _Ctx, n: int) -> np.ndarray:
    """A phone ringing: 400 + 450 Hz tones in a ring-ring… pause cadence (0.4 on, 0.2 off, 0.4 on,
    2.0 off), repeated to fill the length."""
    sr = ctx.sample_rate
    spans = []
    for cycle in np.arange(0.0, n / sr, 3.0):
        spans += [(cycle + 0.02, cycle + 0.42), (cycle + 0.62, cycle + 1.02)]
    t = _time_s(n, sr)
    tone = (
        np.sin(2 * math.pi * 400.0 * t)
        + np.sin(2 * math.pi * 450.0 * t)
        + 0.1 * np.sin(2 * math.pi * 1200.0 * t)
    )
    return tone.astype(np.float32) * _gate(n, sr, spans)


_BELL_RATIOS = (0.5, 1.0, 1.19, 1.5, 2.0, 2.52, 2.66, 3.01, 4.17, 5.43)
_BELL_AMPS = (0.6, 1.0, 0.6, 0.4, 0.5, 0.25, 0.2, 0.15, 0.1, 0.06)


def _sfx_bell(ctx: _Ctx, n: int) -> np.ndarray:
    """A struck bell: inharmonic partials with long decays; longer than 6 s tolls every 3 s."""
    rng, sr = ctx.rng, ctx.sample_rate
    f0 = rng.uniform(380.0, 620.0)
    ring_s = min(n / sr, 6.0)
    decays = [ring_s * 0.3 / r**0.7 for r in _BELL_RATIOS]
    strike = _partials(ctx.samples(ring_s), sr, [f0 * r for r in _BELL_RATIOS], _BELL_AMPS, decays, rng)
    strike += _burst(rng, strike.shape[0], sr, 0.004, 2000.0, "highpass") * np.float32(0.3)
    x = np.zeros(n, np.float32)
    for start in _repeats(n, sr, 0.0, 3.0 if n / sr > 6.0 else n / sr + 1.0, 1.5):
        _add(x, strike, start)
    return x


def _sfx_thunder_clap(ctx: _Ctx, n: int) -> np.ndarray:
    """A near thunder clap: a sharp crack and crackles, then a long low rumble filling the length."""
    rng, sr = ctx.rng, ctx.sample_rate
    rumble = _unit(_filt(_white(rng, n), "lowpass", rng.uniform(100.0, 160.0), sr, order=4))
    t = _time_s(n, sr)
    env = (1.0 - np.exp(-t / 0.08)) * np.exp(-t / max(0.3 * n / sr, 0.05))
    x = rumble * (env / env.max()).astype(np.float32)[:, None]
    crack = np.zeros(n, np.float32)
    for i in range(int(rng.integers(3, 7))):
        start = 0 if i == 0 else ctx.samples(rng.uniform(0.03, 0.4))
        _add(
            crack,
            _burst(rng, ctx.samples(0.2), sr, rng.uniform(0.01, 0.04), 800.0, "highpass"),
            start,
            1.0 / (1 + i),
        )
    return x + _pan(crack * np.float32(1.2), 0.0)


def _sfx_glass_clink(ctx: _Ctx, n: int) -> np.ndarray:
    """Glasses clinking (a toast); longer requests clink again every second."""
    x = np.zeros(n, np.float32)
    for start in _repeats(n, ctx.sample_rate, 0.01, 1.0, 0.3):
        _add(x, _clink(ctx), start)
    return x


def _shard(ctx: _Ctx) -> np.ndarray:
    rng, sr = ctx.rng, ctx.sample_rate
    n = ctx.samples(0.2)
    f = rng.uniform(2500.0, 9000.0)
    return _partials(n, sr, [f, f * rng.uniform(1.4, 2.3)], [1.0, 0.5], [rng.uniform(0.01, 0.08)] * 2, rng)


def _sfx_glass_shatter(ctx: _Ctx, n: int) -> np.ndarray:
    """Glass shattering: a bright crash then shards tinkling and bouncing, thinning out over the length."""
    rng, sr = ctx.rng, ctx.sample_rate
    dur_s = n / sr
    crash = _burst(rng, min(n, ctx.samples(0.6)), sr, 0.08, 1500.0, "highpass")
    x = _pan(np.pad(crash, (0, n - crash.shape[0])), 0.0) * np.float32(0.8)
    count = int(40 + 30 * dur_s)
    times_s = np.minimum(rng.exponential(0.12 + 0.15 * dur_s, count), dur_s * 0.95)
    starts = (times_s * sr).astype(np.int64)
    gains = np.exp(-times_s / (0.3 + 0.2 * dur_s))
    for s, g in zip(starts, gains, strict=True):
        _add(x, _pan(_shard(ctx), rng.uniform(-0.8, 0.8)), int(s), 0.5 * g * rng.uniform(0.3, 1.0))
    return x


def _sfx_click(ctx: _Ctx, n: int) -> np.ndarray:
    """A click (switch, lock, camera): two small mechanical transients 25–40 ms apart, each a tick
    with a short body ring; silence after."""
    rng, sr = ctx.rng, ctx.sample_rate
    x = np.zeros(n, np.float32)
    m = ctx.samples(0.08)
    for i, start in enumerate((ctx.samples(0.005), ctx.samples(0.005 + rng.uniform(0.025, 0.04)))):
        body = _partials(
            m, sr, [rng.uniform(2500.0, 4000.0), rng.uniform(900.0, 1500.0)], [0.5, 0.4], [0.012, 0.025], rng
        )
        _add(x, _burst(rng, m, sr, 0.003, (2000.0, 6000.0)) + body, start, 1.0 if i == 0 else 0.6)
    return x


def _sfx_whoosh(ctx: _Ctx, n: int) -> np.ndarray:
    """A whoosh: noise whose band sweeps up (≈250 Hz → 3 kHz) and back down as it swells and fades,
    crossing left → right."""
    rng, sr = ctx.rng, ctx.sample_rate
    noise = _white(rng, n, 1)
    centers = np.geomspace(250.0, min(3000.0, 0.4 * sr), 8)
    hump = _window(n, rng.uniform(0.45, 0.65)).astype(np.float64)
    position = np.log(centers[0]) + (np.log(centers[-1]) - np.log(centers[0])) * hump
    x = np.zeros(n, np.float32)
    for c in centers:
        pink = math.sqrt(centers[0] / c)  # equal energy per band, not per hertz
        weight = (pink * np.exp(-((position - np.log(c)) ** 2) / (2 * 0.35**2))).astype(np.float32)
        x += _filt(noise, "bandpass", (c / 1.4, c * 1.4), sr)[:, 0] * weight
    return _pan(x * hump.astype(np.float32) ** 0.5, np.linspace(-0.7, 0.7, n))


def _sfx_alarm(ctx: _Ctx, n: int) -> np.ndarray:
    """An alarm: a bright square-ish beep, 0.25 s on / 0.25 s off, repeated over the length."""
    sr = ctx.sample_rate
    f = ctx.rng.uniform(1800.0, 2600.0)
    tone = _sweep(np.full(n, f), sr, (1.0, 0.0, 1 / 3, 0.0, 1 / 5))
    spans = [(a, a + 0.25) for a in np.arange(0.01, n / sr, 0.5)]
    return tone * _gate(n, sr, spans, 0.003)


def _sfx_siren(ctx: _Ctx, n: int) -> np.ndarray:
    """A siren wailing between about 650 and 1150 Hz every ~1.6 s."""
    rng, sr = ctx.rng, ctx.sample_rate
    t = _time_s(n, sr)
    period = rng.uniform(1.4, 1.8)
    f = 650.0 + 500.0 * (0.5 - 0.5 * np.cos(2 * math.pi * t / period))
    edge = min(ctx.samples(0.05), n // 2)
    env = np.ones(n, np.float32)
    if edge:
        env[:edge], env[n - edge :] = equal_power_fade_in(edge), equal_power_fade_out(edge)
    return _sweep(f, sr, (1.0, 0.3, 0.15)) * env


def _sfx_gunshot(ctx: _Ctx, n: int) -> np.ndarray:
    """A gunshot: a sharp crack, a low boom and a reverberant tail; silence after the tail."""
    rng, sr = ctx.rng, ctx.sample_rate
    m = min(n, ctx.samples(1.5))
    crack = _burst(rng, m, sr, 0.004, 1000.0, "highpass")
    boom = _burst(rng, m, sr, 0.06, 300.0, "lowpass") + _partials(
        m, sr, [rng.uniform(50.0, 70.0)], [0.7], [0.1]
    )
    tail = (
        _filt(_white(rng, m), "lowpass", 1500.0, sr) * _decay(m, sr, 0.35, 0.01)[:, None] * np.float32(0.12)
    )
    x = _pan(crack * np.float32(0.7) + boom, 0.0) + tail
    return np.pad(x, ((0, n - m), (0, 0)))


def _sfx_splash(ctx: _Ctx, n: int) -> np.ndarray:
    """A splash: a low slap, a spray of noise and bubbles rising in pitch."""
    rng, sr = ctx.rng, ctx.sample_rate
    x = _burst(rng, n, sr, 0.05, 400.0, "lowpass") * np.float32(0.8)
    x += (
        _filt(_white(rng, n, 1), "bandpass", (600.0, 5000.0), sr)[:, 0]
        * _decay(n, sr, 0.25 * max(1.0, n / sr / 1.2), 0.01)
        * np.float32(0.35)
    )
    for _ in range(25):
        _add(x, _bubble(ctx), ctx.samples(rng.uniform(0.05, 0.7) * n / sr), rng.uniform(0.1, 0.4))
    return x


def _key(ctx: _Ctx, space: bool) -> np.ndarray:
    rng, sr = ctx.rng, ctx.sample_rate
    n = ctx.samples(0.08)
    click = _burst(rng, n, sr, 0.004, (2000.0, 5000.0))
    thock = _partials(
        n, sr, [rng.uniform(150.0, 220.0) if space else rng.uniform(250.0, 400.0)], [0.6], [0.012]
    )
    return (click * np.float32(0.6 if space else 1.0) + thock * np.float32(1.6 if space else 1.0)).astype(
        np.float32
    )


def _sfx_typing(ctx: _Ctx, n: int) -> np.ndarray:
    """Typing on a keyboard: ~7 keys a second in words of 3–7 keys, a space bar after each word."""
    rng, sr = ctx.rng, ctx.sample_rate
    x = np.zeros((n, 2), np.float32)
    keys = [_key(ctx, False) for _ in range(6)]
    space = _key(ctx, True)
    t_s, left_in_word = 0.02, int(rng.integers(3, 8))
    while True:
        grain = space if left_in_word == 0 else keys[int(rng.integers(0, len(keys)))]
        _add(x, _pan(grain, rng.uniform(-0.3, 0.3)), seconds_to_samples(t_s, sr), rng.uniform(0.6, 1.0))
        left_in_word = int(rng.integers(3, 8)) if left_in_word == 0 else left_in_word - 1
        t_s += rng.uniform(0.09, 0.18) + (0.15 if left_in_word == 0 else 0.0)
        if seconds_to_samples(t_s, sr) > n - ctx.samples(0.03):
            return x


def _sfx_impact(ctx: _Ctx, n: int) -> np.ndarray:
    """A soft, generic thud (also the one-shot used when nothing matches)."""
    rng, sr = ctx.rng, ctx.sample_rate
    m = min(n, ctx.samples(0.6))
    x = _burst(rng, m, sr, 0.06, 200.0, "lowpass") + _partials(
        m, sr, [rng.uniform(60.0, 80.0)], [0.8], [0.12]
    )
    return np.pad(x, (0, n - m))


# --------------------------------------------------------------------------------------------------
# Catalogue


def _kw(text: str) -> tuple[str, ...]:
    """Keywords written as one comma-separated string."""
    return tuple(word.strip() for word in text.split(","))


@dataclass(frozen=True)
class _Scene:
    name: str
    keywords: tuple[str, ...]
    render: Callable[[_Ctx, np.ndarray, float], None]


@dataclass(frozen=True)
class _OneShot:
    name: str
    keywords: tuple[str, ...]  # specific: win over any generic keyword
    nominal_s: float
    render: Callable[[_Ctx, int], np.ndarray]
    generic: tuple[str, ...] = ()  # used only when no specific keyword matches ("door", "glass")


_SCENES: tuple[_Scene, ...] = (
    _Scene(
        "rain",
        _kw("rain, rainy, raining, rainfall, drizzle, drizzling, downpour, tin roof, 雨, 下雨, 雨声"),
        _bed_rain,
    ),
    _Scene(
        "thunderstorm",
        _kw("thunder, thunderstorm, thunderstorms, lightning, 雷, 雷声, 雷雨, 打雷, 闪电"),
        _bed_thunderstorm,
    ),
    _Scene(
        "wind",
        _kw("wind, windy, winds, breeze, breezy, gust, gusts, gale, blizzard, 风, 风声, 大风, 微风"),
        _bed_wind,
    ),
    _Scene(
        "ocean",
        _kw("ocean, sea, seaside, waves, wave, beach, shore, surf, coast, 海, 海浪, 海边, 浪, 沙滩"),
        _bed_ocean,
    ),
    _Scene(
        "river",
        _kw("river, stream, brook, creek, running water, babbling, 河, 小河, 溪, 小溪, 流水, 江"),
        _bed_river,
    ),
    _Scene(
        "fire",
        _kw("fire, fireplace, campfire, bonfire, hearth, flames, crackling, 火, 篝火, 壁炉, 火堆"),
        _bed_fire,
    ),
    _Scene(
        "forest",
        _kw("forest, woods, woodland, bird, birds, birdsong, jungle, park, 鸟, 鸟鸣, 森林, 树林"),
        _bed_forest,
    ),
    _Scene(
        "insects",
        _kw(
            "insects, insect, crickets, cricket, cicadas, cicada, katydid, night insects, 虫, 虫鸣, 蟋蟀, 蝉, 夏夜"
        ),
        _bed_insects,
    ),
    _Scene(
        "traffic",
        _kw(
            "traffic, city, street, streets, cars, road, highway, urban, downtown, 街, 街道, 城市, 交通, 马路, 车流"
        ),
        _bed_traffic,
    ),
    _Scene(
        "cafe",
        _kw(
            "cafe, café, coffee, coffee shop, restaurant, crowd, chatter, bar, pub, diner, canteen, 咖啡, 咖啡馆, 咖啡厅, 餐厅, 人群, 酒吧"
        ),
        _bed_cafe,
    ),
    _Scene(
        "room_tone",
        _kw(
            "room tone, roomtone, office, room, indoors, indoor, hvac, air conditioning, 办公室, 房间, 室内, 安静"
        ),
        _bed_room_tone,
    ),
    _Scene(
        "train",
        _kw("train, railway, railroad, subway, metro, carriage, tram, 火车, 地铁, 列车, 高铁, 车厢"),
        _bed_train,
    ),
    _Scene(
        "car",
        _kw("car, car interior, in the car, driving, taxi, vehicle, 车, 汽车, 车内, 开车, 出租车"),
        _bed_car,
    ),
)

FALLBACK_SCENE = "room_tone"

_ONE_SHOTS: tuple[_OneShot, ...] = (
    _OneShot("door_knock", _kw("knock, knocks, knocking, knocked, 敲门, 敲"), 0.9, _sfx_door_knock),
    _OneShot(
        "door_creak",
        _kw("creak, creaks, creaking, creaky, squeak, squeaky, hinge, 吱呀, 吱"),
        1.8,
        _sfx_door_creak,
        _kw("door, doors, 门, 开门"),
    ),
    _OneShot(
        "footsteps", _kw("footsteps, footstep, steps, walking, walk, 脚步, 脚步声, 走路"), 2.5, _sfx_footsteps
    ),
    _OneShot(
        "phone_ring",
        _kw("phone, telephone, cellphone, ringtone, 电话, 手机, 来电"),
        3.0,
        _sfx_phone_ring,
        _kw("ring, ringing, 铃声"),
    ),
    _OneShot(
        "bell",
        _kw("bell, bells, doorbell, church bell, chime, chimes, gong, toll, 钟, 钟声, 门铃, 铃铛"),
        4.0,
        _sfx_bell,
        _kw("铃"),
    ),
    _OneShot(
        "thunder_clap",
        _kw("thunder, thunderclap, thunder clap, lightning, 雷, 雷声, 打雷, 霹雳"),
        5.0,
        _sfx_thunder_clap,
    ),
    _OneShot(
        "glass_clink",
        _kw("clink, clinking, toast, cheers, 碰杯, 叮"),
        0.9,
        _sfx_glass_clink,
        _kw("glass, glasses, wine glass, 玻璃, 杯"),
    ),
    _OneShot(
        "glass_shatter",
        _kw(
            "shatter, shatters, shattering, shattered, smash, smashing, smashed, break, breaks, breaking, broken, 碎, 打碎, 摔碎, 破碎"
        ),
        2.0,
        _sfx_glass_shatter,
    ),
    _OneShot(
        "click",
        _kw(
            "click, clicks, clicking, switch, light switch, lock, unlock, latch, camera, button, 咔, 咔嚓, 咔哒, 开关, 按钮, 锁"
        ),
        0.15,
        _sfx_click,
    ),
    _OneShot(
        "whoosh",
        _kw("whoosh, swoosh, woosh, swish, swoop, swipe, flyby, fly by, 嗖, 嗖嗖, 呼啸"),
        1.0,
        _sfx_whoosh,
    ),
    _OneShot(
        "alarm",
        _kw("alarm, alarm clock, beep, beeps, beeping, buzzer, 警报, 闹钟, 哔, 蜂鸣"),
        2.0,
        _sfx_alarm,
    ),
    _OneShot("siren", _kw("siren, sirens, police, ambulance, 警笛, 警车, 救护车"), 4.0, _sfx_siren),
    _OneShot(
        "gunshot",
        _kw("gunshot, gunshots, gun, shot, shots, gunfire, pistol, rifle, bang, 枪, 枪声, 开枪"),
        1.5,
        _sfx_gunshot,
    ),
    _OneShot(
        "splash",
        _kw("splash, splashing, splashes, plop, dive, 水花, 扑通, 溅, 落水"),
        1.2,
        _sfx_splash,
        _kw("water, 水"),
    ),
    _OneShot("typing", _kw("typing, keyboard, typewriter, keystrokes, 打字, 键盘"), 3.0, _sfx_typing),
    _OneShot(
        "impact", _kw("thud, impact, hit, bump, punch, slam, drop, fall, 撞, 砰, 关门, 摔"), 0.6, _sfx_impact
    ),
)

FALLBACK_SFX = "impact"

_SCENE_BY_NAME = {s.name: s for s in _SCENES}
_ONE_SHOT_BY_NAME = {o.name: o for o in _ONE_SHOTS}

SCENE_KEYWORDS: dict[str, tuple[str, ...]] = {s.name: s.keywords for s in _SCENES}
SFX_KEYWORDS: dict[str, tuple[str, ...]] = {o.name: o.keywords + o.generic for o in _ONE_SHOTS}
SFX_NOMINAL_S: dict[str, float] = {o.name: o.nominal_s for o in _ONE_SHOTS}


# --------------------------------------------------------------------------------------------------
# Matching prompts


_LOUDER = (
    "heavy",
    "loud",
    "storm",
    "stormy",
    "strong",
    "intense",
    "pouring",
    "torrential",
    "busy",
    "raging",
    "roaring",
    "wild",
    "大",
    "暴",
    "猛",
    "强",
    "倾盆",
)
_SOFTER = (
    "light",
    "gentle",
    "soft",
    "quiet",
    "faint",
    "calm",
    "soothing",
    "mild",
    "little",
    "小",
    "轻",
    "微",
    "细",
    "静",
)
_DISTANT = (
    "distant",
    "far",
    "far away",
    "far-off",
    "faraway",
    "in the distance",
    "remote",
    "muffled",
    "远",
    "遥远",
    "远处",
)
_CLAUSE_BREAK = re.compile(
    r"[,;.!?:，。；！？、：/()（）]|\b(?:and|with|plus|over|under|behind|while)\b|和|与|加上|还有|伴随|夹杂|伴着|混着"
)
_LATIN = "a-z0-9à-öø-ÿ"


@functools.lru_cache(maxsize=512)
def _pattern(keyword: str) -> re.Pattern[str]:
    """Latin keywords match whole words ("car" not in "scary"); CJK keywords match anywhere."""
    escaped = re.escape(keyword.lower())
    if re.match(f"[{_LATIN}]", keyword.lower()):
        return re.compile(f"(?<![{_LATIN}]){escaped}(?![{_LATIN}])")
    return re.compile(escaped)


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    name: str
    generic: bool = False


def _hits(text: str, entries: list[tuple[str, str, bool]]) -> list[_Hit]:
    """Every keyword occurrence; where occurrences overlap, the longest wins ("火车" is a train, not fire)."""
    found = [
        _Hit(m.start(), m.end(), name, generic)
        for name, keyword, generic in entries
        for m in _pattern(keyword).finditer(text)
    ]
    found.sort(key=lambda h: (-(h.end - h.start), h.start))
    kept: list[_Hit] = []
    for hit in found:
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def _has_any(text: str, words: tuple[str, ...]) -> bool:
    return any(_pattern(w).search(text) for w in words)


@dataclass(frozen=True)
class _Layer:
    scene: _Scene
    gain_db: float = 0.0
    intensity: float = 1.0
    lowpass_hz: float | None = None


def _shape(text: str) -> tuple[float, float, float | None]:
    """(gain_db, intensity, lowpass_hz) implied by the adjectives in ``text``."""
    gain_db, intensity, lowpass_hz = 0.0, 1.0, None
    if _has_any(text, _LOUDER):
        gain_db, intensity = gain_db + LOUDER_GAIN_DB, intensity * LOUDER_INTENSITY
    if _has_any(text, _SOFTER):
        gain_db, intensity = gain_db + SOFTER_GAIN_DB, intensity * SOFTER_INTENSITY
    if _has_any(text, _DISTANT):
        gain_db, lowpass_hz = gain_db + DISTANT_GAIN_DB, DISTANT_LOWPASS_HZ
    return gain_db, intensity, lowpass_hz


def _clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the clauses of ``text``, split at punctuation and words like "with"."""
    cuts = [0] + [p for m in _CLAUSE_BREAK.finditer(text) for p in (m.start(), m.end())] + [len(text)]
    return [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=True) if b > a]


def _plan_bed(prompt: str) -> list[_Layer]:
    """The scenes a bed prompt asks for (≤ ``MAX_LAYERS``, in prompt order), each shaped by the
    adjectives of its own clause, or of clauses that name no scene."""
    text = prompt.lower()
    entries = [(s.name, kw, False) for s in _SCENES for kw in s.keywords]
    hits = _hits(text, entries)
    firsts: dict[str, _Hit] = {}
    for hit in hits:
        firsts.setdefault(hit.name, hit)
    clauses = _clauses(text)
    sceneless = " ".join(text[a:b] for a, b in clauses if not any(a <= h.start < b for h in hits))
    layers = []
    for index, hit in enumerate(list(firsts.values())[:MAX_LAYERS]):
        a, b = next(((a, b) for a, b in clauses if a <= hit.start < b), (0, len(text)))
        gain_db, intensity, lowpass_hz = _shape(text[a:b] + " " + sceneless)
        offset = LAYER_OFFSETS_DB[min(index, len(LAYER_OFFSETS_DB) - 1)]
        layers.append(
            _Layer(
                _SCENE_BY_NAME[hit.name], gain_db + offset, float(np.clip(intensity, 0.3, 2.5)), lowpass_hz
            )
        )
    return layers


def _pick_sfx(prompt: str) -> _OneShot | None:
    """The one-shot a prompt asks for: the first specific keyword, else the first generic one."""
    text = prompt.lower()
    entries = [(o.name, kw, False) for o in _ONE_SHOTS for kw in o.keywords]
    entries += [(o.name, kw, True) for o in _ONE_SHOTS for kw in o.generic]
    hits = _hits(text, entries)
    specific = [h for h in hits if not h.generic]
    chosen = (specific or hits or [None])[0]
    return None if chosen is None else _ONE_SHOT_BY_NAME[chosen.name]


# --------------------------------------------------------------------------------------------------
# Levels


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


# --------------------------------------------------------------------------------------------------
# The backend


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
