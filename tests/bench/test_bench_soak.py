"""Soak benchmark (``make bench``): a bad provider day. Five renders of a 100-line script run at once
through dora (one engine, one daemon, the podcast template's MiniMax voices) against the fake T2A server
at 10 requests per window, 0.3 s latency, 15 % of requests failing with a transient code (1000, 1024,
1039), the five tts nodes sharing one Redis pace. Asserted: 500 of 500 lines spoken, each once; the
server's busiest window within the limit, and never a 1002. Printed: wall time against the floor the
rate limit sets, retries, refusals.

``BENCH_RATE_WINDOW_S`` (default 60, the real per-minute limit: about an hour) scales the window for a
quicker look; ``BENCH_SOAK_RENDERS`` and ``BENCH_SOAK_LINES`` shrink the run."""

from __future__ import annotations

import os
import random
import threading
import time

import pytest

from control_api.engines.base import RenderOptions
from control_api.engines.dora import DoraEngine
from control_api.servers import start_redis
from nodes.tts.ratelimit import Pace
from tests.fakes import FakeT2A
from tests.nodes.tts.test_ratelimit import most_in_window

pytestmark = pytest.mark.bench
RPM, LATENCY_S, ERROR_RATE = 10, 0.3, 0.15
WINDOW_S = float(os.environ.get("BENCH_RATE_WINDOW_S", 60))
RENDERS = int(os.environ.get("BENCH_SOAK_RENDERS", 5))
LINES = int(os.environ.get("BENCH_SOAK_LINES", 100))
MARGIN_S = 2.0  # MiniMaxConfig's default
SENTENCES = ("今天我们聊一聊播客制作。", "怎样把一段文字变成好听的声音？", "而且一句都不能丢，", "这件事比想象的难。",
             "雨声、脚步声、门响，都要放在对的位置。", "最后还要把响度调到标准。")


def script(render: int) -> str:
    rng = random.Random(render)
    speakers = ("大牛", "一帆", "博宇")
    body = "\n".join(f"【{speakers[i % 3]}】第{render}场第{i}句。" + "".join(rng.choice(SENTENCES) for _ in range(2))
                     for i in range(LINES))
    return f"---\ntitle: soak {render}\nlanguage: zh\n---\n{body}\n"


def test_bench_soak_bad_provider_day(tmp_path):
    server = FakeT2A()
    redis = start_redis()
    engine = DoraEngine(template="podcast", workdir=tmp_path / "work", daemon_env=server.env(
        MINIMAX_RPM=RPM, MINIMAX_RATE_WINDOW_S=WINDOW_S, MINIMAX_RATE_MARGIN_S=MARGIN_S, DRAMAFLOW_CACHE="off",
        DRAMAFLOW_REDIS_URL=redis.url))
    server.reset(rpm=RPM, window_s=WINDOW_S, latency_s=LATENCY_S, error_rate=ERROR_RATE,
                 error_codes=[1000, 1024, 1039], error_seed=3)
    reports, errors = {}, {}

    def one(k: int) -> None:
        try:
            reports[k] = engine.render(script(k), tmp_path / f"soak{k}.mp3", RenderOptions())
        except Exception as exc:  # reported below with the others
            errors[k] = exc

    start = time.perf_counter()
    try:
        threads = [threading.Thread(target=one, args=(k,)) for k in range(RENDERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        log = server.log()
    finally:
        engine.close()
        redis.stop()
        server.close()
    assert not errors, errors
    texts = [r["text"] for r in log if r.get("code") == 0]
    expected = {f"第{k}场第{i}句" for k in range(RENDERS) for i in range(LINES)}
    spoken = {t.split("。")[0] for t in texts}
    failed = [r for r in log if r.get("code") != 0]
    refused = sum(1 for r in failed if r.get("code") == 1002)
    busiest = most_in_window([r["t"] for r in log], WINDOW_S)
    retries = sum(r.tts["retries"] for r in reports.values())
    floor_s = len(log) * WINDOW_S / RPM
    paced_s = len(log) * Pace(RPM, WINDOW_S, MARGIN_S).interval_s
    print(f"\nsoak: {RENDERS} renders x {LINES} lines through dora, {RPM} requests per {WINDOW_S:g} s, "
          f"{ERROR_RATE:.0%} transient errors, {LATENCY_S:g} s latency")
    print(f"  lines spoken: {len(spoken & expected)} of {len(expected)} ({len(texts)} successful requests)")
    print(f"  requests: {len(log)} ({len(failed)} failed transiently, {refused} refused for rate as 1002), "
          f"retries in the reports: {retries}")
    print(f"  busiest {WINDOW_S:g} s window at the server: {busiest} requests (limit {RPM})")
    print(f"  wall {wall:.1f} s; rate-limit floor for {len(log)} requests {floor_s:.1f} s "
          f"({wall / floor_s:.2f}x), with the {MARGIN_S:g} s margin {paced_s:.1f} s ({wall / paced_s:.2f}x)")
    assert spoken == expected and len(texts) == len(expected)
    assert refused == 0 and busiest <= RPM
    assert retries == len(failed)
