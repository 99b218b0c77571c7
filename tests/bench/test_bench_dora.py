"""Benchmark (``make bench``): orchestration overhead of the dora engine against the DirectEngine,
side by side in one run on the demo script; time to the first progress event; peak memory of the
whole process tree (engine + coordinator + daemon + nodes), sampled every 50 ms."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from control_api.engines.base import RenderOptions
from control_api.engines.direct import DirectEngine
from control_api.engines.dora import DoraEngine

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pid, ppid = int(entry.name), int(fields[1])
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(ppid, []).append(pid)
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1e6


class PeakSampler:
    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, tree_rss_mb(os.getpid()))

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(engine, out: Path) -> tuple[float, float, object, float]:
    script = (ROOT / "scripts/the-lighthouse.md").read_text(encoding="utf-8")
    first: list[float] = []
    start = time.perf_counter()
    with PeakSampler() as sampler:
        report = engine.render(script, out, RenderOptions(),
                               on_progress=lambda e: first.append(time.perf_counter()) if not first else None)
    return time.perf_counter() - start, first[0] - start, report, sampler.peak_mb


def test_dora_against_direct_on_the_demo(tmp_path):
    direct = DirectEngine()
    dora = DoraEngine(workdir=tmp_path / "dora")
    try:
        t0 = time.perf_counter()
        assert dora.daemon.alive  # start the coordinator and daemon outside the per-task measurement
        daemon_start = time.perf_counter() - t0
        direct_s, direct_first, direct_report, direct_mb = timed(direct, tmp_path / "direct.mp3")
        dora_s, dora_first, dora_report, dora_mb = timed(dora, tmp_path / "dora.mp3")
    finally:
        direct.close()
        dora.close()
    assert direct_report.duration_s == dora_report.duration_s
    print(f"\nBENCH dora vs direct on the demo ({dora_report.duration_s:.1f} s of audio): "
          f"direct {direct_s:.1f} s, dora {dora_s:.1f} s, ratio {dora_s / direct_s:.2f} "
          f"(+{dora_s - direct_s:.1f} s per task); daemon start {daemon_start:.1f} s (once per worker)")
    print(f"BENCH first progress event: direct {direct_first * 1000:.0f} ms, dora {dora_first * 1000:.0f} ms")
    print(f"BENCH peak RSS of the process tree: direct {direct_mb:.0f} MB, dora {dora_mb:.0f} MB "
          f"(engine + coordinator + daemon + 6 nodes)")
