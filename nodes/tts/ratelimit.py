"""Request rate limits for paid TTS APIs: at most ``limit`` request starts in any ``window_s``.

This is a token bucket of ``limit`` tokens in which each spent token comes back exactly ``window_s``
after it was spent (a sliding-window log). A classic bucket that refills continuously lets
``capacity + rate × window`` requests through in one window, i.e. up to twice the limit after an idle
spell; a provider counting requests per minute would answer those with rate-limit errors.

``RedisRateLimiter`` keeps the log in Redis, so every worker, task and node process that uses one API
key shares one budget; the decision is one Lua script run on the Redis server's clock, atomic across
clients. ``LocalRateLimiter`` is the same rule inside one process (CLI runs without Redis).
``margin_s`` widens the window a little so that network jitter cannot push ``limit + 1`` arrivals
into one window of the provider's clock.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import threading
import time
import uuid
from typing import Protocol

from nodes.common.errors import TransientBackendError


class RateLimiter(Protocol):
    limit: int
    window_s: float

    async def acquire(self) -> None:
        """Wait until a request may start, and count it."""
        ...

    async def aclose(self) -> None: ...


class LocalRateLimiter:
    """Sliding-window limit inside one process. Safe across threads and event loops (state under a
    thread lock held only to decide; waiting happens outside it), so renders in turn share one budget."""

    def __init__(self, limit: int, window_s: float = 60.0, margin_s: float = 0.0) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit, self.window_s, self._span = limit, window_s, window_s + margin_s
        self._starts: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def _try(self) -> float:
        """0 when a request may start now (and counts it), else the seconds to wait."""
        with self._lock:
            now = time.monotonic()
            while self._starts and self._starts[0] <= now - self._span:
                self._starts.popleft()
            if len(self._starts) < self.limit:
                self._starts.append(now)
                return 0.0
            return max(1e-3, self._starts[0] + self._span - now)

    async def acquire(self) -> None:
        while wait := self._try():
            await asyncio.sleep(wait)

    async def aclose(self) -> None:
        return None


_LOCAL: dict[tuple[str, int, float, float], LocalRateLimiter] = {}
_LOCAL_LOCK = threading.Lock()


def local_limiter(key: str, limit: int, window_s: float, margin_s: float) -> LocalRateLimiter:
    """The process-wide limiter of one API key (every synthesizer of this process built for it shares it)."""
    with _LOCAL_LOCK:
        return _LOCAL.setdefault((key, limit, window_s, margin_s), LocalRateLimiter(limit, window_s, margin_s))


# KEYS[1]: the log (sorted set of request ids scored by start time in µs). ARGV: span µs, limit, id.
# Returns 0 when the request may start (and logs it), else the µs to wait before asking again.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local span = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(span / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + span - now)
"""


def limiter_key(api_key: str, provider: str = "minimax") -> str:
    """The Redis key of one API key's log: a hash, never the key itself."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:24]
    return f"dramaflow:ratelimit:{provider}:{digest}"


class RedisRateLimiter:
    """Sliding-window limit shared through Redis by every process that uses the same ``key``."""

    def __init__(self, redis_url: str, key: str, limit: int, window_s: float = 60.0, margin_s: float = 0.0) -> None:
        import redis.asyncio as aioredis

        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit, self.window_s, self.key = limit, window_s, key
        self._span_us = int((window_s + margin_s) * 1_000_000)
        self._redis = aioredis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self._script = self._redis.register_script(_ACQUIRE)

    async def acquire(self) -> None:
        import redis

        request_id = uuid.uuid4().hex
        while True:
            try:
                wait_us = int(await self._script(keys=[self.key], args=[self._span_us, self.limit, request_id]))
            except redis.RedisError as exc:
                raise TransientBackendError(f"rate limiter unavailable (Redis): {exc}", backend="ratelimit") from None
            if wait_us == 0:
                return
            await asyncio.sleep(wait_us / 1_000_000)

    async def aclose(self) -> None:
        await self._redis.aclose()
