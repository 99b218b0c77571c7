"""Fakes of remote paid APIs, as real servers on loopback (no patched clients)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from control_api.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


class FakeT2A:
    """``tests.fakes.minimax_t2a`` in a subprocess; ``url`` is its base URL, ``key`` the key it accepts."""

    def __init__(self, *, key: str = "test-key", rpm: int = 1000, window_s: float = 60.0, latency_s: float = 0.0):
        self.key, self.port = key, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.minimax_t2a", "--port", str(self.port), "--key", key,
             "--rpm", str(rpm), "--window-s", str(window_s), "--latency-s", str(latency_s)],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.log()
                return
            except httpx.TransportError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    output = self.output()
                    self.close()
                    raise RuntimeError(f"fake T2A server did not start: {output[-500:]}") from None
                time.sleep(0.05)  # polling for the port to open, bounded by the deadline above

    def env(self, **extra: Any) -> dict[str, str]:
        """The environment a dramaflow process needs to use this server. The client's rate limit is
        lifted unless ``MINIMAX_RPM`` is given (a process shares one limiter per key: tests would queue)."""
        return {"MINIMAX_API_KEY": self.key, "MINIMAX_BASE_URL": self.url, "MINIMAX_RPM": "100000",
                **{k: str(v) for k, v in extra.items()}}

    def log(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/_fake/log", timeout=10).json()["requests"]

    def ok_texts(self) -> list[str]:
        return [r["text"] for r in self.log() if r.get("code") == 0]

    def faults(self, *faults: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/_fake/faults", json=list(faults), timeout=10).raise_for_status()

    def configure(self, **settings: Any) -> None:
        httpx.post(f"{self.url}/_fake/config", json=settings, timeout=10).raise_for_status()

    def reset(self, **settings: Any) -> None:
        httpx.post(f"{self.url}/_fake/reset", timeout=10).raise_for_status()
        self.configure(**{"rpm": 1000, "window_s": 60.0, "latency_s": 0.0, **settings})

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
