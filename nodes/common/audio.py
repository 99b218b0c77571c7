"""Audio helpers shared by every stage.

Contract: audio is a float32 numpy array shaped ``(samples, channels)``; every function that looks at
audio takes its ``sample_rate``. The mix runs at ``MIX_SAMPLE_RATE`` in stereo.
"""

from __future__ import annotations

import math

import numpy as np

MIX_SAMPLE_RATE = 44100
MIX_CHANNELS = 2
SILENCE_LUFS = -70.0  # BS.1770 absolute gate: anything quieter measures as silence
TRUE_PEAK_OVERSAMPLE = 4


def as_2d(audio: np.ndarray) -> np.ndarray:
    """Return float32 audio shaped (samples, channels); a 1-D array becomes one channel."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"audio must be 1-D or 2-D, got shape {x.shape}")
    return x


def to_stereo(audio: np.ndarray, pan: float = 0.0) -> np.ndarray:
    """Mono → stereo with a constant-power pan law (pan -1 = left, +1 = right); stereo passes through."""
    x = as_2d(audio)
    if x.shape[1] == 2:
        return x
    if x.shape[1] != 1:
        raise ValueError(f"cannot make stereo from {x.shape[1]} channels")
    angle = (min(max(pan, -1.0), 1.0) + 1.0) * math.pi / 4.0
    # At pan 0 both channels get 1/sqrt(2); normalise so centre keeps unity gain per channel.
    left, right = math.cos(angle) * math.sqrt(2.0), math.sin(angle) * math.sqrt(2.0)
    return np.concatenate([x * left, x * right], axis=1).astype(np.float32)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample with soxr (HQ); identity when the rates match."""
    x = as_2d(audio)
    if from_rate == to_rate or x.shape[0] == 0:
        return x
    import soxr

    return np.ascontiguousarray(soxr.resample(x, from_rate, to_rate), dtype=np.float32)


def db_to_gain(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


def gain_to_db(gain: float) -> float:
    return float(20.0 * math.log10(gain)) if gain > 0 else -math.inf


BLOCK_S, HOP_S = 0.4, 0.1  # BS.1770 gating blocks: 400 ms with 75 % overlap
ABSOLUTE_GATE_LUFS, RELATIVE_GATE_LU = -70.0, -10.0


def k_weighted(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """BS.1770 K-weighting (pyloudnorm's coefficients for this rate), float64 (samples, channels)."""
    import pyloudnorm
    from scipy.signal import lfilter

    y = np.ascontiguousarray(as_2d(audio).T, dtype=np.float64)  # filter along contiguous rows: faster
    for stage in pyloudnorm.Meter(sample_rate)._filters.values():
        y = stage.passband_gain * lfilter(stage.b, stage.a, y, axis=-1)
    return y.T


def block_powers(weighted: np.ndarray, sample_rate: int, power_gain: np.ndarray | None = None) -> np.ndarray:
    """Mean square per gating block, summed over channels (all BS.1770 stereo weights are 1).

    ``power_gain`` (per sample, optional) multiplies the squared signal: the loudness of
    ``weighted * sqrt(power_gain)`` without rebuilding it, used while mastering iterates on gain.
    """
    block, hop = int(round(BLOCK_S * sample_rate)), int(round(HOP_S * sample_rate))
    if weighted.shape[0] < block:
        return np.zeros(0)
    energy = weighted[:, 0] ** 2
    for c in range(1, weighted.shape[1]):
        energy = energy + weighted[:, c] ** 2
    if power_gain is not None:
        energy = energy * power_gain
    cumulative = np.concatenate([[0.0], np.cumsum(energy)])
    starts = np.arange(0, weighted.shape[0] - block + 1, hop)
    return (cumulative[starts + block] - cumulative[starts]) / block


def gated_loudness(powers: np.ndarray) -> float:
    """Integrated loudness from block powers with the absolute and relative gates; ``-inf`` if none pass."""
    if powers.size == 0:
        return -math.inf
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(powers)
    above_absolute = powers[block_lufs > ABSOLUTE_GATE_LUFS]
    if above_absolute.size == 0:
        return -math.inf
    relative_gate = -0.691 + 10.0 * math.log10(above_absolute.mean()) + RELATIVE_GATE_LU
    gated = powers[(block_lufs > ABSOLUTE_GATE_LUFS) & (block_lufs > relative_gate)]
    return -0.691 + 10.0 * math.log10(gated.mean()) if gated.size else -math.inf


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """ITU-R BS.1770-4 integrated loudness. Silence or < 400 ms of audio → ``-inf``.

    Vectorised (cumulative sums instead of a loop per block); agrees with pyloudnorm within 0.05 LU.
    """
    x = as_2d(audio)
    if x.shape[0] < int(BLOCK_S * sample_rate) or not np.any(x):
        return -math.inf
    return gated_loudness(block_powers(k_weighted(x, sample_rate), sample_rate))


def max_momentary_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Loudest 400 ms window (BS.1770 momentary loudness); short sounds are zero-padded.

    Used for one-shots, whose integrated loudness is dominated by gating.
    """
    x = as_2d(audio)
    block = int(round(BLOCK_S * sample_rate))
    if x.shape[0] < block:
        x = np.concatenate([x, np.zeros((block - x.shape[0], x.shape[1]), dtype=x.dtype)])
    powers = block_powers(k_weighted(x, sample_rate), sample_rate)
    peak = float(powers.max()) if powers.size else 0.0
    return -0.691 + 10.0 * math.log10(peak) if peak > 0 else -math.inf


def oversampled_peak(audio: np.ndarray, sample_rate: int, oversample: int = TRUE_PEAK_OVERSAMPLE) -> np.ndarray:
    """Per original sample, the largest |value| among its ``oversample`` interpolated points (all channels)."""
    import soxr

    x = as_2d(audio)
    n = x.shape[0]
    if n == 0:
        return np.zeros(0)
    up = _abs_max_over_columns(soxr.resample(x, sample_rate, sample_rate * oversample))
    up = np.pad(up, (0, max(0, n * oversample - len(up))))[: n * oversample]
    return np.maximum(_abs_max_over_columns(up.reshape(n, oversample)), _abs_max_over_columns(x))


def _abs_max_over_columns(x: np.ndarray) -> np.ndarray:
    """``np.abs(x).max(axis=1)`` for few columns, without numpy's slow short-axis reduction."""
    out = np.abs(x[:, 0])
    for c in range(1, x.shape[1]):
        np.maximum(out, np.abs(x[:, c]), out=out)
    return out


def true_peak_dbtp(audio: np.ndarray, sample_rate: int, oversample: int = TRUE_PEAK_OVERSAMPLE) -> float:
    """True peak in dBTP: the peak of a ``oversample``× upsampled copy (BS.1770 annex 2 style)."""
    peaks = oversampled_peak(audio, sample_rate, oversample)
    return gain_to_db(float(peaks.max())) if peaks.size else -math.inf


def sample_peak_dbfs(audio: np.ndarray) -> float:
    x = as_2d(audio)
    return gain_to_db(float(np.max(np.abs(x)))) if x.size else -math.inf


def equal_power_fade_in(n: int) -> np.ndarray:
    """Gain curve of length ``n`` from 0 to 1 whose square sums with its fade-out mirror to 1."""
    if n <= 0:
        return np.ones(0, dtype=np.float32)
    t = (np.arange(n, dtype=np.float64) + 0.5) / n
    return np.sin(t * math.pi / 2.0).astype(np.float32)


def equal_power_fade_out(n: int) -> np.ndarray:
    return equal_power_fade_in(n)[::-1].copy()


def seconds_to_samples(duration_s: float, sample_rate: int) -> int:
    """Round a duration to whole samples (the one place that does it, so every stage agrees)."""
    return int(round(duration_s * sample_rate))
