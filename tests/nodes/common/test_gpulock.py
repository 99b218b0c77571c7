"""The per-GPU lock across processes: holds never overlap, a killed holder frees it, waiters time out
naming the holder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nodes.common.errors import TransientBackendError
from nodes.common.gpulock import gpu_lock

ROOT = Path(__file__).resolve().parents[3]
HOLDS, HOLD_S = 6, 0.05


def contender(lock_dir: Path, log: Path, name: str) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import json, os, time
        from nodes.common.gpulock import gpu_lock
        for _ in range({HOLDS}):
            with gpu_lock("cuda:0", holder={name!r}):
                start = time.monotonic()
                time.sleep({HOLD_S})  # the work done while holding
                end = time.monotonic()
            with open({str(log)!r}, "a") as f:
                f.write(json.dumps([{name!r}, start, end]) + "\\n")
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "DRAMAFLOW_LOCK_DIR": str(lock_dir)})


def test_two_processes_never_hold_it_at_once(tmp_path):
    log = tmp_path / "holds.jsonl"
    procs = [contender(tmp_path, log, name) for name in ("tts", "tangoflux")]
    assert [p.wait(60) for p in procs] == [0, 0]
    holds = sorted(json.loads(line)[1:] for line in log.read_text().splitlines())
    assert len(holds) == 2 * HOLDS
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(holds, holds[1:], strict=False))


def holder(tmp_path: Path) -> subprocess.Popen:
    code = ("from nodes.common.gpulock import gpu_lock\nimport sys\n"
            "with gpu_lock('cuda:0', holder='tts task 42'):\n    print('held', flush=True)\n    sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "DRAMAFLOW_LOCK_DIR": str(tmp_path)})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_waiter_times_out_naming_the_holder(tmp_path):
    proc = holder(tmp_path)
    try:
        with pytest.raises(TransientBackendError, match=rf"tts task 42 \(pid {proc.pid}\)"):
            with gpu_lock("cuda:0", holder="ambience", timeout_s=0.2, env={"DRAMAFLOW_LOCK_DIR": str(tmp_path)}):
                pass
    finally:
        proc.stdin.close()
        proc.wait(10)
        proc.stdout.close()


def test_a_killed_holder_frees_the_gpu(tmp_path):
    proc = holder(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdin.close()
    proc.stdout.close()
    with gpu_lock("cuda:0", holder="ambience", timeout_s=5, env={"DRAMAFLOW_LOCK_DIR": str(tmp_path)}):
        pass  # taken: the kernel released the dead holder's flock (a stale lock would time out and raise)


def test_devices_are_independent(tmp_path):
    env = {"DRAMAFLOW_LOCK_DIR": str(tmp_path)}
    with gpu_lock("cuda:0", holder="a", env=env), gpu_lock("cuda:1", holder="b", timeout_s=0.2, env=env):
        pass
