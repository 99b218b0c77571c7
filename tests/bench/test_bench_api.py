"""Benchmark (``make bench``): the API process stays responsive and small.

- Health checks (GET /healthz, 20 a second) while 3 scripts of 10,000 lines each are validated at
  once: p50 / p99 / max latency in milliseconds, beside the same checks with nothing else to do, and
  the time each submission took. Validation runs in helper processes, so the event loop stays free.
- Memory: the API process's resident set (VmRSS) before and after rendering the preview of every
  voice in the library (previews render in a helper process; the API only serves the files).
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.control_api.service.conftest import new_account, running_api

pytestmark = pytest.mark.bench
CHECKS_PER_S = 20
BIG_SCRIPT_LINES = 10_000
SUBMISSIONS = 3


def big_script(lines: int) -> str:
    body = "\n".join(f"{'AB'[i % 2]}: This is line {i}, a sentence." for i in range(lines))
    return f"---\ntitle: Long\nvoices: {{A: en-espeak-f, B: en-espeak-m}}\n---\n{body}\n"


def health_latencies_ms(url: str, stop: threading.Event) -> list[float]:
    found: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            client.get("/healthz").raise_for_status()
            found.append((time.perf_counter() - t0) * 1000)
            stop.wait(1 / CHECKS_PER_S)
    return found


def summary(ms: list[float]) -> str:
    ms = sorted(ms)
    return (f"{len(ms)} checks, p50 {statistics.median(ms):.1f} ms, p99 {ms[min(len(ms) - 1, int(len(ms) * 0.99))]:.1f} ms,"
            f" max {ms[-1]:.1f} ms")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def measured_checks(url: str, during) -> tuple[list[float], object]:
    stop, found = threading.Event(), []
    thread = threading.Thread(target=lambda: found.extend(health_latencies_ms(url, stop)))
    thread.start()
    try:
        result = during()
    finally:
        stop.set()
        thread.join()
    return found, result


def test_bench_event_loop_under_validation_and_memory_under_previews(settings, tmp_path):
    own = settings.model_copy(update={"data_dir": tmp_path / "data"})  # previews not cached yet
    account = new_account(own, credits=10**7)
    text = big_script(BIG_SCRIPT_LINES)
    with running_api(own, tmp_path, DRAMAFLOW_MAX_DURATION_S=str(24 * 3600)) as (url, proc), httpx.Client(base_url=url, timeout=300,
                                                                  headers=account.headers) as client:
        idle, _ = measured_checks(url, lambda: threading.Event().wait(3))

        def submit_all() -> list[float]:
            took: list[float] = []

            def one() -> None:
                t0 = time.perf_counter()
                response = client.post("/api/v1/tasks", json={"script": text})
                assert response.status_code == 202, response.text
                took.append(time.perf_counter() - t0)
            threads = [threading.Thread(target=one) for _ in range(SUBMISSIONS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return took

        busy, took = measured_checks(url, submit_all)
        voices = [v["id"] for v in client.get("/api/v1/voices").json()]
        before = rss_mib(proc.pid)
        t0 = time.perf_counter()
        rendered = [client.get(f"/api/v1/voices/{v}/preview").status_code for v in voices]
        previews_s = time.perf_counter() - t0
        after = rss_mib(proc.pid)
    assert len(took) == SUBMISSIONS
    print(f"\n/healthz at {CHECKS_PER_S}/s, idle: {summary(idle)}")
    print(f"/healthz while {SUBMISSIONS} scripts of {BIG_SCRIPT_LINES} lines are validated at once: {summary(busy)};"
          f" submissions took {', '.join(f'{s:.1f}' for s in sorted(took))} s")
    print(f"API memory (VmRSS): {before:.0f} MiB before, {after:.0f} MiB after {len(voices)} voice previews "
          f"({rendered.count(200)} rendered in {previews_s:.1f} s, {len(voices) - rendered.count(200)} unavailable)")


def test_bench_sign_in_timing_and_memory(settings, tmp_path):
    """Sign-in: a wrong password and an unknown user take the same time (both check one argon2id hash);
    20 sign-ins at once stay within the hashing semaphore's memory."""
    password, rounds = "violet harbour lantern", 15
    env = {"DRAMAFLOW_LOGIN_MAX_FAILURES": "100000", "DRAMAFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000"}
    with running_api(settings, tmp_path, **env) as (url, proc), httpx.Client(base_url=url, timeout=120) as client:
        name = f"bench{time.monotonic_ns()}"
        assert client.post("/api/v1/auth/register", json={"username": name, "email": f"{name}@example.org",
                                                          "password": password}).status_code == 201

        def timed(username: str, secret: str) -> float:
            t0 = time.perf_counter()
            client.post("/api/v1/auth/login", data={"username": username, "password": secret})
            return (time.perf_counter() - t0) * 1000

        cases = {"right password": (name, password), "wrong password": (name, "wrong password!!"),
                 "unknown user": (f"nobody{time.monotonic_ns()}", "wrong password!!")}
        times = {label: [] for label in cases}
        for _ in range(rounds):  # interleaved, so that a busy moment of the machine hits every case alike
            for label, (user, secret) in cases.items():
                times[label].append(timed(user, secret))
        before = rss_mib(proc.pid)

        def burst() -> None:
            with httpx.Client(base_url=url, timeout=120) as c:
                c.post("/api/v1/auth/login", data={"username": name, "password": password})
        threads = [threading.Thread(target=burst) for _ in range(20)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        burst_s, after = time.perf_counter() - t0, rss_mib(proc.pid)
    print()
    for label, ms in times.items():
        print(f"POST /auth/login, {label}: median {statistics.median(ms):.1f} ms, "
              f"min {min(ms):.1f}, max {max(ms):.1f} ({rounds} each)")
    print(f"20 sign-ins at once: {burst_s:.2f} s; API memory (VmRSS) {before:.0f} MiB before, {after:.0f} MiB after")
