"""MiniMax voices through the whole service: worker processes, dora, Redis, the fake T2A server.

The rate-limit test runs at 20 requests per 3 s window instead of per minute (client and fake server
alike; the client adds a 1 s margin), so 180 requests take half a minute instead of nine; the limiter
code is the same."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from nodes.tts.ratelimit import RedisRateLimiter
from tests.control_api.service.conftest import final_status
from tests.control_api.service.test_worker import charges, submit
from tests.nodes.tts.test_ratelimit import most_in_window

pytestmark = [pytest.mark.xdist_group("service"), pytest.mark.slow]
WINDOW_S, RPM = 3.0, 20


@pytest.fixture
def client(api_url):
    with httpx.Client(base_url=api_url, timeout=120) as c:
        yield c


def zh_script(lines: int, tag: str) -> str:
    speakers = ("大牛", "一帆", "博宇")
    body = "\n".join(f"【{speakers[i % 3]}】{tag}第{i}句台词，今天天气不错。" for i in range(lines))
    return f"---\ntitle: {tag}\nlanguage: zh\n---\n{body}\n"


def test_redis_limiter_is_shared_by_processes(settings):
    """Two limiters (as in two processes) on one key: together at most ``limit`` starts per window."""
    async def run() -> list[float]:
        key = f"dramaflow:test:limit:{id(settings)}"
        limiters = [RedisRateLimiter(settings.redis_url, key, limit=5, window_s=0.5) for _ in range(2)]
        loop = asyncio.get_running_loop()
        starts: list[float] = []

        async def take(limiter):
            await limiter.acquire()
            starts.append(loop.time())
        await asyncio.gather(*(take(limiters[i % 2]) for i in range(16)))
        for limiter in limiters:
            await limiter.aclose()
        return starts
    starts = asyncio.run(run())
    assert len(starts) == 16
    assert most_in_window(starts, 0.5) == 5  # the limit is reached and never passed


def test_three_workers_share_one_rate_limit(client, make_user, workers, fake_t2a):
    fake_t2a.reset(rpm=RPM, window_s=WINDOW_S)
    # the margin covers the time between taking a token and the request reaching the server: under the
    # load of the whole suite on 2 cores that spread passed 0.2 s (4 requests answered 1002 in one run)
    workers.env = fake_t2a.env(MINIMAX_RPM=RPM, MINIMAX_RATE_WINDOW_S=WINDOW_S, MINIMAX_RATE_MARGIN_S=1.0,
                               MINIMAX_CONCURRENCY=4, DRAMAFLOW_CACHE="off")
    for _ in range(3):
        workers.start(concurrency=1)
    user = make_user()
    tasks = [submit(client, user, zh_script(60, f"任务{k}")) for k in range(3)]
    done = [final_status(client, user, t) for t in tasks]
    assert [d["status"] for d in done] == ["completed"] * 3, [d["error"] for d in done]
    log = fake_t2a.log()
    assert [r.get("code") for r in log].count(1002) == 0  # the server never had to refuse one
    ok = [r["t"] for r in log if r.get("code") == 0]
    assert len(ok) == 180
    assert most_in_window(ok, WINDOW_S) == RPM  # the three workers together ran at the limit, never above
    for d in done:
        assert d["tts"]["requests"] == 60 and d["tts"]["usage_characters"] > 60 * 10


def test_a_line_that_keeps_failing_is_retried_as_a_task_and_completes(client, make_user, workers, fake_t2a,
                                                                     settings):
    workers.env = fake_t2a.env(DRAMAFLOW_CACHE="off")
    workers.start()
    user = make_user()
    fake_t2a.faults({"kind": "code", "code": 1000, "times": 3, "match": "第2句"})  # the stage's 3 attempts
    task = submit(client, user, zh_script(4, "重试"))
    final = final_status(client, user, task)
    assert final["status"] == "completed" and final["retry_count"] == 1
    assert len(charges(settings, task["id"])) == 1
    texts = fake_t2a.ok_texts()
    assert all(any(f"第{i}句" in t for t in texts) for i in range(4))  # every line spoken, none skipped


def test_a_fatal_error_fails_the_task_at_once_uncharged(client, make_user, workers, fake_t2a, settings):
    workers.env = fake_t2a.env(DRAMAFLOW_CACHE="off")
    workers.start()
    user = make_user()
    fake_t2a.faults({"kind": "code", "code": 1008, "times": 100, "message": "insufficient balance"})
    task = submit(client, user, zh_script(3, "余额"))
    final = final_status(client, user, task)
    assert final["status"] == "failed" and final["retry_count"] == 0
    assert "top up" in final["error"] and "1008" in final["error"]
    assert charges(settings, task["id"]) == []
    assert sum(1 for r in fake_t2a.log() if r.get("code") == 1008) <= 3  # each line at most once: no retries
