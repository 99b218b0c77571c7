"""Kokoro-82M from the registry's wheels: the model joined and checked, voice packs and blends, English
through espeak phonemes, deterministic samples, distinct voices."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.common.errors import ConfigError, PermanentBackendError
from nodes.common.types import VoiceSettings
from nodes.tts.backends import kokoro
from nodes.tts.backends.base import SynthesisRequest
from tests.nodes.tts.test_backends import median_f0, voice

MODEL_BYTES = 92_361_271  # kokoro-v1.0.int8.onnx, as published beside its sha256
FEMALE_OVER_MALE_F0 = 1.8  # jf_alpha measured 263 Hz against jm_kumo's 92 Hz on a longer text
SPEED_TOLERANCE = 0.12  # duration ratio against 1/speed


@pytest.fixture(scope="session")
def synth():
    return kokoro.KokoroSynthesizer()


def request(spec: str, text: str, *, speed: float = 1.0, language: str = "en", options=()) -> SynthesisRequest:
    v = VoiceSettings(voice_id="t", provider="kokoro", language=language, provider_voice=spec, speed=speed,
                      options=tuple(options))
    return SynthesisRequest(seq=0, text=text, voice=v, line=7)


def test_model_is_joined_from_four_wheels_and_checked():
    assert len(kokoro.model_bytes()) == MODEL_BYTES


def test_a_damaged_model_is_refused_with_what_to_reinstall(monkeypatch, tmp_path):
    (tmp_path / "model.sha256").write_text("0" * 64 + "  kokoro-v1.0.int8.onnx\n")
    real = kokoro._data
    monkeypatch.setattr(kokoro, "_data", lambda name: tmp_path / name if name == "model.sha256" else real(name))
    with pytest.raises(PermanentBackendError, match="does not match its sha256.*reinstall"):
        kokoro.model_bytes()


def test_blends_parse_to_normalised_weights_and_bad_ones_name_the_packs():
    assert kokoro.parse_blend("jf_alpha") == (("jf_alpha", 1.0),)
    assert kokoro.parse_blend("jf_alpha*3 + jm_kumo*1") == (("jf_alpha", 0.75), ("jm_kumo", 0.25))
    with pytest.raises(ConfigError, match="no voice pack 'af_heart'.*jf_alpha"):
        kokoro.parse_blend("af_heart")
    with pytest.raises(ConfigError, match="is not 'pack' or 'pack\\*weight'"):
        kokoro.parse_blend("jf_alpha**2")
    with pytest.raises(ConfigError, match="add up to 0"):
        kokoro.parse_blend("jf_alpha*0+jm_kumo*0")


def test_the_style_of_a_blend_is_the_weighted_sum_of_the_packs_row_for_its_length():
    packs = kokoro.voice_packs()
    assert set(packs) == {"jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"}
    tokens = 40
    blended = kokoro.style_for("jf_alpha*0.5+jm_kumo*0.5", tokens)
    expected = np.float32(0.5) * packs["jf_alpha"][tokens - 1] + np.float32(0.5) * packs["jm_kumo"][tokens - 1]
    assert blended.shape == (1, 256)
    np.testing.assert_array_equal(blended[0], expected)


def test_long_phoneme_strings_are_cut_at_word_gaps_within_the_context():
    words = "ðə kwˈɪk bɹˈaʊn fˈɑːks "
    chunks, dropped = kokoro.token_chunks(words * 60)
    space = kokoro.vocab()[" "]
    assert dropped == 0 and len(chunks) > 1
    assert all(len(c) <= kokoro.MAX_TOKENS for c in chunks)
    table = kokoro.vocab()
    whole = [table[ch] for ch in words * 60]
    rejoined = [t for c in chunks for t in (*c, space)][: len(whole)]
    assert rejoined == whole  # cut at gaps only (each gap becomes the pause between chunks): nothing lost
    _, lost = kokoro.token_chunks("həlˈoʊ ☃")
    assert lost == 1


def test_packs_speak_english_with_their_own_pitch_and_the_same_samples_every_time(synth):
    text = "The light is dark, and the boat is drifting."
    alpha = synth.synthesize_sync(request("jf_alpha", text))
    synth.synthesize_sync(request("jm_kumo", "Something else first, to change any state."))
    again = synth.synthesize_sync(request("jf_alpha", text))
    kumo = synth.synthesize_sync(request("jm_kumo", text))
    assert alpha.sample_rate == kokoro.SAMPLE_RATE and alpha.audio.shape[1] == 1 and alpha.duration_s > 1.0
    np.testing.assert_array_equal(alpha.audio, again.audio)
    assert median_f0(alpha.audio, alpha.sample_rate) > FEMALE_OVER_MALE_F0 * median_f0(kumo.audio, kumo.sample_rate)
    assert alpha.notes == ()


def test_speed_goes_to_the_model(synth):
    text = "Forty turns every ten minutes."
    normal = synth.synthesize_sync(request("jf_nezumi", text))
    quick = synth.synthesize_sync(request("jf_nezumi", text, speed=1.25))
    assert abs(quick.duration_s / normal.duration_s - 1 / 1.25) < SPEED_TOLERANCE


def test_non_english_is_refused_with_the_line_and_a_voice_that_can(synth):
    with pytest.raises(PermanentBackendError, match="line 7.*English only.*zh-baker"):
        synth.synthesize_sync(request("jf_alpha", "你好", language="zh"))


def test_every_kokoro_voice_in_the_library_names_real_packs(library):
    specs = [e.provider_voice for e in library.entries.values() if e.provider == "kokoro"]
    assert len(specs) >= 6
    for spec in specs:
        assert kokoro.parse_blend(spec)


def test_library_voices_resolve_to_kokoro(library):
    v = voice(library, "en-ada")
    assert (v.provider, v.provider_voice, v.language) == ("kokoro", "jf_alpha", "en")
