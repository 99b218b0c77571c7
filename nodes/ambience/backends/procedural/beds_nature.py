"""Scene beds of weather, water, fire and wildlife: rain, thunderstorm, wind, ocean, river, fire,
forest and insects, with the grains they scatter (thunder rolls, bubbles, pops, bird calls, chirps).
"""

from __future__ import annotations

import math

import numpy as np

from nodes.ambience.backends.procedural.blocks import (
    _add_texture,
    _Ctx,
    _Curve,
    _palette,
    _scatter,
    _starts,
    _texture,
    _wander,
)
from nodes.ambience.backends.procedural.dsp import (
    _add,
    _burst,
    _filt,
    _impulses,
    _pan,
    _sweep,
    _time_s,
    _unit,
    _white,
    _window,
)

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
