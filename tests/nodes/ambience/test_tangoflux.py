"""The TangoFlux backend on a tiny random-weight model built with the real classes (tests/fakes/tangoflux.py):
loading the published layout, shapes, seeds, guidance, looping, the clip cache, the device lock, refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nodes.ambience.backends.tangoflux import (
    DEFAULT_SFX_S,
    GenerationSettings,
    ModelNotAvailable,
    TangoFluxBackend,
    check_duration,
    find_model,
)
from nodes.common.audio import seconds_to_samples
from nodes.common.errors import ConfigError, DramaflowWarning, TransientBackendError
from nodes.common.gpulock import gpu_lock

pytest.importorskip("torch", reason="the [tangoflux] extra is not installed (make test installs it)")

ROOT = Path(__file__).resolve().parents[3]
PROMPT = "rain on a tin roof with distant thunder"
DIFFERENT_AUDIO = 1e-3  # another seed or guidance scale changes some sample by more than this
FAST = GenerationSettings(steps=3)


@pytest.fixture
def env(tmp_path):
    return {"DRAMAFLOW_LOCK_DIR": str(tmp_path / "locks")}


def backend(model, env, cache_dir=None, settings=FAST) -> TangoFluxBackend:
    return TangoFluxBackend(model, settings=settings, device="cpu", cache_dir=cache_dir, env=env, lock_timeout_s=0)


def generate(b: TangoFluxBackend, prompt=PROMPT, duration_s=1.0, seed=1):
    """The first generation of a backend: it loads the model, which warns that the CPU is slow."""
    with pytest.warns(DramaflowWarning, match="CPU"):
        return b.generate(prompt, duration_s, seed)


def test_the_test_model_is_the_real_architecture_at_about_a_million_parameters():
    from tests.fakes.tangoflux import TINY, pipeline

    p = pipeline(TINY)
    assert 0.5e6 < p.parameters() < 2e6
    assert type(p.model.transformer).__name__ == "FluxTransformer2DModel"
    assert type(p.vae).__name__ == "AutoencoderOobleck"
    assert type(p.model.text_encoder).__name__ == "T5EncoderModel"


def test_loads_the_published_layout_and_makes_44k_stereo_of_the_asked_duration(tangoflux_model, env):
    files = find_model(tangoflux_model, env)
    assert files.text_encoder == tangoflux_model / "text_encoder"
    with backend(tangoflux_model, env) as b:
        audio, rate = generate(b, duration_s=1.0)
    assert rate == 44100 and audio.dtype == np.float32 and audio.shape == (44100, 2)
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert b.stats["generated"] == 1 and b.stats["dtype"] == "float32" and b.stats["device"] == "cpu"


def test_same_seed_same_audio_another_seed_or_guidance_other_audio(tangoflux_model, env):
    with backend(tangoflux_model, env) as a:
        first, _ = generate(a, seed=5)
    with backend(tangoflux_model, env) as b:  # a fresh model: nothing shared but the files
        again, _ = generate(b, seed=5)
        other_seed, _ = b.generate(PROMPT, 1.0, 6)
    with backend(tangoflux_model, env, settings=GenerationSettings(steps=3, guidance_scale=2.0)) as c:
        other_cfg, _ = generate(c, seed=5)
    assert np.array_equal(first, again)
    assert np.abs(first - other_seed).max() > DIFFERENT_AUDIO
    assert np.abs(first - other_cfg).max() > DIFFERENT_AUDIO


def test_a_bed_is_one_generation_looped_to_the_exact_scene_length(tangoflux_model, env):
    with backend(tangoflux_model, env) as b:
        with pytest.warns(DramaflowWarning, match="CPU"):
            short = b.render_bed(PROMPT, 2.5, 48000, 3)
        long = b.render_bed(PROMPT, 7.25, 48000, 3)
        clip, rate = b.generate(PROMPT, b.clip_s, 3)
    assert short.audio.shape == (seconds_to_samples(2.5, 48000), 2)
    assert long.audio.shape == (seconds_to_samples(7.25, 48000), 2)
    assert b.stats["generated"] == 1  # the scene's length is not part of the key
    assert np.array_equal(short.audio, long.audio[: len(short.audio)])
    assert short.matched == (f"tangoflux: {PROMPT}",) and not short.fallback
    assert rate == 44100 and b.clip_s == pytest.approx(88 * 512 / 44100)


def test_a_one_shot_has_its_own_duration_and_its_own_generation(tangoflux_model, env):
    with backend(tangoflux_model, env) as b:
        assert b.sfx_duration_s("door knock") == DEFAULT_SFX_S
        assert b.sfx_duration_s("door knock", 1.5) == 1.5
        with pytest.warns(DramaflowWarning, match="CPU"):
            one = b.render_sfx("door knock", 48000, 2, 1.5)
        default = b.render_sfx("door knock", 48000, 2)
        with pytest.warns(DramaflowWarning, match="longer than TangoFlux makes"):
            capped = b.render_sfx("door knock", 48000, 2, 45.0)
    assert one.audio.shape == (72000, 2) and default.audio.shape == (seconds_to_samples(DEFAULT_SFX_S, 48000), 2)
    assert capped.audio.shape == (seconds_to_samples(30.0, 48000), 2)
    assert b.stats["generated"] == 3  # 1.5 s, 3 s and 30 s are three conditionings
    assert np.abs(one.audio[-1]).max() < 1e-3  # faded at the cut


def test_clips_are_cached_on_disk_and_a_hit_never_loads_the_model(tangoflux_model, env, tmp_path):
    with backend(tangoflux_model, env, tmp_path / "cache") as first:
        made, _ = generate(first, seed=9)
    with backend(tangoflux_model, env, tmp_path / "cache") as second:
        hit, _ = second.generate(PROMPT, 1.0, 9)  # no CPU warning: nothing is loaded
        assert second._pipeline is None
    assert np.array_equal(made, hit)
    assert first.stats["generated"] == 1 and second.stats == {**second.stats, "generated": 0, "cache_hits": 1}
    assert second.stats["load_s"] == 0.0
    assert len(list((tmp_path / "cache" / "ambience").rglob("*.npz"))) == 1
    with backend(tangoflux_model, env, tmp_path / "cache", GenerationSettings(steps=4)) as other_steps:
        generate(other_steps, seed=9)
    assert other_steps.stats["generated"] == 1  # steps are part of the key


def test_the_device_lock_is_held_from_loading_until_close(tangoflux_model, env):
    b = backend(tangoflux_model, env)
    with gpu_lock("cpu", holder="probe", timeout_s=0, env=env):
        pass  # free before the model loads
    generate(b)
    with pytest.raises(TransientBackendError, match="ambience/tangoflux"):
        with gpu_lock("cpu", holder="probe", timeout_s=0, env=env):
            pass
    b.close()
    assert b._pipeline is None
    with gpu_lock("cpu", holder="probe", timeout_s=0, env=env):
        pass
    b.close()  # twice is fine


def test_a_busy_device_makes_loading_wait_and_then_fail_transiently(tangoflux_model, env):
    with gpu_lock("cpu", holder="tts piper", timeout_s=0, env=env):
        with backend(tangoflux_model, env) as b, pytest.raises(TransientBackendError, match="tts piper"):
            b.generate(PROMPT, 1.0, 1)
    assert b._pipeline is None  # nothing was loaded while the device was taken


@pytest.mark.parametrize("kwargs, message", [
    ({"guidance_scale": 1.0}, "above 1"), ({"guidance_scale": 0.5}, "above 1"), ({"steps": 0}, "steps"),
    ({"loop_crossfade_s": -1.0}, "loop_crossfade_s"),
])
def test_settings_are_validated(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GenerationSettings(**kwargs)


@pytest.mark.parametrize("seconds", [0.5, 30.5, 0.0])
def test_durations_outside_one_to_thirty_seconds_are_refused(seconds):
    with pytest.raises(ConfigError, match="1–30 s"):
        check_duration(seconds)


def test_a_folder_missing_files_names_them_and_says_how_to_get_them(tangoflux_model, tmp_path, env):
    partial = tmp_path / "partial"
    shutil.copytree(tangoflux_model, partial)
    (partial / "vae.safetensors").unlink()
    with pytest.raises(ModelNotAvailable, match=r"lacks vae\.safetensors.*never downloads.*DRAMAFLOW_TANGOFLUX_DIR"):
        find_model(partial, env)
    shutil.rmtree(partial / "text_encoder")
    (partial / "vae.safetensors").write_bytes(b"")
    with pytest.raises(ModelNotAvailable, match="no text_encoder/"):
        find_model(partial, env)


def test_weights_that_do_not_fit_the_config_are_refused_by_name(tangoflux_model, tmp_path, env):
    wrong = tmp_path / "wrong"
    shutil.copytree(tangoflux_model, wrong)
    config = json.loads((wrong / "config.json").read_text())
    (wrong / "config.json").write_text(json.dumps({**config, "num_single_layers": 2}))
    with backend(wrong, env) as b, pytest.raises(ModelNotAvailable, match=r"does not fit config.json: 14 missing \(transformer\.single_transformer_blocks\.1\."):
        with pytest.warns(DramaflowWarning, match="CPU"):
            b.generate(PROMPT, 1.0, 1)


class _Hub(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        _Hub.requests.append(self.path)
        self.send_error(404)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def test_the_cli_refuses_to_download_and_asks_for_no_url(tmp_path):
    """No model anywhere: the command fails with the how-to, writes nothing, and the "hub" it could have
    asked (HF_ENDPOINT, an empty HF_HOME, offline mode not set) receives no request."""
    hub = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith(("HF_", "DRAMAFLOW_TANGOFLUX", "TRANSFORMERS_"))}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{hub.server_port}", HF_HOME=str(tmp_path / "hf"))
    out = tmp_path / "rain.wav"
    try:
        proc = subprocess.run([str(Path(sys.executable).parent / "dramaflow"), "ambience", "generate", PROMPT,
                               "--backend", "tangoflux", "--duration", "10", "-o", str(out)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    finally:
        hub.shutdown()
        hub.server_close()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = " ".join((proc.stdout + proc.stderr).split())
    assert "never downloads" in message and "DRAMAFLOW_TANGOFLUX_DIR" in message and "--model-dir" in message
    assert not out.exists() and _Hub.requests == []


def test_a_clip_that_overflows_in_float16_is_made_again_in_float32(tangoflux_model, env, monkeypatch):
    """float16 is what the backend uses on a GPU; here the tiny model is put in float16 on the CPU and its
    first decode made to overflow, as a large model's activations can."""
    import torch

    from nodes.ambience.backends.tangoflux_model import TangoFluxPipeline

    b = backend(tangoflux_model, env)
    generate(b)
    pipeline = b._pipeline
    pipeline.to(pipeline.device, torch.float16)
    b.stats["dtype"] = "float16"
    real_decode, calls = TangoFluxPipeline.decode, []

    def overflow_once(self, latents, duration_s):
        calls.append(self.dtype)
        audio = real_decode(self, latents.float(), duration_s) if self.dtype == torch.float32 else None
        return audio if audio is not None else np.full((10, 2), np.inf, dtype=np.float32)

    monkeypatch.setattr(TangoFluxPipeline, "decode", overflow_once)
    with pytest.warns(DramaflowWarning, match="overflowed in float16.*again in float32"):
        audio, _ = b.generate(PROMPT, 1.0, 2)
    assert calls == [torch.float16, torch.float32] and np.isfinite(audio).all() and b.stats["dtype"] == "float32"
    b.close()
