"""An exclusive lock per GPU across processes on one machine (workers, dataflows, the CLI).

Every GPU stage holds it while its model is resident, so TTS and TangoFlux never share one GPU: the
TTS stage finishes and releases before the ambience stage takes it. It is ``flock(2)`` on a file per
device in ``DRAMAFLOW_LOCK_DIR`` (default: the system's temp folder): the kernel releases it when the
holder exits in any way, a SIGKILL included, so a crashed stage never blocks the machine. The file
names the current holder, for the error a waiter gets when its ``timeout_s`` runs out. A model stage on
the CPU (TangoFlux where there is no GPU) takes the device ``cpu``: one such model at a time per machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from nodes.common.errors import ConfigError, TransientBackendError

POLL_S = 0.05  # how often a waiter retries a non-blocking flock
DEFAULT_TIMEOUT_S = 3600.0


def timeout_from_env(env: Mapping[str, str] = os.environ) -> float:
    """``DRAMAFLOW_GPU_LOCK_TIMEOUT_S`` (seconds a stage waits for its device), default one hour."""
    raw = env.get("DRAMAFLOW_GPU_LOCK_TIMEOUT_S")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"DRAMAFLOW_GPU_LOCK_TIMEOUT_S={raw!r} is not a number of seconds") from None


def lock_path(device: str, env: Mapping[str, str] = os.environ) -> Path:
    """The lock file of ``device`` (e.g. ``cuda:0``)."""
    root = Path(env.get("DRAMAFLOW_LOCK_DIR") or tempfile.gettempdir())
    return root / f"dramaflow-gpu-{device.replace(':', '-').replace('/', '-')}.lock"


@contextmanager
def gpu_lock(device: str, *, holder: str, timeout_s: float | None = None,
             env: Mapping[str, str] = os.environ) -> Iterator[float]:
    """Hold ``device`` exclusively; yields the seconds spent waiting.

    Raises ``TransientBackendError`` naming the holder when ``timeout_s`` passes first (a later retry
    may find the GPU free)."""
    path = lock_path(device, env)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    start = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if timeout_s is not None and time.monotonic() - start > timeout_s:
                    raise TransientBackendError(
                        f"device {device} still busy after {timeout_s:g} s, held by {_holder(path)}",
                        backend="gpu-lock") from None
                time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "holder": holder, "since": time.time()}).encode(), 0)
        yield time.monotonic() - start
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "an unknown process"
    return f"{info.get('holder', '?')} (pid {info.get('pid', '?')})"
