"""Benchmark (``make bench``): the control service on real PostgreSQL, Redis and dora.

- Throughput: N demo-script tasks submitted at once to one worker process rendering as many at a time
  as its default concurrency (from the machine's cores and memory), wall time until all are completed
  → tasks per hour.
- Status polling latency (GET /api/v1/tasks/{id}) from 4 client threads, each 10 times a second,
  while those renders run: p50 / p99 in milliseconds.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest

from control_api import accounts, credits
from control_api.db import session_scope
from control_api.settings import default_concurrency
from tests.control_api.service.conftest import Account, Workers, final_status

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench
TASKS = 4
POLLERS = 4
POLL_INTERVAL_S = 0.1  # each poller asks 10 times a second, as a busy dashboard would


def test_bench_tasks_per_hour_and_polling_latency(settings, api_url, tmp_path):
    with session_scope(settings.database_url) as session:
        user, key = accounts.create_user(session, f"bench-{time.monotonic_ns()}")
        credits.grant(session, user.username, 10**6)
    account = Account(user.username, key, user.id)
    headers = account.headers
    demo = (ROOT / "scripts" / "the-lighthouse.md").read_text(encoding="utf-8")
    pool = Workers(settings, tmp_path)
    concurrency = default_concurrency()
    pool.start(concurrency=concurrency)
    latencies: list[float] = []
    stop = threading.Event()
    try:
        with httpx.Client(base_url=api_url, headers=headers, timeout=120) as client:
            started = time.perf_counter()
            tasks = [client.post("/api/v1/tasks", json={"script": demo, "template": "drama"}).json()
                     for _ in range(TASKS)]
            ids = [t["id"] for t in tasks]

            def poll(task_id: str) -> None:
                with httpx.Client(base_url=api_url, headers=headers, timeout=30) as c:
                    while not stop.is_set():
                        t0 = time.perf_counter()
                        c.get(f"/api/v1/tasks/{task_id}").raise_for_status()
                        latencies.append(time.perf_counter() - t0)
                        stop.wait(POLL_INTERVAL_S)

            threads = [threading.Thread(target=poll, args=(ids[i % TASKS],)) for i in range(POLLERS)]
            for t in threads:
                t.start()

            finals = [final_status(client, account, t, timeout_s=1800) for t in tasks]
            assert [f["status"] for f in finals] == ["completed"] * TASKS
            elapsed = time.perf_counter() - started
            stop.set()
            for t in threads:
                t.join()
            audio_s = sum(client.get(f"/api/v1/tasks/{i}").json()["duration_s"] for i in ids)
    finally:
        stop.set()
        pool.stop_all()
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"\nservice: {TASKS} demo tasks (drama template, {audio_s / TASKS:.1f} s of audio each), one worker "
          f"rendering {concurrency} at a time: {elapsed:.1f} s → {TASKS / elapsed * 3600:.0f} tasks/hour "
          f"({audio_s / elapsed:.2f} s of audio per second)")
    print(f"status polling under that load, {POLLERS} threads at {1 / POLL_INTERVAL_S:.0f}/s, {len(ms)} requests: "
          f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms")
