"""Request rate limits for paid TTS APIs: requests paced evenly, at most ``limit`` in any ``window_s``.

A provider that counts requests per minute refuses (MiniMax: 1002) the request that would make ``limit
+ 1`` inside one window *as it sees them arrive*. Two things break a naive limiter:

- **Bursts.** A sliding-window log lets ``limit`` requests start at once; their arrivals spread with
  network and scheduling jitter, and the next burst one window later can overlap the stragglers.
- **Jitter.** The time from taking a slot to the request arriving varies (a busy machine, a slow
  connect). A slot taken at *t* may arrive at *t + J*.

So the limiter paces: slot *k* starts at ``k × interval`` with ``interval = (window_s + margin_s) /
limit`` (a GCRA: one "theoretical arrival time", ``tat``, moved on by one interval per slot). Any
window of ``window_s`` then holds at most ``limit × window_s / (window_s + margin_s) < limit`` slot
starts, and stays within ``limit`` as long as arrivals drift apart by less than ``margin_s``. A caller
that wakes more than ``late_s`` after its slot (a starved process) does not use the stale slot: it
takes a new one (``PacedSlot``), so local stalls cannot bunch requests.

When the provider still answers "rate limited" (1002, 1039, HTTP 429), ``slow_down`` stretches the
interval by ``SLOW_FACTOR`` (up to ``MAX_SLOW_FACTOR``) for ``SLOW_HOLD_WINDOWS`` windows and pushes the
next slot out by one interval (or the server's Retry-After), for every process sharing the limiter.

``RedisRateLimiter`` keeps the state in Redis (one Lua script on the Redis clock, atomic across clients),
so every worker, task and node process that uses one API key shares one pace. ``LocalRateLimiter`` is
the same rule inside one process (CLI runs without Redis).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from nodes.common.errors import TransientBackendError

SLOW_FACTOR = 1.5  # a rate-limit answer stretches the interval by this much …
MAX_SLOW_FACTOR = 4.0  # … up to this much in all …
SLOW_HOLD_WINDOWS = 2.0  # … for this many windows after the last such answer
STALE_RETAKES = 3  # a caller late for this many slots in a row goes anyway (it cannot do better)


class RateLimiter(Protocol):
    limit: int
    window_s: float

    async def acquire(self) -> float:
        """Wait until a request may start, and count it. Returns the slot's start on the limiter's clock
        (what the pacing guarantees hold for; a caller measuring its own clock also sees its delays)."""
        ...

    async def slow_down(self, retry_after_s: float | None = None) -> None:
        """The provider answered "rate limited": pace every sharer slower for a while."""
        ...

    async def aclose(self) -> None: ...


@dataclass
class PaceState:
    """GCRA state: next free slot, current stretch factor and until when it holds (seconds)."""

    tat: float = 0.0
    factor: float = 1.0
    until: float = 0.0


@dataclass(frozen=True)
class Pace:
    """The pacing rule, pure (the Lua script in ``RedisRateLimiter`` is the same rule on Redis's clock)."""

    limit: int
    window_s: float
    margin_s: float = 0.0

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s <= 0 or self.margin_s < 0:
            raise ValueError("limit must be >= 1, window_s > 0 and margin_s >= 0")

    @property
    def interval_s(self) -> float:
        return (self.window_s + self.margin_s) / self.limit

    @property
    def late_s(self) -> float:
        """How late after its slot a request may still start: half the margin (the other half is left
        for the way to the provider). Without a margin there is nothing to protect: never stale."""
        return self.margin_s / 2 if self.margin_s > 0 else float("inf")

    def factor(self, state: PaceState, now: float) -> float:
        return state.factor if now < state.until else 1.0

    def take(self, state: PaceState, now: float) -> float:
        """Reserve the next slot; the seconds from ``now`` until it starts."""
        slot = max(state.tat, now)
        state.factor = self.factor(state, now)
        state.tat = slot + self.interval_s * state.factor
        return slot - now

    def slow(self, state: PaceState, now: float, retry_after_s: float | None = None) -> float:
        """Stretch the pace after a rate-limit answer; the new factor."""
        state.factor = min(MAX_SLOW_FACTOR, self.factor(state, now) * SLOW_FACTOR)
        state.until = now + SLOW_HOLD_WINDOWS * self.window_s
        state.tat = max(state.tat, now + (retry_after_s or 0.0)) + self.interval_s * state.factor
        return state.factor


class LocalRateLimiter:
    """The pace inside one process. Safe across threads and event loops (state under a thread lock held
    only to decide; waiting happens outside it), so renders in turn share one budget."""

    def __init__(self, limit: int, window_s: float = 60.0, margin_s: float = 0.0) -> None:
        self.pace = Pace(limit, window_s, margin_s)
        self.limit, self.window_s = limit, window_s
        self._state = PaceState()
        self._lock = threading.Lock()
        self.slowdowns = self.stale = 0

    async def acquire(self) -> float:
        for _ in range(STALE_RETAKES):
            with self._lock:
                now = time.monotonic()
                start = now + self.pace.take(self._state, now)
            await asyncio.sleep(max(0.0, start - time.monotonic()))
            if time.monotonic() - start <= self.pace.late_s:
                break
            self.stale += 1
        return start

    async def slow_down(self, retry_after_s: float | None = None) -> None:
        with self._lock:
            self.pace.slow(self._state, time.monotonic(), retry_after_s)
            self.slowdowns += 1

    async def aclose(self) -> None:
        return None


_LOCAL: dict[tuple[str, int, float, float], LocalRateLimiter] = {}
_LOCAL_LOCK = threading.Lock()


def local_limiter(key: str, limit: int, window_s: float, margin_s: float) -> LocalRateLimiter:
    """The process-wide limiter of one API key (every synthesizer of this process built for it shares it)."""
    with _LOCAL_LOCK:
        return _LOCAL.setdefault((key, limit, window_s, margin_s), LocalRateLimiter(limit, window_s, margin_s))


# KEYS[1]: a hash {tat, factor, until} in µs of the Redis clock. ARGV: op ("take" | "slow"), interval µs,
# key TTL ms, retry-after µs, slow factor, max factor, hold µs. "take" returns {µs until the reserved slot
# starts, the slot's start in µs}; "slow" returns {the new factor × 1000, 0}. Numbers are written with
# %.0f: Lua's tostring would round µs timestamps to 14 digits.
_PACE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'tat', 'factor', 'until')
local tat = tonumber(s[1]) or now
local factor = tonumber(s[2]) or 1
local hold_until = tonumber(s[3]) or 0
if now >= hold_until then factor = 1 end
local out
if ARGV[1] == 'slow' then
  factor = math.min(tonumber(ARGV[6]), factor * tonumber(ARGV[5]))
  hold_until = now + tonumber(ARGV[7])
  tat = math.max(tat, now + tonumber(ARGV[4])) + interval * factor
  out = {math.floor(factor * 1000), 0}
else
  local slot = math.max(tat, now)
  tat = slot + interval * factor
  out = {slot - now, string.format('%.0f', slot)}
end
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat), 'factor', tostring(factor),
           'until', string.format('%.0f', hold_until))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return out
"""


def limiter_key(api_key: str, provider: str = "minimax") -> str:
    """The Redis key of one API key's pace: a hash, never the key itself."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:24]
    return f"dramaflow:ratelimit:{provider}:{digest}"


class RedisRateLimiter:
    """The pace shared through Redis by every process that uses the same ``key``."""

    def __init__(self, redis_url: str, key: str, limit: int, window_s: float = 60.0, margin_s: float = 0.0) -> None:
        import redis.asyncio as aioredis

        self.pace = Pace(limit, window_s, margin_s)
        self.limit, self.window_s, self.key = limit, window_s, key
        self._redis = aioredis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self._script = self._redis.register_script(_PACE)
        self.slowdowns = self.stale = 0

    async def _call(self, op: str, retry_after_s: float = 0.0) -> list[int]:
        import redis

        ttl_ms = int((SLOW_HOLD_WINDOWS + 2) * self.window_s * 1000) + 1000
        args = [op, int(self.pace.interval_s * 1e6), ttl_ms, int(retry_after_s * 1e6), SLOW_FACTOR, MAX_SLOW_FACTOR,
                int(SLOW_HOLD_WINDOWS * self.window_s * 1e6)]
        try:
            return [int(v) for v in await self._script(keys=[self.key], args=args)]
        except redis.RedisError as exc:
            raise TransientBackendError(f"rate limiter unavailable (Redis): {exc}", backend="ratelimit") from None

    async def acquire(self) -> float:
        for _ in range(STALE_RETAKES):
            asked = time.monotonic()
            wait_us, slot_us = await self._call("take")
            wait_s = wait_us / 1e6
            # The slot lies between asked + wait and answered + wait on this clock: sleep to the later
            # (never early), count lateness from the earlier (a slow round trip to Redis is drift too).
            await asyncio.sleep(wait_s)
            if time.monotonic() - (asked + wait_s) <= self.pace.late_s:
                break
            self.stale += 1
        return slot_us / 1e6  # on the Redis clock, shared by every process

    async def slow_down(self, retry_after_s: float | None = None) -> None:
        await self._call("slow", retry_after_s or 0.0)
        self.slowdowns += 1

    async def aclose(self) -> None:
        await self._redis.aclose()
