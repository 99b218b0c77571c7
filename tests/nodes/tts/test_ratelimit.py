"""The rate limiter: requests paced evenly, never more than ``limit`` in any window of the provider's
clock while arrivals drift by less than the margin, stale slots retaken, rate-limit answers slowing
everybody down. The rule is checked on simulated times; the limiters on real ones."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from nodes.tts.ratelimit import (
    MAX_SLOW_FACTOR,
    SLOW_FACTOR,
    SLOW_HOLD_WINDOWS,
    LocalRateLimiter,
    Pace,
    PaceState,
    limiter_key,
    local_limiter,
)

WINDOW_S = 0.3


def most_in_window(times: list[float], window_s: float) -> int:
    """The largest number of ``times`` inside any half-open window of ``window_s``."""
    times, best, left = sorted(times), 0, 0
    for right, t in enumerate(times):
        while times[left] <= t - window_s:
            left += 1
        best = max(best, right - left + 1)
    return best


def slot_starts(pace: Pace, n: int, asked_at: float = 0.0) -> list[float]:
    state = PaceState()
    return [asked_at + pace.take(state, asked_at) for _ in range(n)]


def starts_of(limiter: LocalRateLimiter, n: int) -> list[float]:
    """The slot starts the limiter granted ``n`` callers at once (a caller's own clock would add the
    machine's scheduling delays, which the margin, not the pace, is there to absorb)."""
    async def run() -> list[float]:
        return list(await asyncio.gather(*(limiter.acquire() for _ in range(n))))
    return asyncio.run(run())


def test_slots_are_paced_evenly_not_burst():
    pace = Pace(limit=10, window_s=60.0, margin_s=3.0)
    starts = slot_starts(pace, 30)  # thirty callers at once
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(gap == pytest.approx(6.3) for gap in gaps)  # (60 + 3) / 10 apart, none at once
    assert most_in_window(starts, 60.0) == 10


@pytest.mark.parametrize("jitter_s", [0.0, 0.5, 2.0, 2.9])
def test_arrivals_that_drift_less_than_the_margin_never_exceed_the_limit(jitter_s):
    """Each request arrives a random 0..jitter_s after its slot (a busy machine, a slow connect)."""
    pace = Pace(limit=10, window_s=60.0, margin_s=3.0)
    rng = random.Random(int(jitter_s * 10))
    for trial in range(200):
        arrivals = [t + rng.uniform(0.0, jitter_s) for t in slot_starts(pace, 40, asked_at=trial)]
        assert most_in_window(arrivals, 60.0) <= 10


def test_without_pacing_the_same_jitter_would_break_the_limit():
    """What the margin is for: slots a bare window apart, arrivals jittered by 2 s, exceed the limit."""
    pace = Pace(limit=10, window_s=60.0, margin_s=0.0)
    rng = random.Random(1)
    worst = max(most_in_window([t + rng.uniform(0.0, 2.0) for t in slot_starts(pace, 40)], 60.0)
                for _ in range(200))
    assert worst > 10


def test_a_rate_limit_answer_stretches_the_pace_for_a_while_then_it_recovers():
    pace = Pace(limit=10, window_s=60.0, margin_s=0.0)
    state = PaceState()
    pace.take(state, 0.0)
    assert pace.slow(state, 1.0) == SLOW_FACTOR
    first = pace.take(state, 1.0)  # pushed out by one stretched interval
    second = pace.take(state, 1.0)
    assert second - first == pytest.approx(6.0 * SLOW_FACTOR)
    for _ in range(10):
        factor = pace.slow(state, 2.0)
    assert factor == MAX_SLOW_FACTOR
    later = 2.0 + SLOW_HOLD_WINDOWS * 60.0 + 1.0  # no rate-limit answer for the hold time: full speed
    state.tat = later
    a, b = pace.take(state, later), pace.take(state, later)
    assert b - a == pytest.approx(6.0)


def test_retry_after_pushes_the_next_slot_out():
    pace = Pace(limit=10, window_s=60.0)
    state = PaceState()
    pace.slow(state, 0.0, retry_after_s=20.0)
    assert pace.take(state, 0.0) >= 20.0


def test_the_limiter_never_exceeds_the_limit_and_paces_its_callers():
    limiter = LocalRateLimiter(5, WINDOW_S, margin_s=0.05)
    starts = sorted(starts_of(limiter, 17))
    assert len(starts) == 17 and most_in_window(starts, WINDOW_S) <= 5
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= limiter.pace.interval_s - 1e-9


def test_one_budget_across_event_loops():
    """Renders run one after another, each in its own asyncio.run: they share the process's budget."""
    limiter = LocalRateLimiter(4, WINDOW_S, margin_s=0.05)
    first = starts_of(limiter, 4)
    second = starts_of(limiter, 4)
    assert most_in_window(first + second, WINDOW_S) <= 4


def test_a_caller_that_wakes_late_takes_a_fresh_slot():
    """A stalled process must not spend a stale slot: its request would bunch with the next ones."""
    limiter = LocalRateLimiter(10, 1.0, margin_s=0.2)  # interval 0.12 s, late after 0.1 s

    async def run() -> tuple[float, float, float]:
        await limiter.acquire()  # slot 0, now
        waiting = asyncio.create_task(limiter.acquire())  # slot 1, 0.12 s ahead
        await asyncio.sleep(0)
        time.sleep(0.5)  # the whole process stalls past that slot
        stalled_until = time.monotonic()
        late_one = await waiting
        return stalled_until, late_one, await limiter.acquire()

    stalled_until, late_one, next_one = asyncio.run(run())
    assert limiter.stale >= 1
    # the late request went on a slot taken after the stall, and the next one keeps a whole interval
    # from it (on the stale slot, the pace would have let both go at once)
    assert late_one >= stalled_until - limiter.pace.interval_s
    assert next_one - late_one >= limiter.pace.interval_s - 1e-9


def test_one_limiter_per_key_in_a_process():
    a = local_limiter(limiter_key("key-1"), 20, 60.0, 1.0)
    assert local_limiter(limiter_key("key-1"), 20, 60.0, 1.0) is a
    assert local_limiter(limiter_key("key-2"), 20, 60.0, 1.0) is not a
    assert "key-1" not in limiter_key("key-1")  # the key itself never appears in Redis
