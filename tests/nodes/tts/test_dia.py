"""The Dia cloning voice on a tiny random-weight checkpoint built with the real transformers classes
(tests/fakes/dia.py): the published folder layout, the reference clip, seeds, the device lock, refusals.
The full-size architecture is benchmarked where a GPU is lent (tests/bench/test_bench_dia.py)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from nodes.common.errors import ConfigError, DramaflowWarning, PermanentBackendError, TransientBackendError
from nodes.common.gpulock import gpu_lock
from nodes.common.types import VoiceSettings
from nodes.tts.backends.base import SynthesisRequest

pytest.importorskip("torch", reason="the [tangoflux] extra is not installed (make test installs it)")

from nodes.tts.backends import dia  # noqa: E402

REFERENCE_S = 1.0


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    from tests.fakes.dia import save_dia

    root = tmp_path_factory.mktemp("dia")
    save_dia(root)
    return root


@pytest.fixture
def env(tmp_path, model_dir):
    return {"DRAMAFLOW_LOCK_DIR": str(tmp_path / "locks"), "DRAMAFLOW_DIA_DIR": str(model_dir),
            "DRAMAFLOW_DIA_DEVICE": "cpu"}


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "reference.wav"
    t = np.arange(int(REFERENCE_S * 24_000)) / 24_000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 24_000)
    return path


@pytest.fixture
def synth(env):
    with pytest.warns(DramaflowWarning, match="runs on the CPU"):
        backend = dia.DiaSynthesizer.create(env=env, device="cpu")
    yield backend
    import asyncio

    asyncio.run(backend.aclose())


def request(clip, text="A new line to say.", *, seed=1, reference_text="What the clip says.") -> SynthesisRequest:
    options = (("reference_text", reference_text),) if reference_text is not None else ()
    v = VoiceSettings(voice_id="en-clone", provider="dia", language="en", provider_voice=str(clip), options=options)
    return SynthesisRequest(seq=0, text=text, voice=v, line=4, seed=seed)


def test_the_model_folder_is_required_and_named(tmp_path):
    with pytest.raises(ConfigError, match="DRAMAFLOW_DIA_DIR is not set.*dac/ subfolder"):
        dia.model_dir({})
    with pytest.raises(ConfigError, match="lacks config.json, dac/config.json"):
        dia.model_dir({"DRAMAFLOW_DIA_DIR": str(tmp_path)})


def test_device_choice_is_checked():
    assert dia.dia_device({"DRAMAFLOW_DIA_DEVICE": "cpu"}) == "cpu"
    with pytest.raises(ConfigError, match="must be cpu, cuda or cuda:N"):
        dia.dia_device({"DRAMAFLOW_DIA_DEVICE": "tpu"})
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no GPU"):
            dia.dia_device({"DRAMAFLOW_DIA_DEVICE": "cuda"})


def test_prompt_keeps_one_speaker_and_the_budget_is_capped():
    assert dia.prompt_text("Hello [S2] there", "Line  two") == "[S1] Hello (S2) there [S1] Line two"
    assert dia.token_budget("x" * 10) < dia.token_budget("x" * 100) <= dia.MAX_NEW_TOKENS
    assert dia.token_budget("x" * 100_000) == dia.MAX_NEW_TOKENS


def test_speaks_after_the_reference_clip_with_seeded_sampling(synth, clip):
    first = synth.synthesize_sync(request(clip, seed=3))
    again = synth.synthesize_sync(request(clip, seed=3))
    other = synth.synthesize_sync(request(clip, seed=4))
    assert first.sample_rate == dia.SAMPLE_RATE and first.audio.shape[1] == 1 and first.audio.dtype == np.float32
    np.testing.assert_array_equal(first.audio, again.audio)
    assert not np.array_equal(first.audio, other.audio)
    # the clip's own frames are cut off: at most the new tokens' frames come back (512 samples each)
    assert 0 < first.audio.shape[0] <= dia.token_budget("A new line to say.") * 512


def test_the_device_lock_is_held_from_load_to_close(env, clip):
    import asyncio

    with pytest.warns(DramaflowWarning):
        backend = dia.DiaSynthesizer.create(env=env, device="cuda:0")  # the stage holds another device
    with pytest.raises(TransientBackendError, match="dia voice"):
        with gpu_lock("cpu", holder="test", timeout_s=0, env=env):
            pass
    asyncio.run(backend.aclose())
    with gpu_lock("cpu", holder="test", timeout_s=0, env=env):
        pass


def test_a_lock_the_stage_already_holds_is_not_taken_twice(env):
    import asyncio

    with gpu_lock("cpu", holder="tts stage", timeout_s=0, env=env):
        with pytest.warns(DramaflowWarning):
            backend = dia.DiaSynthesizer.create(env=env, device="cpu")
        asyncio.run(backend.aclose())


def test_missing_transcript_or_clip_is_a_permanent_error_with_the_line(synth, clip, tmp_path):
    with pytest.raises(PermanentBackendError, match="line 4.*reference_text"):
        synth.synthesize_sync(request(clip, reference_text=None))
    with pytest.raises(PermanentBackendError, match="line 4.*cannot read its reference clip"):
        synth.synthesize_sync(request(tmp_path / "nope.wav"))


def test_the_library_resolves_clips_beside_voices_yaml_and_falls_back_without_the_model(tmp_path):
    from nodes.common.voices import load_voices, providers_from_env, resolve_voice

    (tmp_path / "refs").mkdir()
    (tmp_path / "voices.yaml").write_text(
        "en-joe: {display_name: Joe, provider: piper, language: en}\n"
        "en-clone:\n  display_name: Clone\n  provider: dia\n  language: en\n  provider_voice: refs/me.wav\n"
        "  fallback: en-joe\n  params: {reference_text: Hello there.}\n", encoding="utf-8")
    library = load_voices(tmp_path / "voices.yaml")
    assert library.entries["en-clone"].provider_voice == str((tmp_path / "refs" / "me.wav").resolve())
    settings, notes = resolve_voice(library, {"voice": "en-clone"}, provider_available=providers_from_env({}))
    assert settings.voice_id == "en-joe" and "set DRAMAFLOW_DIA_DIR" in notes[0]
    chosen, none = resolve_voice(library, {"voice": "en-clone"},
                                 provider_available=providers_from_env({"DRAMAFLOW_DIA_DIR": "/models/dia"}))
    assert chosen.provider == "dia" and dict(chosen.options)["reference_text"] == "Hello there." and none == []
