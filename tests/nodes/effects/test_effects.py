"""Tests for nodes.effects.core with synthetic signals (sines, noise, impulses)."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.common.audio import db_to_gain
from nodes.common.chains import process_ambience, process_sfx
from nodes.common.errors import ConfigError
from nodes.effects.core import (
    REVERB_TAIL_S,
    TAIL_FLOOR_DBFS,
    VOICE_EFFECTS,
    process_dialogue,
    validate_effect,
)

SR = 44100
TONE_AMPLITUDE = 0.1  # -20 dBFS peak: under the dialogue compressor's threshold, so the chain is linear
SETTLE_S = 0.25  # skip filter/compressor settling before measuring a tone's level

HIGHPASS_MIN_REJECTION_DB = 10.0  # 40 Hz vs 1 kHz through the dialogue high-pass
BAND_MIN_REJECTION_DB = 12.0  # telephone: 100 Hz and 6 kHz vs 1 kHz
AMBIENCE_DIP_DB = (2.0, 4.5)  # 2.5 kHz vs 500 Hz through the ambience EQ
PASSBAND_TOLERANCE_DB = 0.5  # sfx at 1 kHz must be left alone
ALIGNMENT_TOLERANCE_SAMPLES = 2
# Onset = first sample at -40 dB re the peak. A higher threshold would also count the few samples of
# group delay that the telephone band-pass has by nature (3–4 samples at -20 dB); that is not latency.
ONSET_FRACTION = 0.01
IMPULSE_ONSET_FRACTION = 1e-3
ALL_EFFECTS = (None, *VOICE_EFFECTS)


def tone(freq_hz: float, duration_s: float = 1.0, amplitude: float = TONE_AMPLITUDE) -> np.ndarray:
    t = np.arange(int(SR * duration_s)) / SR
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def stereo(x: np.ndarray) -> np.ndarray:
    return np.stack([x, x], axis=1)


def level_db(x: np.ndarray) -> float:
    steady = x[int(SETTLE_S * SR) :]
    return float(20 * np.log10(np.sqrt(np.mean(np.square(steady, dtype=np.float64))) + 1e-12))


def gain_db(process, freq_hz: float, **kwargs) -> float:
    """Level change of a tone at ``freq_hz`` through ``process`` (left channel, first len samples)."""
    x = tone(freq_hz)
    y = process(x, SR, **kwargs) if process is process_dialogue else process(stereo(x), SR, **kwargs)
    return level_db(y[: len(x), 0]) - level_db(x)


def noise(duration_s: float, amplitude: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.standard_normal(int(duration_s * SR)) * amplitude, -1, 1).astype(np.float32)


# --- effect names ------------------------------------------------------------------------------


def test_validate_effect_accepts_known_and_none():
    assert validate_effect(None) is None
    for name in VOICE_EFFECTS:
        assert validate_effect(name) == name


def test_unknown_effect_raises_config_error_listing_known_effects():
    with pytest.raises(ConfigError) as info:
        validate_effect("underwater")
    message = str(info.value)
    assert "underwater" in message
    assert all(name in message for name in VOICE_EFFECTS)
    with pytest.raises(ConfigError):
        process_dialogue(tone(1000), SR, effect="underwater")


# --- dialogue ------------------------------------------------------------------------------


def test_dialogue_highpass_cuts_40hz_much_more_than_1khz():
    assert gain_db(process_dialogue, 1000) - gain_db(process_dialogue, 40) > HIGHPASS_MIN_REJECTION_DB


def test_telephone_band_limits_to_voice_band():
    ref = gain_db(process_dialogue, 1000, effect="telephone")
    assert ref - gain_db(process_dialogue, 100, effect="telephone") >= BAND_MIN_REJECTION_DB
    assert ref - gain_db(process_dialogue, 6000, effect="telephone") >= BAND_MIN_REJECTION_DB


def test_radio_cuts_lows_and_highs():
    ref = gain_db(process_dialogue, 1000, effect="radio")
    assert ref - gain_db(process_dialogue, 100, effect="radio") >= BAND_MIN_REJECTION_DB
    assert ref - gain_db(process_dialogue, 8000, effect="radio") > 3.0


@pytest.mark.parametrize("effect", ALL_EFFECTS)
def test_dialogue_output_is_stereo_float32_and_never_shorter(effect):
    x = noise(0.5)
    y = process_dialogue(x[:, None], SR, effect=effect)
    assert y.dtype == np.float32 and y.ndim == 2 and y.shape[1] == 2
    if effect in REVERB_TAIL_S:
        assert len(y) >= len(x)
    else:
        assert len(y) == len(x)


@pytest.mark.parametrize("effect", ALL_EFFECTS)
def test_dialogue_never_trims_inside_original_length(effect):
    x = np.concatenate([noise(0.1), np.zeros(SR, np.float32)])  # long silent ending
    assert len(process_dialogue(x, SR, effect=effect)) >= len(x)


def tail_samples(effect: str | None) -> int:
    x = noise(0.3)
    return len(process_dialogue(x, SR, effect=effect)) - len(x)


def test_hall_tail_longer_than_room_longer_than_dry():
    dry, room, hall = tail_samples(None), tail_samples("room"), tail_samples("hall")
    assert dry == 0
    assert hall > room > dry


@pytest.mark.parametrize("effect", ["room", "hall"])
def test_reverb_tail_rings_out_before_the_padding_ends(effect):
    x = noise(0.3, amplitude=0.5)
    y = process_dialogue(x, SR, effect=effect)
    assert len(y) - len(x) < int(REVERB_TAIL_S[effect] * SR), "tail reached the end of the padding"
    assert np.max(np.abs(y[-1])) >= db_to_gain(TAIL_FLOOR_DBFS)  # trimmed right after the last loud sample


def test_pan_left_puts_more_energy_left():
    y = process_dialogue(noise(0.5), SR, pan=-0.7)
    left, right = np.sum(y[:, 0] ** 2), np.sum(y[:, 1] ** 2)
    assert left > 2 * right
    centre = process_dialogue(noise(0.5), SR, pan=0.0)
    np.testing.assert_array_equal(centre[:, 0], centre[:, 1])


def test_dialogue_rejects_stereo_input():
    with pytest.raises(ValueError):
        process_dialogue(stereo(tone(1000)), SR)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_dialogue_handles_tiny_inputs(n):
    y = process_dialogue(np.full(n, 0.1, np.float32), SR, effect="telephone")
    assert y.shape == (n, 2)


@pytest.mark.parametrize("effect", ALL_EFFECTS)
def test_dialogue_is_deterministic(effect):
    x = noise(0.4, seed=3)
    a = process_dialogue(x, SR, effect=effect, pan=0.3)
    b = process_dialogue(x, SR, effect=effect, pan=0.3)
    assert a.tobytes() == b.tobytes()


def onset(x: np.ndarray, fraction: float = ONSET_FRACTION) -> int:
    """First sample whose magnitude reaches ``fraction`` of the signal's peak."""
    magnitude = np.abs(x)
    return int(np.flatnonzero(magnitude >= fraction * magnitude.max())[0])


@pytest.mark.parametrize("effect", ALL_EFFECTS)
def test_tone_burst_onset_is_not_shifted(effect):
    start = 10_000
    x = np.zeros(SR // 2, np.float32)
    x[start : start + 4410] = tone(1000, 0.1, amplitude=0.3)
    y = process_dialogue(x, SR, effect=effect)[:, 0]
    assert abs(onset(y) - onset(x)) <= ALIGNMENT_TOLERANCE_SAMPLES


@pytest.mark.parametrize("effect", ALL_EFFECTS)
def test_impulse_response_starts_on_the_impulse(effect):
    """No latency at all: silence before the impulse, output on the impulse's own sample."""
    start = 5_000
    x = np.zeros(SR // 4, np.float32)
    x[start] = 0.5
    y = process_dialogue(x, SR, effect=effect)[:, 0]
    assert onset(y, IMPULSE_ONSET_FRACTION) == start
    assert np.all(y[:start] == 0.0)


# --- ambience and sfx ------------------------------------------------------------------------


def test_ambience_dips_speech_band():
    dip = gain_db(process_ambience, 500) - gain_db(process_ambience, 2500)
    assert AMBIENCE_DIP_DB[0] <= dip <= AMBIENCE_DIP_DB[1]


def test_ambience_cuts_rumble_and_top():
    assert gain_db(process_ambience, 1000) - gain_db(process_ambience, 25) > HIGHPASS_MIN_REJECTION_DB
    assert gain_db(process_ambience, 12000) < gain_db(process_ambience, 1000) - 1.0


def test_sfx_highpass_only():
    assert abs(gain_db(process_sfx, 1000)) < PASSBAND_TOLERANCE_DB
    assert abs(gain_db(process_sfx, 5000)) < PASSBAND_TOLERANCE_DB
    assert gain_db(process_sfx, 1000) - gain_db(process_sfx, 15) > HIGHPASS_MIN_REJECTION_DB


@pytest.mark.parametrize("process", [process_ambience, process_sfx])
def test_ambience_and_sfx_keep_shape_and_are_deterministic(process):
    x = np.stack([noise(0.5, seed=1), noise(0.5, seed=2)], axis=1)
    a, b = process(x, SR), process(x, SR)
    assert a.shape == x.shape and a.dtype == np.float32
    assert a.tobytes() == b.tobytes()
    assert process(x[:1], SR).shape == (1, 2)
    assert process(x[:0], SR).shape == (0, 2)


@pytest.mark.parametrize("process", [process_ambience, process_sfx])
def test_ambience_and_sfx_do_not_shift(process):
    start = 3_000
    x = np.zeros((SR // 4, 2), np.float32)
    x[start] = 0.5
    y = process(x, SR)
    assert np.all(y[:start] == 0.0)
    assert onset(y[:, 0], IMPULSE_ONSET_FRACTION) == start
    assert abs(int(np.argmax(np.abs(y[:, 0]))) - start) <= ALIGNMENT_TOLERANCE_SAMPLES
