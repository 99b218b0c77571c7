"""One-shot sound effects: knocks, creaks, footsteps, rings, bells, thunder, glass, clicks,
whooshes, alarms, sirens, gunshots, splashes, typing and the generic impact.
"""

from __future__ import annotations

import math

import numpy as np

from nodes.ambience.backends.procedural.beds_manmade import _clink
from nodes.ambience.backends.procedural.beds_nature import _bubble
from nodes.ambience.backends.procedural.blocks import _Ctx
from nodes.ambience.backends.procedural.dsp import (
    _add,
    _burst,
    _decay,
    _filt,
    _pan,
    _partials,
    _repeats,
    _resonate,
    _sweep,
    _time_s,
    _unit,
    _white,
    _window,
)
from nodes.common.audio import equal_power_fade_in, equal_power_fade_out, seconds_to_samples

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
