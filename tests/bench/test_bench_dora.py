"""Benchmark (``make bench``): orchestration overhead of the dora engine against the DirectEngine,
side by side in one run on the demo script; time to the first progress event; peak memory of the
whole process tree (engine + coordinator + daemon + nodes), sampled every 50 ms.

The DirectEngine is measured two ways: as the issue measured it, a whole ``dramaflow render --engine
direct`` process per render (imports, model loading and all: what one render costs), and warm, one
engine kept in this process across its renders (what a long-running worker pays after the first). dora
runs with its daemon already up, as in a worker, so each render pays its node processes' start-up.
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from control_api.engines.base import RenderOptions
from control_api.engines.direct import DirectEngine
from control_api.engines.dora import DoraEngine

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, in MB."""
    return sum(tree_rss_by_process(root).values())


def tree_rss_by_process(root: int) -> dict[str, float]:
    """Resident memory in MB of ``root`` and each of its descendants, keyed by ``pid command``."""
    return {f"{pid} {_command(pid)}": rss / 1e6 for pid, rss in _tree(root).items()}


def pss_mb(pid: int) -> float:
    """Proportional set size in MB: resident memory with each page shared by n processes counted 1/n
    (the shared libraries every node maps, dora's shared memory), so that a sum over processes is the
    memory they really take; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024 / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _tree(root: int) -> dict[int, int]:
    """RSS in bytes of ``root`` and each of its descendants, by pid."""
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
    found, stack = {}, [root]
    while stack:
        pid = stack.pop()
        if pid in rss:
            found[pid] = rss[pid]
        stack.extend(children.get(pid, []))
    return found


def _command(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(Path(w.decode(errors="replace")).name for w in words[:3] if w)


class PeakSampler:
    """Peak RSS of this process's tree, sampled every 50 ms; its own CPU (``cpu_s``) is left out of the
    engine's."""

    def __init__(self, roots: list[int], *, pss: bool = False) -> None:
        self.roots, self.pss = roots, pss
        self.peak_mb = self.pss_peak_mb = 0.0  # RSS summed over the tree; PSS summed, when asked for
        self.at_peak: dict[str, float] = {}  # each process's RSS when the tree peaked
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            processes = {name: mb for root in self.roots for name, mb in tree_rss_by_process(root).items()}
            if sum(processes.values()) > self.peak_mb:
                self.peak_mb, self.at_peak = sum(processes.values()), processes
            if self.pss:
                self.pss_peak_mb = max(self.pss_peak_mb, sum(pss_mb(int(name.split()[0])) for name in processes))
        self.cpu_s = time.thread_time()

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def process_cpu_s(pid: int) -> tuple[float, float]:
    """(own CPU, CPU of its exited and waited children) of ``pid``, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


@dataclass
class Run:
    wall_s: float
    first_progress_s: float
    cpu_s: float
    peak_mb: float
    report: object
    pss_mb: float = math.nan


def timed(engine, out: Path, daemon_pids: list[int] = ()) -> Run:
    """One render of the demo: wall, first progress, CPU of everything it ran (this process without the
    sampler, the dora CLI calls, coordinator, daemon, and the node processes the daemon waited for)."""
    script = (ROOT / "scripts/the-lighthouse.md").read_text(encoding="utf-8")
    first: list[float] = []
    before = [process_cpu_s(pid) for pid in daemon_pids]
    own0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # dora: the coordinator's and the daemon's trees (nodes included) and this process's RSS growth;
    # direct: this process (it renders in-process)
    baseline_mb = tree_rss_mb(os.getpid()) if daemon_pids else 0.0
    with PeakSampler([*daemon_pids] or [os.getpid()], pss=True) as sampler:
        report = engine.render(script, out, RenderOptions(),
                               on_progress=lambda e: first.append(time.perf_counter()) if not first else None)
    wall = time.perf_counter() - start
    own1, kids1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime - sampler.cpu_s
           + kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime)
    for pid, (own, waited) in zip(daemon_pids, before, strict=True):
        own_now, waited_now = process_cpu_s(pid)
        cpu += own_now - own + waited_now - waited
    return Run(wall, first[0] - start, cpu, sampler.peak_mb + max(0.0, tree_rss_mb(os.getpid()) - baseline_mb)
               if daemon_pids else sampler.peak_mb, report, sampler.pss_peak_mb)


def timed_cli(script_path: Path, out: Path) -> Run:
    """One whole ``dramaflow render --engine direct`` process: wall, CPU (its and its children's), peak RSS
    of its tree. First progress is not observed (``nan``)."""
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("dramaflow")), "render", str(script_path), "-o",
                             str(out), "--engine", "direct", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    with PeakSampler([proc.pid], pss=True) as sampler:
        stdout, _ = proc.communicate()
    wall = time.perf_counter() - start
    assert proc.returncode == 0, stdout[-2000:]
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime
    return Run(wall, math.nan, cpu, sampler.peak_mb, None, sampler.pss_peak_mb)


RUNS = 3


def test_dora_against_direct_on_the_demo(tmp_path):
    """Interleaved direct, dora, direct, dora…: medians of ``RUNS`` each, and every node's own numbers."""
    direct = DirectEngine()
    dora = DoraEngine(workdir=tmp_path / "dora")
    try:
        t0 = time.perf_counter()
        assert dora.daemon.alive  # start the coordinator and daemon outside the per-task measurement
        daemon_start = time.perf_counter() - t0
        runs: dict[str, list[Run]] = {"cli": [], "direct": [], "dora": []}
        for k in range(RUNS):
            runs["cli"].append(timed_cli(ROOT / "scripts/the-lighthouse.md", tmp_path / f"cli{k}.mp3"))
            runs["direct"].append(timed(direct, tmp_path / f"direct{k}.mp3"))
            runs["dora"].append(timed(dora, tmp_path / f"dora{k}.mp3", dora.daemon.pids))
    finally:
        direct.close()
        dora.close()
    wavs = {(tmp_path / f"{name}{k}.wav").read_bytes() for name in runs for k in range(RUNS)}
    assert len(wavs) == 1, "the engines and the runs gave different samples"

    def median(name: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in runs[name])

    duration_s = runs["dora"][0].report.duration_s
    c_wall, d_wall, o_wall = (median(name, "wall_s") for name in ("cli", "direct", "dora"))
    c_cpu, d_cpu, o_cpu = (median(name, "cpu_s") for name in ("cli", "direct", "dora"))
    print(f"\nBENCH dora vs direct on the demo ({duration_s:.1f} s of audio, median of {RUNS}, "
          f"DRAMAFLOW_TTS_WORKERS={os.environ.get('DRAMAFLOW_TTS_WORKERS', 'default')}; daemon start "
          f"{daemon_start:.1f} s, once per worker)")
    print(f"BENCH wall: dora {o_wall:.1f} s; direct as a whole CLI process {c_wall:.1f} s (ratio "
          f"{o_wall / c_wall:.2f}); direct warm in-process {d_wall:.1f} s (ratio {o_wall / d_wall:.2f})")
    print(f"BENCH CPU: dora {o_cpu:.1f} s; direct as a whole CLI process {c_cpu:.1f} s (ratio "
          f"{o_cpu / c_cpu:.2f}); direct warm in-process {d_cpu:.1f} s (ratio {o_cpu / d_cpu:.2f})")
    print(f"BENCH real-time factor: dora {o_wall / duration_s:.3f}, direct CLI {c_wall / duration_s:.3f}, "
          f"direct warm {d_wall / duration_s:.3f}")
    print(f"BENCH first progress event: direct {median('direct', 'first_progress_s') * 1000:.0f} ms, "
          f"dora {median('dora', 'first_progress_s') * 1000:.0f} ms")
    print(f"BENCH peak RSS of the process tree: dora {median('dora', 'peak_mb'):.0f} MB (coordinator + daemon + "
          f"6 nodes, and what the engine grew); direct CLI {median('cli', 'peak_mb'):.0f} MB; direct warm "
          f"{median('direct', 'peak_mb'):.0f} MB")
    print(f"BENCH peak PSS summed over the tree (shared pages counted once): dora {median('dora', 'pss_mb'):.0f} MB "
          f"(without the engine's growth); direct CLI {median('cli', 'pss_mb'):.0f} MB")
    stats = runs["dora"][-1].report.node_stats
    for node, numbers in stats.items():
        print(f"BENCH node {node:<9} start-up and imports {numbers['import_cpu_s']:5.2f} s CPU, in all "
              f"{numbers['cpu_s']:6.2f} s CPU, peak RSS {numbers['max_rss_mb']:6.0f} MB")
    assert set(stats) == {"segmenter", "tts", "effects", "ambience", "mixer", "output"}
