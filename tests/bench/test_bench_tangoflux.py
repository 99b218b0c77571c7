"""Benchmark (``make bench``): the full-size TangoFlux architecture (about 1 B parameters: FLAN-T5-large
encoder, 6 + 18 Flux blocks, Oobleck VAE) with random weights, which cost the same compute as the real ones.

On a CUDA GPU (float16, as the backend runs there), for one 30 s clip:

- seconds per clip at 25 and 50 steps (text encoding + sampling + VAE decode), mean of 2 after a warm-up;
- peak GPU memory while generating;
- TTS → TangoFlux hand-over: a stand-in TTS stage holds the GPU lock with 1 GiB resident, frees it and
  releases the lock; the ambience backend, already waiting, takes the lock and loads the model from disk.
  Printed: release → lock taken, and release → model ready on the GPU.

Without a GPU it is skipped, unless ``BENCH_TANGOFLUX_CPU=1``: then it times one flow step and one
decode on the CPU (float32) and extrapolates to 25 and 50 steps (minutes; the reference measured
6.96 s per step and 71.8 s per decode on 2 cores).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench
torch = pytest.importorskip("torch", reason="needs the [tangoflux] extra")
ON_GPU = torch.cuda.is_available()

PROMPT = "heavy rain on a tin roof with distant thunder"


def _clip(pipeline, steps: int) -> float:
    start = time.perf_counter()
    latents = pipeline.latents(PROMPT, duration_s=30.0, seed=1, steps=steps, guidance_scale=4.5)
    pipeline.decode(latents, 30.0)
    if ON_GPU:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def test_bench_full_size_tangoflux():
    from tests.fakes.tangoflux import FULL, pipeline

    if not ON_GPU and os.environ.get("BENCH_TANGOFLUX_CPU") != "1":
        pytest.skip("no CUDA GPU here (BENCH_TANGOFLUX_CPU=1 runs the CPU estimate)")
    start = time.perf_counter()
    p = pipeline(FULL)
    print(f"\nfull-size random-weight TangoFlux: {p.parameters() / 1e6:.0f} M parameters (+ T5 embeddings "
          f"shared), built in {time.perf_counter() - start:.1f} s")
    if not ON_GPU:
        p.to(torch.device("cpu"), torch.float32)
        torch.set_num_threads(os.cpu_count() or 1)
        _steps_s(p, 1)  # warm-up
        one_step = (_steps_s(p, 3) - _steps_s(p, 1)) / 2  # the prompt's encoding cancels out
        decode_s = _decode_s(p)
        for steps in (25, 50):
            print(f"CPU ({os.cpu_count()} threads, float32): {one_step:.2f} s per step, decode {decode_s:.1f} s "
                  f"-> about {steps * one_step + decode_s:.0f} s per 30 s clip at {steps} steps")
        return
    p.to(torch.device("cuda:0"), torch.float16)
    _clip(p, 2)  # warm-up: kernels, allocator
    torch.cuda.reset_peak_memory_stats()
    for steps in (25, 50):
        times = [_clip(p, steps) for _ in range(2)]
        print(f"{torch.cuda.get_device_name(0)} float16: {sum(times) / len(times):.2f} s per 30 s clip at "
              f"{steps} steps (runs: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"peak GPU memory while generating: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    del p
    torch.cuda.empty_cache()
    _handover()


def _steps_s(p, steps: int) -> float:
    """Seconds for the prompt's encoding and ``steps`` flow steps."""
    start = time.perf_counter()
    p.latents(PROMPT, duration_s=30.0, seed=1, steps=steps, guidance_scale=4.5)
    return time.perf_counter() - start


def _decode_s(p) -> float:
    latents = torch.randn(1, p.model.config.audio_seq_len, 64)
    start = time.perf_counter()
    p.decode(latents, 30.0)
    return time.perf_counter() - start


def _handover() -> None:
    from nodes.ambience.backends.tangoflux import GenerationSettings, TangoFluxBackend
    from nodes.common.errors import collect_warnings
    from nodes.common.gpulock import gpu_lock
    from tests.fakes.tangoflux import FULL, write_model

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        model = write_model(Path(tmp) / "model", FULL)
        print(f"full-size model folder written in {time.perf_counter() - start:.1f} s")
        env = {"DRAMAFLOW_LOCK_DIR": tmp}
        held, released = threading.Event(), {}

        def tts_stage() -> None:
            with gpu_lock("cuda:0", holder="tts (stand-in)", env=env):
                resident = torch.empty(2**30, dtype=torch.uint8, device="cuda:0")  # a voice model's worth
                held.set()
                time.sleep(1.0)  # speaking
                del resident
                torch.cuda.empty_cache()
                released["at"] = time.perf_counter()

        tts = threading.Thread(target=tts_stage)
        tts.start()
        held.wait()
        backend = TangoFluxBackend(model, settings=GenerationSettings(steps=2), device="cuda:0", env=env)
        asked = time.perf_counter()
        with collect_warnings():
            backend._load()  # waits for the lock, then loads from disk onto the GPU
        ready = time.perf_counter()
        tts.join()
        taken = asked + backend.stats["lock_wait_s"]
        print(f"TTS -> TangoFlux hand-over: lock taken {taken - released['at']:.3f} s after the TTS stage released "
              f"it (poll interval 0.05 s); model loaded in {backend.stats['load_s']:.1f} s; release -> model ready "
              f"{ready - released['at']:.1f} s")
        backend.close()
