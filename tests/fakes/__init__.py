"""Fakes of remote paid APIs, as real servers on loopback (no patched clients)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


class FakeServer:
    """A fake of this package as a subprocess on loopback; ``url`` is its base URL, ``key`` the key it
    accepts. The socket listens before the server starts: early requests wait in its backlog, no polling."""

    module = ""

    def __init__(self, *args: str, key: str = "test-key") -> None:
        listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.key, self.port = key, listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()
        with listener:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "--fd", str(listener.fileno()), "--key", key, *args],
                cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),),
            )
        try:
            self.log(timeout_s=60)  # answered once the server has started (imports take a second or two)
        except httpx.HTTPError:
            output = self.output()
            self.close()
            raise RuntimeError(f"{self.module} did not start: {output[-500:]}") from None

    def log(self, timeout_s: float = 30) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/_fake/log", timeout=timeout_s).json()["requests"]

    def faults(self, *faults: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/_fake/faults", json=list(faults), timeout=30).raise_for_status()

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


class FakeChat(FakeServer):
    """``tests.fakes.openai_chat``: an OpenAI-compatible chat completions server."""

    module = "tests.fakes.openai_chat"

    def reset(self) -> None:
        httpx.post(f"{self.url}/_fake/reset", timeout=30).raise_for_status()

    def replies(self, *texts: str) -> None:
        httpx.post(f"{self.url}/_fake/replies", json=list(texts), timeout=30).raise_for_status()

    def env(self, model: str = "fake-model") -> dict[str, str]:
        return {"DRAMAFLOW_LLM_BASE_URL": f"{self.url}/v1", "DRAMAFLOW_LLM_API_KEY": self.key,
                "DRAMAFLOW_LLM_MODEL": model}


class FakeT2A(FakeServer):
    """``tests.fakes.minimax_t2a`` in a subprocess; ``url`` is its base URL, ``key`` the key it accepts."""

    module = "tests.fakes.minimax_t2a"

    def __init__(self, *, key: str = "test-key", rpm: int = 1000, window_s: float = 60.0, latency_s: float = 0.0):
        super().__init__("--rpm", str(rpm), "--window-s", str(window_s), "--latency-s", str(latency_s), key=key)

    def env(self, **extra: Any) -> dict[str, str]:
        """The environment a dramaflow process needs to use this server. The client's rate limit is
        lifted unless ``MINIMAX_RPM`` is given (a process shares one limiter per key: tests would queue)."""
        return {"MINIMAX_API_KEY": self.key, "MINIMAX_BASE_URL": self.url, "MINIMAX_RPM": "100000",
                **{k: str(v) for k, v in extra.items()}}

    def ok_texts(self) -> list[str]:
        return [r["text"] for r in self.log() if r.get("code") == 0]

    def configure(self, **settings: Any) -> None:
        httpx.post(f"{self.url}/_fake/config", json=settings, timeout=30).raise_for_status()

    def reset(self, **settings: Any) -> None:
        httpx.post(f"{self.url}/_fake/reset", timeout=30).raise_for_status()
        self.configure(**{"rpm": 1000, "window_s": 60.0, "latency_s": 0.0, "error_rate": 0.0, "error_seed": 0,
                          **settings})
