"""Benchmark (``make bench``): a long programme through dora. The demo's story told ``N`` times over as
parts of one script (about 60 minutes of audio by default; ``BENCH_LONG_MINUTES`` sets it), rendered
with the daemon up: wall, real-time factor, the peak resident memory of the whole tree (sampled every
50 ms) against the 2.5 GB the issue allows, and each node's own peak."""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path

import pytest

from control_api.engines.base import RenderOptions
from control_api.engines.dora import DoraEngine
from tests.bench.test_bench_dora import PeakSampler

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench
MINUTES = float(os.environ.get("BENCH_LONG_MINUTES", 60))
DEMO_S = 186.0  # about one telling of the demo


def long_script(minutes: float) -> str:
    """The demo's front matter once, then its body ``ceil(minutes / 3.1)`` times, each telling's
    chapters renamed so that every chapter title stays unique."""
    text = (ROOT / "scripts/the-lighthouse.md").read_text(encoding="utf-8")
    _, front, body = text.split("---\n", 2)
    tellings = max(1, math.ceil(minutes * 60 / DEMO_S))
    parts = [re.sub(r"^## (.+)$", rf"## Night {k + 1}: \1", body, flags=re.M) for k in range(tellings)]
    return f"---\n{front}---\n" + "\n".join(parts)


def test_a_long_programme_through_dora(tmp_path):
    engine = DoraEngine(workdir=tmp_path / "dora")
    try:
        assert engine.daemon.alive
        started = time.perf_counter()
        with PeakSampler(engine.daemon.pids, pss=True) as sampler:
            report = engine.render(long_script(MINUTES), tmp_path / "long.mp3", RenderOptions())
        wall_s = time.perf_counter() - started
    finally:
        engine.close()
    assert report.duration_s > MINUTES * 60 * 0.9
    print(f"\nBENCH long programme through dora: {report.duration_s / 60:.1f} min of audio in {wall_s:.0f} s "
          f"(real-time factor {wall_s / report.duration_s:.3f}); peak of the tree: RSS summed {sampler.peak_mb:.0f} MB, "
          f"PSS summed {sampler.pss_peak_mb:.0f} MB")
    for process, mb in sorted(sampler.at_peak.items(), key=lambda item: -item[1]):
        print(f"BENCH long at the peak {mb:6.0f} MB  {process}")
    for node, numbers in report.node_stats.items():
        print(f"BENCH long node {node:<9} {numbers['cpu_s']:7.1f} s CPU, peak RSS {numbers['max_rss_mb']:6.0f} MB")
