"""Measurement helpers against references: pyloudnorm for loudness, analytic true peaks."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest

from nodes.common.audio import (
    CHUNK_SAMPLES,
    integrated_lufs,
    max_momentary_lufs,
    resample,
    to_stereo,
    true_peak_dbtp,
)
from tests.factories import SR, noise, speechlike, tone

LUFS_AGREEMENT = 0.05  # ours vs pyloudnorm, LU
TRUE_PEAK_TOLERANCE_DB = 0.2  # 4x oversampling under-reads true peaks by up to ~0.2 dB


@pytest.mark.parametrize("make", [
    lambda: noise(5.0, 0.05),
    lambda: np.repeat(speechlike(7.0, seed=3), 2, axis=1),
    lambda: tone(3.0, 997.0, 0.2, channels=2),
    lambda: noise(1.0, 0.1, channels=1),
])
def test_integrated_loudness_matches_pyloudnorm(make):
    x = make()
    reference = pyloudnorm.Meter(SR).integrated_loudness(x.astype(np.float64))
    assert integrated_lufs(x, SR) == pytest.approx(reference, abs=LUFS_AGREEMENT)


def test_loudness_is_chunk_independent_on_long_signals():
    x = noise((3 * CHUNK_SAMPLES + 1234) / SR, 0.05)
    reference = pyloudnorm.Meter(SR).integrated_loudness(x.astype(np.float64))
    assert integrated_lufs(x, SR) == pytest.approx(reference, abs=LUFS_AGREEMENT)


def test_silence_and_short_signals_are_minus_infinity():
    assert integrated_lufs(np.zeros((SR, 2), np.float32), SR) == -math.inf
    assert integrated_lufs(noise(0.2), SR) == -math.inf


def test_momentary_max_of_a_steady_tone_equals_its_integrated_loudness():
    x = tone(3.0, 1000.0, 0.1, channels=2)
    assert max_momentary_lufs(x, SR) == pytest.approx(integrated_lufs(x, SR), abs=0.01)
    short = tone(0.1, 1000.0, 0.1, channels=2)  # padded to 400 ms: quieter by 10*log10(0.1/0.4)
    assert max_momentary_lufs(short, SR) == pytest.approx(integrated_lufs(x, SR) + 10 * math.log10(0.25), abs=0.1)


def test_true_peak_sees_intersample_peaks():
    # a quarter-rate sine sampled 45 degrees off its crests: sample peak 0.707, true peak 1.0
    n = np.arange(SR)
    x = np.sin(2 * np.pi * n / 4 + np.pi / 4).astype(np.float32)[:, None]
    assert 20 * math.log10(np.abs(x).max()) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_dbtp(x, SR) == pytest.approx(0.0, abs=TRUE_PEAK_TOLERANCE_DB)


def test_true_peak_is_chunk_independent():
    x = tone((2 * CHUNK_SAMPLES + 99) / SR, 5000.0, 0.5, channels=2)
    fade = np.linspace(0.0, 1.0, 2000, dtype=np.float32)[:, None]  # an abrupt edge overshoots for real
    x[:2000] *= fade
    x[-2000:] *= fade[::-1]
    assert true_peak_dbtp(x, SR) == pytest.approx(20 * math.log10(0.5), abs=0.01)


def test_constant_power_pan_law():
    x = np.ones((10, 1), np.float32)
    centre, left = to_stereo(x, 0.0), to_stereo(x, -1.0)
    assert np.allclose(centre, 1.0)
    assert np.allclose(left[:, 0], math.sqrt(2)) and np.allclose(left[:, 1], 0.0, atol=1e-7)
    assert np.allclose((to_stereo(x, 0.3) ** 2).sum(axis=1), 2.0)


def test_resample_keeps_duration_and_frequency():
    x = tone(1.0, 440.0, 0.5, sample_rate=22050)
    y = resample(x, 22050, SR)
    assert y.shape == (SR, 1)
    spectrum = np.abs(np.fft.rfft(y[:, 0]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=1)
