"""Making another speaker out of a voice: WORLD analysis (pitch, spectral envelope, aperiodicity), the pitch
moved and the envelope stretched along frequency, then resynthesis.

Stretching the envelope moves the formants, which tell a listener the size of the vocal tract, apart
from the pitch. A plain pitch shift (``pitch`` alone in voices.yaml) carries the formants with the pitch
(measured: −3 semitones moved a first formant from 703 to 594 Hz, the same ×0.84), so the voice sounds
like the same person played slower or faster. ``formant_shift`` 0.88 with ``pitch`` −3 reads as a bigger,
older person; 1.15 with +5 as a smaller one.
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


def world_convert(audio: np.ndarray, sample_rate: int, semitones: float, formant_ratio: float,
                  breathiness: float = 0.0) -> np.ndarray:
    """``audio`` (samples, 1) with its pitch moved by ``semitones``, its formants by ``formant_ratio``, and
    with ``breathiness`` (0–1) more of its energy made aperiodic: each band's aperiodicity a (0 voiced … 1
    noise) becomes a ** (1 − 0.8 · breathiness), an older or airier voice."""
    import pyworld

    x = np.ascontiguousarray(audio[:, 0], dtype=np.float64)
    if not x.size:
        return audio
    f0, times = pyworld.dio(x, sample_rate, frame_period=FRAME_PERIOD_MS)
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    envelope = pyworld.cheaptrick(x, f0, times, sample_rate)
    aperiodicity = pyworld.d4c(x, f0, times, sample_rate)
    f0 = f0 * 2.0 ** (semitones / 12.0)
    if breathiness > 0:
        aperiodicity = np.ascontiguousarray(np.clip(aperiodicity, 1e-12, 1.0) ** (1.0 - 0.8 * breathiness))
    y = pyworld.synthesize(f0, warp_envelope(envelope, formant_ratio), aperiodicity, sample_rate,
                           frame_period=FRAME_PERIOD_MS)
    y = np.pad(y, (0, max(0, x.size - y.size)))[: x.size]
    return np.clip(y, -1.0, 1.0).astype(np.float32)[:, None]
