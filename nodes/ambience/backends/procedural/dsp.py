"""DSP primitives for procedural ambience: seeded randomness, noise, Butterworth filters,
resonators, decaying partials, oscillators, envelopes, panning and grain mixing.
"""

from __future__ import annotations

import functools
import hashlib
import math

import numpy as np
from scipy import signal

from nodes.common.audio import seconds_to_samples

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
