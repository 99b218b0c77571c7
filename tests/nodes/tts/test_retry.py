"""The retry schedule: exponential backoff with full jitter, a deadline per line, a budget per task, the
provider's hints, and which errors are retried at all. Time is simulated: nothing here waits."""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest

from nodes.common.errors import PermanentBackendError, TransientBackendError
from nodes.common.types import VoiceSettings
from nodes.tts.backends.base import Speech, SynthesisRequest
from nodes.tts.backends.minimax import RATE_LIMIT_CODES, TRANSIENT_CODES, error_for
from nodes.tts.core import RetryBudget, RetryPolicy, synthesize_requests

SR = 16000
LATENCY_S = 1.0  # each simulated request takes this long
VOICE = VoiceSettings(voice_id="zh-daniu", provider="minimax", language="zh", provider_voice="male-qn-qingse")


class SimulatedTime:
    """A clock that moves only when someone sleeps (a request's latency or a retry's wait)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class Flaky:
    """A provider that fails each request with ``error_rate`` (seeded), or by a script of outcomes."""

    name = "minimax"

    def __init__(self, time: SimulatedTime, *, error_rate: float = 0.0, seed: int = 0, script=None,
                 max_in_flight: int = 1) -> None:
        self.time, self.rng, self.error_rate = time, random.Random(seed), error_rate
        self.script = list(script or [])
        self.max_in_flight = max_in_flight
        self.starts: list[tuple[int, float]] = []

    async def synthesize(self, request: SynthesisRequest) -> Speech:
        self.starts.append((request.seq, self.time.now))
        await self.time.sleep(LATENCY_S)
        outcome = self.script.pop(0) if self.script else (
            TransientBackendError("MiniMax 1000", line=request.line) if self.rng.random() < self.error_rate else None)
        if outcome is not None:
            raise outcome
        return Speech(seq=request.seq, audio=np.full((160, 1), 0.1, np.float32), sample_rate=SR, backend=self.name,
                      requests=1)

    async def aclose(self) -> None:
        return None


def requests(n: int) -> list[SynthesisRequest]:
    return [SynthesisRequest(seq=i, text=f"第{i}句。", voice=VOICE, line=10 + i) for i in range(n)]


def speak(backend: Flaky, policy: RetryPolicy, n: int = 1, waits: list | None = None):
    budget = RetryBudget(policy, clock=backend.time.clock, sleep=backend.time.sleep)

    def on_retry(request, attempt, wait_s, exc):
        if waits is not None:
            waits.append((attempt, wait_s))

    clips = asyncio.run(synthesize_requests(requests(n), {"minimax": backend}, sample_rate=SR, retry=policy,
                                            budget=budget, on_retry=on_retry))
    return clips, budget


@pytest.mark.parametrize("retry", [1, 2, 3, 5, 8, 12])
def test_full_jitter_stays_under_the_exponential_cap_and_covers_it(retry):
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=30.0)
    cap = min(30.0, 0.5 * 2 ** (retry - 1))
    rng = random.Random(retry)
    delays = [policy.delay_s(retry, rng) for _ in range(2000)]
    assert all(0.0 <= d <= cap for d in delays)
    assert min(delays) < 0.05 * cap and max(delays) > 0.95 * cap  # full jitter: the whole range is used


def test_a_line_retries_until_its_deadline_then_gives_up_naming_line_and_setting():
    time = SimulatedTime()
    backend = Flaky(time, script=[TransientBackendError("MiniMax 1000 'busy'", backend="minimax", line=10)] * 10_000)
    policy = RetryPolicy(line_deadline_s=120.0, task_budget_s=10_000.0, base_delay_s=0.5, max_delay_s=8.0)
    with pytest.raises(TransientBackendError) as info:
        speak(backend, policy)
    starts = [t for _, t in backend.starts]
    assert starts[-1] <= 120.0  # the last try starts at the deadline, never after it
    assert starts[-1] >= 120.0 - 8.0 - LATENCY_S  # … and not long before it: the time was used
    assert len(starts) > 10  # tries were not the limit
    assert info.value.line == 10 and "tts.line_deadline_s=120" in str(info.value) and "1000" in str(info.value)


def test_the_task_budget_bounds_all_lines_together():
    time = SimulatedTime()
    backend = Flaky(time, script=[TransientBackendError("HTTP 503")] * 10_000, max_in_flight=3)
    policy = RetryPolicy(line_deadline_s=3600.0, task_budget_s=60.0, base_delay_s=1.0, max_delay_s=10.0)
    with pytest.raises(TransientBackendError, match="retry budget is spent") as info:
        speak(backend, policy, n=3)
    assert "tts.task_budget_s=60" in str(info.value)


def test_the_providers_retry_after_is_honoured():
    time = SimulatedTime()
    backend = Flaky(time, script=[TransientBackendError("HTTP 429", retry_after_s=7.0, rate_limited=True)])
    waits: list = []
    clips, budget = speak(backend, RetryPolicy(base_delay_s=0.1, max_delay_s=0.2), waits=waits)
    assert waits == [(1, 7.0)] and budget.retries == 1 and clips[0].retries == 1 and clips[0].requests == 2


def test_permanent_errors_are_not_retried():
    time = SimulatedTime()
    backend = Flaky(time, script=[PermanentBackendError("1008 top up", line=10)])
    with pytest.raises(PermanentBackendError):
        speak(backend, RetryPolicy())
    assert len(backend.starts) == 1


def test_a_bad_day_of_fifteen_percent_transient_errors_loses_no_line():
    """500 lines, 4 in flight, each request failing with probability 0.15, default policy: all spoken."""
    time = SimulatedTime()
    backend = Flaky(time, error_rate=0.15, seed=11, max_in_flight=4)
    clips, budget = speak(backend, RetryPolicy(), n=500)
    assert [c.seq for c in clips] == list(range(500))
    assert budget.retries == sum(c.retries for c in clips) > 40  # about 15 % of 500 + their own retries
    assert sum(c.requests for c in clips) == len(backend.starts) == 500 + budget.retries


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1024, 1039, 1004, 1008, 1026, 1027, 1028, 1042, 2013, 2038,
                                  2061, 9999])
def test_transient_or_permanent_by_code(code):
    error = error_for(code, "msg", line=3, voice="v", trace="t", base_url="https://api.minimax.io",
                      model="speech-2.8-hd")
    assert isinstance(error, TransientBackendError) == (code in TRANSIENT_CODES)
    assert isinstance(error, PermanentBackendError) == (code not in TRANSIENT_CODES)
    assert getattr(error, "rate_limited", False) == (code in RATE_LIMIT_CODES)
    assert error.line == 3 and str(code) in str(error)


@pytest.mark.parametrize("bad", [dict(line_deadline_s=0), dict(task_budget_s=-1), dict(base_delay_s=0),
                                 dict(base_delay_s=2.0, max_delay_s=1.0)])
def test_a_policy_that_cannot_work_is_refused(bad):
    with pytest.raises(ValueError):
        RetryPolicy(**bad)
