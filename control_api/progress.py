"""Task progress in Redis: one stream per task (every stage transition and segment), a compact status
hash for polling, and a cancel flag. All expire ``events_ttl_s`` after the task ends.

Stream entries have two fields: ``event`` (``status`` | ``stage`` | ``progress``) and ``data`` (JSON).
The stream id doubles as the SSE event id, so a client resumes with ``Last-Event-ID``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from control_api.engines.base import STAGES, ProgressEvent

# How much of the whole each stage is, in percent (TTS dominates on real voices).
STAGE_WEIGHTS: dict[str, float] = {"segmenter": 2, "tts": 55, "effects": 8, "ambience": 10, "mixer": 15,
                                   "output": 10}
assert set(STAGE_WEIGHTS) == set(STAGES) and sum(STAGE_WEIGHTS.values()) == 100


def events_key(task_id: str) -> str:
    return f"dramaflow:task:{task_id}:events"


def status_key(task_id: str) -> str:
    return f"dramaflow:task:{task_id}:status"


def cancel_key(task_id: str) -> str:
    return f"dramaflow:task:{task_id}:cancel"


@dataclass
class Tracker:
    """Folds progress events into stage fractions, an overall percentage and an ETA."""

    started: float = field(default_factory=time.monotonic)
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    stage: str | None = None

    def update(self, event: ProgressEvent) -> bool:
        """Record ``event``; returns True when it opened or closed a stage (a stage transition)."""
        before = self.stages.get(event.stage)
        retries = max(event.retries, before.get("retries", 0) if before else 0)
        self.stages[event.stage] = {"done": event.done, "total": event.total, "retries": retries}
        opened = before is None
        closed = event.total > 0 and event.done >= event.total and (before is None or before["done"] < before["total"])
        if opened:
            self.stage = event.stage
        return opened or closed

    @property
    def percent(self) -> int:
        total = 0.0
        for stage, weight in STAGE_WEIGHTS.items():
            state = self.stages.get(stage)
            if state and state["total"] > 0:
                total += weight * min(1.0, state["done"] / state["total"])
        return min(99, int(total))  # 100 only when the task is completed

    @property
    def eta_s(self) -> float | None:
        percent = self.percent
        if percent < 5:
            return None
        elapsed = time.monotonic() - self.started
        return round(elapsed * (100 - percent) / percent, 1)


def entry(event: str, **data: Any) -> dict[str, str]:
    return {"event": event, "data": json.dumps({"ts": time.time(), **data}, ensure_ascii=False)}


async def publish(redis, task_id: str, event: str, status: dict[str, Any] | None = None, **data: Any) -> None:
    """XADD one event and, when given, update the status hash, in one round trip."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(events_key(task_id), entry(event, **data))
        if status:
            pipe.hset(status_key(task_id), mapping={k: json.dumps(v) for k, v in status.items()})
        await pipe.execute()


async def expire(redis, task_id: str, ttl_s: int) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for key in (events_key(task_id), status_key(task_id), cancel_key(task_id)):
            pipe.expire(key, ttl_s)
        await pipe.execute()


def read_status(redis_sync, task_id: str) -> dict[str, Any]:
    raw = redis_sync.hgetall(status_key(task_id))
    return {k.decode(): json.loads(v) for k, v in raw.items()}
