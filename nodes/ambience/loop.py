"""Fill a scene of any length from one finite clip (a generated clip, a library loop).

A clip shorter than the scene is repeated; each repeat enters over the end of the one before with an
equal-power crossfade (sin/cos gains whose squares sum to 1), so uncorrelated material keeps its
loudness through the seam and correlated material does not click. Pure numpy: both engines and every
backend that loops use this.
"""

from __future__ import annotations

import numpy as np

from nodes.common.audio import equal_power_fade_in, equal_power_fade_out, seconds_to_samples


def crossfade_samples(clip_samples: int, crossfade_s: float, sample_rate: int) -> int:
    """The overlap used between repeats: ``crossfade_s``, but at most half the clip."""
    return max(0, min(seconds_to_samples(crossfade_s, sample_rate), clip_samples // 2))


def loop_to_length(clip: np.ndarray, samples: int, sample_rate: int, crossfade_s: float) -> np.ndarray:
    """``clip`` (``(n, channels)`` float32) repeated with equal-power crossfades to exactly ``samples``.

    A clip at least ``samples`` long is trimmed (the scene's own fades hide the cut). Repeat ``k``
    starts at ``k * (n - overlap)``: every seam is the same, so a scene is the same wherever it is cut.
    """
    if clip.ndim != 2 or clip.shape[0] == 0:
        raise ValueError(f"clip must be shaped (samples, channels) and not empty, got {clip.shape}")
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    n = clip.shape[0]
    if n >= samples:
        return np.ascontiguousarray(clip[:samples], dtype=np.float32)
    overlap = crossfade_samples(n, crossfade_s, sample_rate)
    period = n - overlap
    fade_in = equal_power_fade_in(overlap)[:, None]
    fade_out = equal_power_fade_out(overlap)[:, None]
    out = np.zeros((samples, clip.shape[1]), dtype=np.float32)
    out[:n] = clip
    for pos in range(period, samples, period):
        k = min(n, samples - pos)  # how much of this repeat fits
        o = min(overlap, k)
        out[pos : pos + o] = out[pos : pos + o] * fade_out[:o] + clip[:o] * fade_in[:o]
        out[pos + o : pos + k] = clip[o:k]
    return out
