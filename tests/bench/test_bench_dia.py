"""Benchmark (``make bench``): the Dia cloning voice at full size (1.6 B parameters, the published
DiaConfig defaults, with the 44.1 kHz DAC codec) with random weights, which cost the compute of the real
ones. Random weights never say "end", so every line runs to its token budget: an upper bound.

On a CUDA GPU (bf16, as the backend runs there), through the backend itself (saved in the published
layout, loaded as DRAMAFLOW_DIA_DIR):

- load time, and seconds of audio per second of generation for a line of about 10 s (real-time factor);
- peak GPU memory;
- the hand-over: another stage waiting on the device's lock gets it when the voice is closed.

Skipped without a GPU (a CPU would take minutes per line).
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.bench
torch = pytest.importorskip("torch", reason="needs the [tangoflux] extra")
LINE = "The light is dark, and the boat is drifting toward the north reef. She needs your light. Over."


def test_bench_full_size_dia(tmp_path):
    from nodes.common.gpulock import gpu_lock
    from nodes.common.types import VoiceSettings
    from nodes.tts.backends import dia
    from nodes.tts.backends.base import SynthesisRequest

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    from tests.fakes.dia import save_dia

    parameters = save_dia(tmp_path / "dia", full=True, device="cuda")
    torch.cuda.empty_cache()
    clip = tmp_path / "reference.wav"
    sf.write(clip, (0.2 * np.sin(2 * np.pi * 150 * np.arange(5 * 44100) / 44100)).astype(np.float32), 44100)
    env = {"DRAMAFLOW_DIA_DIR": str(tmp_path / "dia"), "DRAMAFLOW_DIA_DEVICE": "cuda", "DRAMAFLOW_LOCK_DIR": str(tmp_path)}
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    backend = dia.DiaSynthesizer.create(env=env, device="cpu")
    load_s = time.perf_counter() - start
    voice = VoiceSettings(voice_id="clone", provider="dia", language="en", provider_voice=str(clip),
                          options=(("reference_text", "This is the reference clip, five seconds of it."),))
    request = SynthesisRequest(seq=0, text=LINE, voice=voice, line=1, seed=1)
    backend.synthesize_sync(request)  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    speech = backend.synthesize_sync(request)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak_gb = torch.cuda.max_memory_allocated() / 2**30
    waited: dict[str, float] = {}

    def waiter() -> None:
        t0 = time.perf_counter()
        with gpu_lock("cuda:0", holder="ambience", timeout_s=600, env=env):
            waited["s"] = time.perf_counter() - t0

    thread = threading.Thread(target=waiter)
    thread.start()
    released = time.perf_counter()
    asyncio.run(backend.aclose())
    thread.join()
    print(f"\nfull-size random-weight Dia: {parameters / 1e9:.2f} B parameters, loaded in {load_s:.1f} s (bf16)")
    print(f"one line: {speech.duration_s:.1f} s of audio in {seconds:.1f} s (RTF {seconds / speech.duration_s:.2f}), "
          f"peak GPU memory {peak_gb:.1f} GiB")
    print(f"hand-over: the waiting stage got the GPU {time.perf_counter() - released:.2f} s after close began "
          f"(it waited {waited['s']:.1f} s in all)")
    assert speech.duration_s > 0
