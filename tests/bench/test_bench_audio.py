"""Benchmarks (``make bench``): they print numbers and assert only that the work was done.

- mixer throughput: seconds of audio mixed and mastered per wall second, 30-minute timeline;
- end-to-end real-time factor of the demo render, with the peak memory of the process.
Each runs in a fresh subprocess so that peak memory (ru_maxrss) belongs to that work alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench

MIXER_BENCH = textwrap.dedent("""
    import json, resource, time
    import numpy as np
    from nodes.common.types import PlacedCue
    from nodes.mixer.core import mix, MixConfig
    from tests.factories import SR, noise, speechlike, timeline

    minutes = {minutes}
    lines, t, spans = [], 0.5, []
    while t < minutes * 60 - 8:
        lines.append(("AB"[len(lines) % 2], t, t + 4.0)); t += 4.8
    clips = {{i: speechlike(4.0, seed=i % 50) for i in range(len(lines))}}
    beds, cues = {{}}, []
    for k, start in enumerate(range(0, minutes * 60, 300)):
        end = min(minutes * 60.0, start + 302.0)
        cues.append(PlacedCue(k, "ambience", "bed", 1, float(start), end, ()))
        beds[k] = noise(end - start, 0.05, seed=k)
    tl = timeline(lines, cues=tuple(cues), duration_s=float(minutes * 60))
    start = time.perf_counter()
    result = mix(tl, clips, beds, {{}}, MixConfig())
    wall = time.perf_counter() - start
    print(json.dumps({{"audio_s": tl.duration_s, "wall_s": wall, "lufs": result.lufs,
                       "true_peak_dbtp": result.true_peak_dbtp,
                       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
""")


def run_python(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_mixer_throughput_30_minutes():
    r = run_python(MIXER_BENCH.format(minutes=30))
    assert r["audio_s"] == 1800.0 and abs(r["lufs"] + 16.0) < 0.5
    print(f"\nBENCH mixer: {r['audio_s']:.0f} s of audio mixed+mastered in {r['wall_s']:.1f} s "
          f"= {r['audio_s'] / r['wall_s']:.1f}x real time; peak RSS {r['peak_rss_mb']:.0f} MB; "
          f"{r['lufs']:.2f} LUFS, {r['true_peak_dbtp']:.2f} dBTP")


def test_demo_end_to_end_real_time_factor(tmp_path):
    code = textwrap.dedent(f"""
        import json, resource, subprocess, sys, time
        start = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "control_api.cli", "render", "scripts/the-lighthouse.md",
                            "-o", "{tmp_path}/demo.mp3", "--json"], capture_output=True, text=True)
        wall = time.perf_counter() - start
        assert p.returncode == 0, p.stderr
        report = json.loads(p.stdout)
        print(json.dumps({{"wall_s": wall, "audio_s": report["duration_s"], "stages": report["stage_seconds"],
                           "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}))
    """)
    r = run_python(code)
    assert r["audio_s"] > 120
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in r["stages"].items())
    print(f"\nBENCH demo: {r['audio_s']:.1f} s of audio in {r['wall_s']:.1f} s wall "
          f"(RTF {r['wall_s'] / r['audio_s']:.3f}, {r['audio_s'] / r['wall_s']:.1f}x real time, imports and "
          f"model loads included); peak RSS {r['peak_rss_mb']:.0f} MB; stages: {stages}")
