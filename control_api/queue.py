"""The task queue both processes share: the arq connection settings and the name of a task's output.
The API enqueues through it without loading the worker (its jobs, arq's worker, the DoraEngine)."""

from __future__ import annotations

from arq.connections import RedisSettings

OUTPUT_NAME = "output.mp3"  # a task's MP3 in its folder; WAV, timeline and subtitles beside it

# A connect is retried 0.2 + 0.4 + 0.8 + 1.6 + 4 × 2 s (~11 s) and a command as often again around its
# connects: a worker rides out Redis away for 11 s at least and gives up (exits) after about 2 minutes.
REDIS_RETRIES, REDIS_BACKOFF_CAP_S = 8, 2.0


def redis_settings(url: str, ride_out: bool = False) -> RedisSettings:
    """arq's connection. With ``ride_out`` (workers), one retried with backoff when Redis is away
    (restarting, failing over): a command waits for it (see ``REDIS_RETRIES``) instead of ending the
    worker and its renders. The API answers 503 at once instead."""
    from redis.asyncio.retry import Retry as RedisRetry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    settings = RedisSettings.from_dsn(url)
    if not ride_out:
        return settings
    settings.retry = RedisRetry(ExponentialBackoff(cap=REDIS_BACKOFF_CAP_S, base=0.1), REDIS_RETRIES)
    # OSError too: a new connection's refused connect reaches the retry as the socket's own error
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    return settings
