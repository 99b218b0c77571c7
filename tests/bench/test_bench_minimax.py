"""Benchmark (``make bench``): the TTS stage on MiniMax voices against the fake T2A server with 400 ms
latency and a 60 RPM limit, for a 100-line script, two ways in one run:

- sequential, the old flow's way: 45-character chunks, one request at a time (with our rate limiter, or
  the old flow would have dropped lines on the server's 1002 answers);
- ours: whole utterances per request, ``MINIMAX_CONCURRENCY`` in flight, the same limiter.

Prints wall time, requests, and the ratio; a second run lifts the rate limit to show what concurrency
alone gives an account with a higher limit. ``BENCH_RATE_WINDOW_S`` (default 60) scales the limiter's
window for a quicker look; the default is the real per-minute limit."""

from __future__ import annotations

import asyncio
import os
import random
import time

import pytest

from nodes.common.voices import load_voices
from nodes.segmenter.core import SegmenterConfig, parse_script
from nodes.tts.backends.minimax import MiniMaxConfig, MiniMaxSynthesizer
from nodes.tts.core import RetryPolicy, synthesize_all
from nodes.tts.ratelimit import LocalRateLimiter
from tests.fakes import FakeT2A

pytestmark = pytest.mark.bench
LINES, LATENCY_S, RPM = 100, 0.4, 60
OLD_FLOW_CHARS = 45  # MoFA's chunk size, for every language
WINDOW_S = float(os.environ.get("BENCH_RATE_WINDOW_S", 60))


SENTENCES = ("今天我们聊一聊播客制作。", "怎样把一段文字变成好听的声音？", "而且一句都不能丢，", "这件事比想象的难。",
             "雨声、脚步声、门响，都要放在对的位置。", "最后还要把响度调到标准。", "听众不会注意到好的混音，", "但一定会注意到坏的。")


def script() -> str:
    """100 lines of 1–6 sentences (12–120 characters, mean about 55), seeded: a talk show's spread."""
    rng = random.Random(5)
    speakers = ("大牛", "一帆", "博宇")
    body = "\n".join(f"【{speakers[i % 3]}】" + "".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 6)))
                     for i in range(LINES))
    return f"---\ntitle: bench\nlanguage: zh\n---\n{body}\n"


def run(server: FakeT2A, max_chars: int, concurrency: int, rpm: int = RPM) -> tuple[float, int, int]:
    server.reset(rpm=rpm, window_s=WINDOW_S, latency_s=LATENCY_S)
    config = MiniMaxConfig.from_env(server.env(MINIMAX_RPM=rpm, MINIMAX_CONCURRENCY=concurrency,
                                               MINIMAX_RATE_WINDOW_S=WINDOW_S))
    plan = parse_script(script(), load_voices(), provider_available=lambda p: True,
                        config=SegmenterConfig(provider_max_chars={"minimax": max_chars}))

    async def go() -> None:
        backend = MiniMaxSynthesizer(config, limiter=LocalRateLimiter(rpm, WINDOW_S, config.rate_margin_s))
        try:
            await synthesize_all(plan, {"minimax": backend}, retry=RetryPolicy())
        finally:
            await backend.aclose()
    start = time.perf_counter()
    asyncio.run(go())
    wall = time.perf_counter() - start
    log = server.log()
    assert all(r.get("code") == 0 for r in log), "the server refused requests"
    return wall, len(log), len(plan.segments)


@pytest.mark.parametrize("rpm", [RPM, 100_000], ids=["60rpm", "no-limit"])
def test_bench_minimax_sequential_vs_ours(rpm):
    server = FakeT2A()
    try:
        old_s, old_requests, old_segments = run(server, OLD_FLOW_CHARS, concurrency=1, rpm=rpm)
        new_s, new_requests, new_segments = run(server, 1000, concurrency=4, rpm=rpm)
    finally:
        server.close()
    print(f"\nMiniMax TTS, {LINES} lines, {LATENCY_S * 1000:.0f} ms latency, {rpm} requests per {WINDOW_S:g} s:")
    print(f"  sequential, {OLD_FLOW_CHARS}-char chunks: {old_s:7.1f} s, {old_requests} requests ({old_segments} segments)")
    print(f"  ours, whole utterances, 4 in flight: {new_s:7.1f} s, {new_requests} requests ({new_segments} segments)")
    print(f"  ratio sequential / ours: {old_s / new_s:.2f}x wall time, {old_requests / new_requests:.2f}x requests")
