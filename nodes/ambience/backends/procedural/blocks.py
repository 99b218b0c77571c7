"""Building blocks for long beds: slow gain curves, the generator context ``_Ctx``, stationary
textures rebuilt from crossfaded excerpts, seamless loops and randomly scattered grains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from nodes.ambience.backends.procedural.dsp import _filt, _pan_gains, _samples, _unit
from nodes.common.audio import equal_power_fade_in, equal_power_fade_out, seconds_to_samples

TEXTURE_S = 24.0  # stationary components are rendered this long, then recombined
SEGMENT_S = (3.0, 7.0)  # lengths of the excerpts a long texture is rebuilt from
CROSSFADE_S = 0.5
WARMUP_S = 0.25  # filter start-up discarded from every texture


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
