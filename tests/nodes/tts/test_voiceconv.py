"""WORLD conversion: the envelope warp, and pitch and formants moving as asked on a synthetic voice."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from nodes.tts.voiceconv import warp_envelope, world_convert
from tests.nodes.tts.test_backends import median_f0

SAMPLE_RATE = 16_000
F0_HZ = 140.0
FORMANTS_HZ = (700.0, 1800.0)
F0_TOLERANCE = 0.04  # relative, measured against 2**(semitones/12)
FORMANT_TOLERANCE = 0.08  # relative, first envelope peak against the asked ratio


def vowel(duration_s: float = 1.5) -> np.ndarray:
    """A pulse train at F0_HZ through two resonators: a steady synthetic vowel, (samples, 1)."""
    n = int(duration_s * SAMPLE_RATE)
    x = np.zeros(n)
    x[:: int(SAMPLE_RATE / F0_HZ)] = 1.0
    for f in FORMANTS_HZ:
        r, theta = 0.97, 2 * np.pi * f / SAMPLE_RATE
        x = lfilter([1.0], [1.0, -2 * r * np.cos(theta), r * r], x)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)[:, None]


def first_formant_hz(audio: np.ndarray) -> float:
    import pyworld

    x = audio[:, 0].astype(np.float64)
    f0, t = pyworld.dio(x, SAMPLE_RATE)
    f0 = pyworld.stonemask(x, f0, t, SAMPLE_RATE)
    envelope = pyworld.cheaptrick(x, f0, t, SAMPLE_RATE)[f0 > 0].mean(axis=0)
    freqs = np.linspace(0, SAMPLE_RATE / 2, envelope.size)
    band = (freqs > 300) & (freqs < 1300)
    return float(freqs[band][np.argmax(envelope[band])])


def test_warp_moves_each_bin_by_the_ratio_and_one_is_identity():
    env = np.zeros((2, 513))
    env[:, 100] = 1.0
    np.testing.assert_array_equal(warp_envelope(env, 1.0), env)
    assert np.argmax(warp_envelope(env, 2.0)[0]) == 200
    assert np.argmax(warp_envelope(env, 0.5)[0]) == 50


@pytest.mark.parametrize(("semitones", "ratio"), [(-5.0, 0.85), (4.0, 1.2)])
def test_pitch_and_formants_move_as_asked_and_the_length_stays(semitones, ratio):
    source = vowel()
    out = world_convert(source, SAMPLE_RATE, semitones, ratio)
    assert out.shape == source.shape and out.dtype == np.float32
    f0_ratio = median_f0(out, SAMPLE_RATE) / median_f0(source, SAMPLE_RATE)
    assert abs(f0_ratio / 2 ** (semitones / 12) - 1) < F0_TOLERANCE
    formant_ratio = first_formant_hz(out) / first_formant_hz(source)
    assert abs(formant_ratio / ratio - 1) < FORMANT_TOLERANCE


def test_postprocess_converts_only_voices_that_ask_for_formants():
    from nodes.common.types import VoiceSettings
    from nodes.tts.backends.base import Speech, SynthesisRequest
    from nodes.tts.core import postprocess

    source = vowel()
    speech = Speech(seq=0, audio=source, sample_rate=SAMPLE_RATE, backend="piper")
    plain = VoiceSettings(voice_id="a", provider="piper", language="en", pitch=-5.0)
    made = plain.replace(options=(("formant_shift", 1.05),))
    shifted = postprocess(speech, SynthesisRequest(seq=0, text="x", voice=plain, line=1), 0, SAMPLE_RATE).audio
    converted = postprocess(speech, SynthesisRequest(seq=0, text="x", voice=made, line=1), 0, SAMPLE_RATE).audio
    # a plain pitch shift carries the formants down with the pitch; WORLD puts them where asked
    assert first_formant_hz(shifted) == pytest.approx(2 ** (-5 / 12) * first_formant_hz(source), rel=FORMANT_TOLERANCE)
    assert first_formant_hz(converted) == pytest.approx(1.05 * first_formant_hz(source), rel=FORMANT_TOLERANCE)
    assert median_f0(converted, SAMPLE_RATE) == pytest.approx(2 ** (-5 / 12) * F0_HZ, rel=F0_TOLERANCE)


def mean_aperiodicity(audio: np.ndarray) -> float:
    import pyworld

    x = audio[:, 0].astype(np.float64)
    f0, t = pyworld.dio(x, SAMPLE_RATE)
    f0 = pyworld.stonemask(x, f0, t, SAMPLE_RATE)
    return float(pyworld.d4c(x, f0, t, SAMPLE_RATE)[f0 > 0].mean())


def test_breathiness_makes_more_of_the_voice_aperiodic():
    source = vowel()
    plain = world_convert(source, SAMPLE_RATE, 0.0, 1.0)
    breathy = world_convert(source, SAMPLE_RATE, 0.0, 1.0, breathiness=0.8)
    assert mean_aperiodicity(breathy) > mean_aperiodicity(plain) + 0.05
