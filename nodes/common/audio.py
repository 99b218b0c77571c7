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


BLOCK_HOPS = 4  # BS.1770 gating blocks: 400 ms made of four 100 ms hops (75 % overlap)
ABSOLUTE_GATE_LUFS, RELATIVE_GATE_LU = -70.0, -10.0
CHUNK_SAMPLES = 1 << 19  # long signals are processed in chunks of this many samples to bound memory
OVERSAMPLE_MARGIN = 1024  # samples of context either side of a chunk when oversampling


def hop_samples(sample_rate: int) -> int:
    return int(round(0.1 * sample_rate))


def k_weighting(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The BS.1770 K-weighting pre-filter as two biquads ``(b, a)``, normalised by ``a[0]``: a high shelf
    (+4 dB, Q 1/√2, 1500 Hz) then a high pass (Q 0.5, 38 Hz), from the RBJ audio-EQ cookbook. These are
    the coefficients pyloudnorm's ``Meter`` uses, evaluated in the same order so that they are equal to
    the bit (a test checks), without importing pyloudnorm and scipy.signal in every node."""
    w0 = 2.0 * np.pi * (1500.0 / sample_rate)
    shelf_gain = 10 ** (4.0 / 40.0)
    alpha = np.sin(w0) / (2.0 * (1 / np.sqrt(2)))
    cos_w0, root = np.cos(w0), 2 * np.sqrt(shelf_gain) * alpha
    up, down = shelf_gain + 1, shelf_gain - 1
    shelf_b = [shelf_gain * (up + down * cos_w0 + root), -2 * shelf_gain * (down + up * cos_w0),
               shelf_gain * (up + down * cos_w0 - root)]
    shelf_a = [up - down * cos_w0 + root, 2 * (down - up * cos_w0), up - down * cos_w0 - root]
    w0 = 2.0 * np.pi * (38.0 / sample_rate)
    alpha, cos_w0 = np.sin(w0) / (2.0 * 0.5), np.cos(w0)
    pass_b = [(1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2]
    pass_a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    return [(np.array(b) / a[0], np.array(a) / a[0]) for b, a in ((shelf_b, shelf_a), (pass_b, pass_a))]


def k_weighted_energy(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per-sample sum over channels of the squared BS.1770 K-weighted signal, float32 (samples,).

    Filters chunk by chunk, carrying the filter state. All BS.1770 stereo channel weights are 1.
    """
    x = _rows(audio)
    energy = np.empty(x.shape[0], dtype=np.float32)
    for start, part in _k_weighted_chunks(x, sample_rate):
        energy[start:start + len(part)] = part
    return energy


def _rows(audio: np.ndarray) -> np.ndarray:
    """``as_2d``, except that int16 PCM stays int16 (the measurements convert it chunk by chunk)."""
    x = np.asarray(audio)
    if x.dtype == np.int16:
        return x[:, None] if x.ndim == 1 else x
    return as_2d(x)


def _float_rows(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) as float32; int16 PCM scaled by 1/32768 (exact: the same values a float copy of
    the whole would hold)."""
    part = x[start:stop]
    if part.dtype == np.int16:
        return part.astype(np.float32) * np.float32(1.0 / 32768.0)
    return part


def _blocks(x: np.ndarray):
    """Consecutive float32 blocks of ``CHUNK_SAMPLES`` rows of ``x`` (int16 converted block by block)."""
    for start in range(0, x.shape[0], CHUNK_SAMPLES):
        yield _float_rows(x, start, start + CHUNK_SAMPLES)


def _k_weighted_chunks(x: np.ndarray, sample_rate: int):
    """(start, per-sample energy of rows [start, start + CHUNK_SAMPLES)) for each chunk, in order."""
    start = 0
    for energy in _k_weighted_blocks(_blocks(x), sample_rate):
        yield start, energy
        start += len(energy)


def _k_weighted_blocks(blocks, sample_rate: int):
    """The per-sample K-weighted energy of each block in turn, the filters' state carried across."""
    stages = k_weighting(sample_rate)
    states = None
    for block in blocks:
        energy, states = k_weight_block(block, stages, states)
        yield energy


def k_weight_block(block: np.ndarray, stages: list[tuple[np.ndarray, np.ndarray]], states: list | None):
    """(per-sample K-weighted energy of ``block``, the filters' state after it), starting from ``states``
    (None: at rest). Filtering a signal block by block this way gives the bits of filtering it whole."""
    from nodes.common.iir import linear_filter

    if states is None:
        states = [np.zeros((block.shape[1], max(len(a), len(b)) - 1)) for b, a in stages]
    y = np.ascontiguousarray(block.T, dtype=np.float64)
    after = []
    for (b, a), state in zip(stages, states, strict=True):
        y, state = linear_filter(b, a, y, state)
        after.append(state)
    return np.einsum("ij,ij->j", y, y).astype(np.float32), after


def _streamed_hop_energies(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``hop_energies(k_weighted_energy(audio))`` without the programme-length energy array: each hop is
    summed from the same float32 values in the same way (a test compares them to the bit)."""
    return _hops_of(_k_weighted_blocks(_blocks(_rows(audio)), sample_rate), sample_rate)


def _hops_of(energies, sample_rate: int) -> np.ndarray:
    """Hop energies from consecutive per-sample energy blocks, a partial hop carried to the next block."""
    hop = hop_samples(sample_rate)
    parts: list[np.ndarray] = []
    left = np.zeros(0, dtype=np.float32)
    for energy in energies:
        joined = np.concatenate([left, energy]) if len(left) else energy
        whole = len(joined) // hop * hop
        parts.append(joined[:whole].reshape(-1, hop).sum(axis=1, dtype=np.float64))
        left = joined[whole:].copy()
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)


def measure_blocks(blocks, sample_rate: int) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of audio that arrives as consecutive float32 blocks of
    ``CHUNK_SAMPLES`` rows (the last may be shorter), such as a decoder's: the numbers
    ``integrated_lufs`` and ``true_peak_dbtp`` give for the whole, without ever holding it."""
    rows, nonzero, peak = 0, False, -math.inf

    def measured():
        nonlocal rows, nonzero, peak
        for block, part in _peak_blocks(blocks, sample_rate, TRUE_PEAK_OVERSAMPLE):
            rows += len(block)
            nonzero = nonzero or bool(np.any(block))
            if part.size:
                peak = max(peak, float(part.max()))
            yield block

    hops = _hops_of(_k_weighted_blocks(measured(), sample_rate), sample_rate)
    short = rows < BLOCK_HOPS * hop_samples(sample_rate)
    return (-math.inf if short or not nonzero else gated_loudness(hops, sample_rate)), \
        (gain_to_db(peak) if math.isfinite(peak) else -math.inf)


def hop_energies(energy: np.ndarray, sample_rate: int) -> np.ndarray:
    """Sum of per-sample energy over each complete 100 ms hop (float64)."""
    hop = hop_samples(sample_rate)
    bins = len(energy) // hop
    return energy[: bins * hop].reshape(bins, hop).sum(axis=1, dtype=np.float64)


def gated_loudness(hops: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness from hop energies: 400 ms blocks, absolute and relative gates."""
    if len(hops) < BLOCK_HOPS:
        return -math.inf
    cumulative = np.concatenate([[0.0], np.cumsum(hops)])
    powers = (cumulative[BLOCK_HOPS:] - cumulative[:-BLOCK_HOPS]) / (BLOCK_HOPS * hop_samples(sample_rate))
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

    Vectorised and chunked; agrees with pyloudnorm within 0.05 LU.
    """
    x = _rows(audio)
    if x.shape[0] < BLOCK_HOPS * hop_samples(sample_rate) or not _any_nonzero(x):
        return -math.inf
    return gated_loudness(_streamed_hop_energies(x, sample_rate), sample_rate)


def _any_nonzero(x: np.ndarray) -> bool:
    return any(np.any(x[start:start + CHUNK_SAMPLES]) for start in range(0, x.shape[0], CHUNK_SAMPLES))


def max_momentary_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Loudest 400 ms window (BS.1770 momentary loudness, 100 ms steps); short sounds are zero-padded.

    Used for one-shots, whose integrated loudness is dominated by gating.
    """
    x = as_2d(audio)
    block = BLOCK_HOPS * hop_samples(sample_rate)
    if x.shape[0] < block:
        x = np.concatenate([x, np.zeros((block - x.shape[0], x.shape[1]), dtype=x.dtype)])
    hops = _streamed_hop_energies(x, sample_rate)
    if len(hops) < BLOCK_HOPS:
        return -math.inf
    window = np.convolve(hops, np.ones(BLOCK_HOPS), mode="valid") / block
    peak = float(window.max())
    return -0.691 + 10.0 * math.log10(peak) if peak > 0 else -math.inf


def oversampled_peak(audio: np.ndarray, sample_rate: int, oversample: int = TRUE_PEAK_OVERSAMPLE) -> np.ndarray:
    """Per original sample, the largest |value| among its ``oversample`` interpolated points (all
    channels), float32 (samples,). Chunked with overlapping context so chunk edges do not matter."""
    x = _rows(audio)
    peak = np.empty(x.shape[0], dtype=np.float32)
    for start, part in _oversampled_peak_chunks(x, sample_rate, oversample):
        peak[start:start + len(part)] = part
    return peak


def _oversampled_peak_chunks(x: np.ndarray, sample_rate: int, oversample: int):
    """(start, ``oversampled_peak`` of rows [start, start + CHUNK_SAMPLES)) for each chunk, in order."""
    start = 0
    for block, part in _peak_blocks(_blocks(x), sample_rate, oversample):
        yield start, part
        start += len(block)


def _peak_blocks(blocks, sample_rate: int, oversample: int):
    """(block, its per-sample oversampled peak) for consecutive blocks: each is upsampled with up to
    ``OVERSAMPLE_MARGIN`` rows of context on either side, the rows the whole signal has there (one block
    of look-ahead), so the result does not depend on where the blocks are cut."""
    before, pending = None, None
    for block in blocks:
        if pending is not None:
            yield pending, _block_peak(pending, before, block[:OVERSAMPLE_MARGIN], sample_rate, oversample)
            before = pending if before is None else np.concatenate([before, pending])
            before = before[-OVERSAMPLE_MARGIN:]
        pending = block
    if pending is not None:
        yield pending, _block_peak(pending, before, None, sample_rate, oversample)


def block_peak_at(x: np.ndarray, start: int, sample_rate: int, oversample: int = TRUE_PEAK_OVERSAMPLE) -> np.ndarray:
    """``oversampled_peak`` of the ``CHUNK_SAMPLES`` rows of float32 ``x`` from ``start`` (a multiple of
    ``CHUNK_SAMPLES``), computed from the same context as the whole-signal pass, so to the same bits."""
    before = x[start - OVERSAMPLE_MARGIN:start] if start else None
    after = x[start + CHUNK_SAMPLES:start + CHUNK_SAMPLES + OVERSAMPLE_MARGIN] if start + CHUNK_SAMPLES < len(x) else None
    return _block_peak(x[start:start + CHUNK_SAMPLES], before, after, sample_rate, oversample)


def _block_peak(block: np.ndarray, before: np.ndarray | None, after: np.ndarray | None, sample_rate: int,
                oversample: int) -> np.ndarray:
    import soxr

    context = np.concatenate([part for part in (before, block, after) if part is not None])
    m, offset = len(context), 0 if before is None else len(before)
    up = _abs_max_over_columns(soxr.resample(context, sample_rate, sample_rate * oversample))
    up = np.pad(up, (0, max(0, m * oversample - len(up))))[: m * oversample].reshape(m, oversample)
    inner = slice(offset, offset + len(block))
    return np.maximum(_abs_max_over_columns(up[inner]), _abs_max_over_columns(context[inner]))


def _abs_max_over_columns(x: np.ndarray) -> np.ndarray:
    """``np.abs(x).max(axis=1)`` for few columns, without numpy's slow short-axis reduction."""
    out = np.abs(x[:, 0])
    for c in range(1, x.shape[1]):
        np.maximum(out, np.abs(x[:, c]), out=out)
    return out


def true_peak_dbtp(audio: np.ndarray, sample_rate: int, oversample: int = TRUE_PEAK_OVERSAMPLE) -> float:
    """True peak in dBTP: the peak of a ``oversample``× upsampled copy (BS.1770 annex 2 style)."""
    peak = max((float(part.max()) for _, part in _oversampled_peak_chunks(_rows(audio), sample_rate, oversample)
                if part.size), default=None)
    return -math.inf if peak is None else gain_to_db(peak)


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
