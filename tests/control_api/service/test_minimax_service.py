"""MiniMax voices through the whole service: worker processes, dora, Redis, the fake T2A server.

Rate limits here run on windows of seconds instead of a minute (client and fake server alike), so a
few hundred requests take tens of seconds instead of many minutes; the limiter code is the same. The
margin the client adds to the window is what covers the drift between taking a slot and the request
reaching the server: the tests hold that drift below it (injected jitter plus a loaded machine)."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
import pytest

from nodes.common.types import VoiceSettings
from nodes.tts.backends.base import SynthesisRequest
from nodes.tts.backends.minimax import MiniMaxConfig, MiniMaxSynthesizer
from nodes.tts.core import RetryPolicy, synthesize_requests
from nodes.tts.ratelimit import SLOW_FACTOR, RedisRateLimiter
from tests.control_api.service.conftest import final_status
from tests.control_api.service.test_worker import charges, submit
from tests.nodes.tts.test_ratelimit import most_in_window

pytestmark = [pytest.mark.xdist_group("service"), pytest.mark.slow]
WINDOW_S, RPM, MARGIN_S = 3.0, 20, 1.0
LINES_PER_TASK = 40  # three tasks: 120 requests and their retries, well past several windows
BAD_DAY = {"error_rate": 0.15, "error_codes": [1000, 1024, 1039], "error_seed": 7}


@pytest.fixture
def client(api_url):
    with httpx.Client(base_url=api_url, timeout=120) as c:
        yield c


def zh_script(lines: int, tag: str) -> str:
    speakers = ("大牛", "一帆", "博宇")
    body = "\n".join(f"【{speakers[i % 3]}】{tag}第{i}句台词，今天天气不错。" for i in range(lines))
    return f"---\ntitle: {tag}\nlanguage: zh\n---\n{body}\n"


def limiters(settings, n: int, **kw) -> list[RedisRateLimiter]:
    """``n`` limiters on one fresh key, as ``n`` worker processes sharing one API key would hold."""
    key = f"dramaflow:test:limit:{uuid.uuid4().hex}"
    return [RedisRateLimiter(settings.redis_url, key, **kw) for _ in range(n)]


def test_redis_limiter_is_shared_by_processes_and_paces_them(settings):
    """Two limiters (as in two processes) on one key: at most ``limit`` per window, evenly spaced."""
    async def run() -> tuple[list[float], float]:
        pair = limiters(settings, 2, limit=5, window_s=0.5, margin_s=0.1)
        starts = await asyncio.gather(*(pair[i % 2].acquire() for i in range(16)))  # slots on Redis's clock
        for limiter in pair:
            await limiter.aclose()
        return sorted(starts), pair[0].pace.interval_s
    starts, interval = asyncio.run(run())
    assert len(starts) == 16 and most_in_window(starts, 0.5) <= 5
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= interval - 1e-6


def test_a_rate_limit_answer_slows_every_sharer_down(settings):
    async def run() -> tuple[list[float], float]:
        a, b = limiters(settings, 2, limit=10, window_s=1.0)
        await a.slow_down()  # one worker got 1002 …
        starts = [await b.acquire() for _ in range(4)]  # … the other one is paced slower
        await a.aclose()
        await b.aclose()
        return starts, b.pace.interval_s
    starts, interval = asyncio.run(run())
    assert min(y - x for x, y in zip(starts, starts[1:], strict=False)) >= interval * SLOW_FACTOR - 1e-6


class JitterTransport(httpx.AsyncBaseTransport):
    """Delays each request by a random 0..``jitter_s`` between taking its slot and leaving."""

    def __init__(self, jitter_s: float, seed: int) -> None:
        self.inner, self.jitter_s, self.rng = httpx.AsyncHTTPTransport(), jitter_s, random.Random(seed)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.rng.uniform(0.0, self.jitter_s))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_three_workers_with_seconds_of_jitter_on_a_bad_day_speak_every_line_within_the_limit(settings, fake_t2a):
    """Three processes' worth of synthesizers share one Redis pace; each request reaches the server
    0–1.5 s after its slot; 15 % of requests fail transiently. Every line is spoken once, the server
    never has to refuse one for rate, and its busiest window holds at most the limit."""
    rpm, window_s, margin_s, jitter_s, lines = 10, 2.0, 2.0, 1.5, 36
    fake_t2a.reset(rpm=rpm, window_s=window_s, **BAD_DAY)
    config = MiniMaxConfig.from_env(fake_t2a.env(MINIMAX_RPM=rpm, MINIMAX_RATE_WINDOW_S=window_s,
                                                 MINIMAX_RATE_MARGIN_S=margin_s, MINIMAX_CONCURRENCY=4))
    voice = VoiceSettings(voice_id="zh-daniu", provider="minimax", language="zh", provider_voice="male-qn-qingse")

    async def worker(k: int, limiter: RedisRateLimiter) -> list:
        client = httpx.AsyncClient(transport=JitterTransport(jitter_s, seed=k), timeout=30,
                                   headers={"Authorization": f"Bearer {config.api_key}"})
        backend = MiniMaxSynthesizer(config, limiter=limiter, client=client)
        requests = [SynthesisRequest(seq=i, text=f"工人{k}第{i}句。", voice=voice, line=i + 1, language="zh")
                    for i in range(lines // 3)]
        try:
            return await synthesize_requests(requests, {"minimax": backend}, retry=RetryPolicy(base_delay_s=0.2))
        finally:
            await backend.aclose()

    async def run() -> list[list]:
        shared = limiters(settings, 3, limit=rpm, window_s=window_s, margin_s=margin_s)
        return await asyncio.gather(*(worker(k, shared[k]) for k in range(3)))

    results = asyncio.run(run())
    assert [len(clips) for clips in results] == [lines // 3] * 3
    log = fake_t2a.log()
    texts = [r["text"] for r in log if r.get("code") == 0]
    assert sorted(texts) == sorted(f"工人{k}第{i}句。" for k in range(3) for i in range(lines // 3))
    assert [r.get("code") for r in log].count(1002) == 0
    assert most_in_window([r["t"] for r in log], window_s) <= rpm  # refused or not, every arrival counts
    assert sum(c.retries for clips in results for c in clips) == sum(1 for r in log if r.get("code") != 0) > 0


def test_three_workers_share_one_rate_limit_on_a_bad_day(client, make_user, workers, fake_t2a):
    fake_t2a.reset(rpm=RPM, window_s=WINDOW_S, **BAD_DAY)
    workers.env = fake_t2a.env(MINIMAX_RPM=RPM, MINIMAX_RATE_WINDOW_S=WINDOW_S, MINIMAX_RATE_MARGIN_S=MARGIN_S,
                               MINIMAX_CONCURRENCY=4, DRAMAFLOW_CACHE="off")
    for _ in range(3):
        workers.start(concurrency=1)
    user = make_user()
    tasks = [submit(client, user, zh_script(LINES_PER_TASK, f"任务{k}")) for k in range(3)]
    done = [final_status(client, user, t) for t in tasks]
    assert [d["status"] for d in done] == ["completed"] * 3, [d["error"] for d in done]
    assert [d["retry_count"] for d in done] == [0, 0, 0]  # the stage rode out the bad day by itself
    log = fake_t2a.log()
    assert [r.get("code") for r in log].count(1002) == 0  # the server never had to refuse one for rate
    assert most_in_window([r["t"] for r in log], WINDOW_S) <= RPM  # three workers together, never above
    texts = [r["text"] for r in log if r.get("code") == 0]
    assert len(texts) == len(set(texts)) == 3 * LINES_PER_TASK  # every line spoken, once
    failed = sum(1 for r in log if r.get("code") != 0)
    assert failed > 0 and sum(d["tts"]["retries"] for d in done) == failed
    for d in done:
        assert d["tts"]["requests"] == LINES_PER_TASK + d["tts"]["retries"]
        assert d["tts"]["usage_characters"] > LINES_PER_TASK * 10


def test_a_line_past_its_deadline_is_retried_as_a_task_and_completes(client, make_user, workers, fake_t2a,
                                                                     settings):
    workers.env = fake_t2a.env(DRAMAFLOW_CACHE="off")
    workers.start()
    user = make_user()
    fake_t2a.configure(latency_s=0.3)  # a try takes 0.3 s: past the line's 0.05 s deadline, however busy
    fake_t2a.faults({"kind": "code", "code": 1000, "times": 1, "match": "第2句"})
    quick = {"tts": {"line_deadline_s": 0.05, "base_delay_s": 0.01, "max_delay_s": 0.02}}
    task = submit(client, user, zh_script(4, "重试"), options={"settings": quick})
    final = final_status(client, user, task)
    assert final["status"] == "completed" and final["retry_count"] == 1, final["error"]
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
