"""Making another speaker out of a voice: WORLD analysis (pitch, spectral envelope, aperiodicity), the pitch
moved and the envelope stretched along frequency, then resynthesis.

Stretching the envelope moves the formants, which tell a listener the size of the vocal tract; moving
pitch alone (``pitch`` in voices.yaml, a plain pitch shift) leaves them where they were, and a man
pitched up sounds like a man pitched up. ``formant_shift`` 1.15 with ``pitch`` +5 reads as a smaller
person; 0.88 with −3 as a bigger, older one.
"""

from __future__ import annotations

import numpy as np

FRAME_PERIOD_MS = 5.0
FORMANT_RANGE = (0.75, 1.35)


def warp_envelope(envelope: np.ndarray, ratio: float) -> np.ndarray:
    """Each frame's spectral envelope (frames, bins) stretched by ``ratio`` along frequency: the value
    at bin k comes from bin k / ratio (linear interpolation, the top bin held beyond the end)."""
    bins = envelope.shape[1]
    source = np.minimum(np.arange(bins, dtype=np.float64) / ratio, bins - 1)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, bins - 1)
    frac = source - low
    return np.ascontiguousarray(envelope[:, low] * (1.0 - frac) + envelope[:, high] * frac)


def world_convert(audio: np.ndarray, sample_rate: int, semitones: float, formant_ratio: float) -> np.ndarray:
    """``audio`` (samples, 1) with its pitch moved by ``semitones`` and its formants by ``formant_ratio``."""
    import pyworld

    x = np.ascontiguousarray(audio[:, 0], dtype=np.float64)
    if not x.size:
        return audio
    f0, times = pyworld.dio(x, sample_rate, frame_period=FRAME_PERIOD_MS)
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    envelope = pyworld.cheaptrick(x, f0, times, sample_rate)
    aperiodicity = pyworld.d4c(x, f0, times, sample_rate)
    f0 = f0 * 2.0 ** (semitones / 12.0)
    y = pyworld.synthesize(f0, warp_envelope(envelope, formant_ratio), aperiodicity, sample_rate,
                           frame_period=FRAME_PERIOD_MS)
    y = np.pad(y, (0, max(0, x.size - y.size)))[: x.size]
    return np.clip(y, -1.0, 1.0).astype(np.float32)[:, None]
