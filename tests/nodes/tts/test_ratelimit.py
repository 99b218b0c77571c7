"""The per-process rate limiter: never more than ``limit`` starts in any window, across event loops."""

from __future__ import annotations

import asyncio

from nodes.tts.ratelimit import LocalRateLimiter, limiter_key, local_limiter

WINDOW_S = 0.3


def most_in_window(times: list[float], window_s: float) -> int:
    """The largest number of ``times`` inside any half-open window of ``window_s``."""
    times, best, left = sorted(times), 0, 0
    for right, t in enumerate(times):
        while times[left] <= t - window_s:
            left += 1
        best = max(best, right - left + 1)
    return best


def starts_of(limiter: LocalRateLimiter, n: int) -> list[float]:
    async def run() -> list[float]:
        loop, out = asyncio.get_running_loop(), []

        async def one() -> None:
            await limiter.acquire()
            out.append(loop.time())
        await asyncio.gather(*(one() for _ in range(n)))
        return out
    return asyncio.run(run())


def test_never_more_than_the_limit_in_any_window():
    starts = starts_of(LocalRateLimiter(5, WINDOW_S), 17)
    assert len(starts) == 17 and most_in_window(starts, WINDOW_S) == 5


def test_one_budget_across_event_loops():
    """Renders run one after another, each in its own asyncio.run: they share the process's budget."""
    limiter = LocalRateLimiter(4, WINDOW_S)
    first = starts_of(limiter, 4)
    second = starts_of(limiter, 4)  # loop.time() is time.monotonic(): comparable across loops
    assert most_in_window(first + second, WINDOW_S) == 4


def test_one_limiter_per_key_in_a_process():
    a = local_limiter(limiter_key("key-1"), 20, 60.0, 1.0)
    assert local_limiter(limiter_key("key-1"), 20, 60.0, 1.0) is a
    assert local_limiter(limiter_key("key-2"), 20, 60.0, 1.0) is not a
    assert "key-1" not in limiter_key("key-1")  # the key itself never appears in Redis
