"""Benchmark (``make bench``): memory of concurrent renders on one worker machine.

Four demo renders at once through one dora daemon, as a worker with ``--concurrency 4`` runs them (each
render speaking with its share of the cores): the peak resident memory of the whole tree (coordinator,
daemon and every node of the four flows, sampled every 50 ms), against the 8 GB of the platform's
worker machine.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from control_api.engines.base import RenderOptions
from control_api.engines.dora import DoraEngine
from control_api.settings import tts_workers_per_render
from nodes.common.settings import ENV_TTS_WORKERS
from tests.bench.test_bench_dora import PeakSampler, tree_rss_mb

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench
RENDERS = 4


def test_four_demo_renders_at_once(tmp_path):
    script = (ROOT / "scripts/the-lighthouse.md").read_text(encoding="utf-8")
    workers = os.environ.get(ENV_TTS_WORKERS) or str(tts_workers_per_render(RENDERS))
    engine = DoraEngine(workdir=tmp_path / "dora", daemon_env={ENV_TTS_WORKERS: workers})
    reports: dict[int, object] = {}
    errors: list[BaseException] = []

    def render(k: int) -> None:
        try:
            reports[k] = engine.render(script, tmp_path / f"r{k}.mp3", RenderOptions())
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    try:
        assert engine.daemon.alive
        idle_mb = sum(tree_rss_mb(pid) for pid in engine.daemon.pids)
        threads = [threading.Thread(target=render, args=(k,)) for k in range(RENDERS)]
        started = time.perf_counter()
        with PeakSampler(engine.daemon.pids, pss=True) as sampler:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        wall_s = time.perf_counter() - started
    finally:
        engine.close()
    assert not errors, errors
    assert len({(tmp_path / f"r{k}.wav").read_bytes() for k in range(RENDERS)}) == 1
    audio_s = sum(report.duration_s for report in reports.values())
    print(f"\nBENCH {RENDERS} demo renders at once on one daemon ({ENV_TTS_WORKERS}={workers} each): peak RSS of the "
          f"tree {sampler.peak_mb:.0f} MB (idle daemon and coordinator {idle_mb:.0f} MB), "
          f"{sampler.peak_mb / RENDERS:.0f} MB per render; PSS summed {sampler.pss_peak_mb:.0f} MB; {wall_s:.1f} s for {audio_s:.0f} s of audio "
          f"(real-time factor {wall_s / audio_s:.3f})")
