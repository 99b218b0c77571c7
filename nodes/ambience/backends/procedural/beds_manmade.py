"""Scene beds of people and machines: traffic, café, room tone, train and car interior, with the
grains they scatter (passing cars, horns, clinks, clacks, bumps).

Each ``_bed_*(ctx, out, gain)`` adds its sound, scaled by ``gain``, into ``out`` (n, 2). Components
are unit RMS before mixing, so the numbers below are relative levels.
"""

from __future__ import annotations

import math

import numpy as np

from nodes.ambience.backends.procedural.blocks import (
    _add_loop,
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
    _pan,
    _partials,
    _sweep,
    _time_s,
    _unit,
    _white,
    _window,
)
from nodes.common.audio import to_stereo


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
