"""The changes the API makes to tasks and scripts, each on a session the caller holds (and commits:
a ``session_scope`` or the route), and the Redis records that go with them.

Nothing here knows HTTP: a missing or foreign row is ``None``, a refusal an exception of this module,
which the routes answer as problems. The worker's changes (claim, progress, finish, complete, the rows
the reconciler settles) are at the end: each opens its own short session on the database ``url``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from control_api import credits, progress
from control_api.db import Audio, Script, Task, TaskStatus, User, session_scope, utcnow
from control_api.engines.base import RenderReport
from control_api.settings import ServiceSettings


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key names a task of a different request."""


class TaskFinished(Exception):
    """The task ended (completed or failed) before it could be cancelled."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the task is {status} already")
        self.status = status


# --- lookups ---------------------------------------------------------------------------------------


def owned_task(session: Session, user_id: int, task_id: uuid.UUID) -> Task | None:
    task = session.get(Task, task_id)
    return task if task is not None and task.user_id == user_id else None


def owned_script(session: Session, user_id: int, script_id: uuid.UUID) -> Script | None:
    script = session.get(Script, script_id)
    return script if script is not None and script.user_id == user_id else None


# --- tasks -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTask:
    """A validated submission: the script and its settings, what it costs, and how it was asked for."""

    script_text: str
    script_id: uuid.UUID | None
    title: str
    template: str
    voice_config: dict[str, Any]
    options: dict[str, Any]
    credit_cost: int
    chars: int
    segments: int
    request_hash: str
    idempotency_key: str | None
    max_retries: int
    engine_type: str = "dora"


def create_task(session: Session, user_id: int, new: NewTask) -> tuple[Task, bool]:
    """The task of this request and whether it is new: the one stored under the same Idempotency-Key
    if there is one (``IdempotencyKeyReused`` if that was a different request), otherwise a new queued
    row, flushed, once the user's balance covers its cost (``InsufficientCredits``; the user's
    row stays locked until the caller commits)."""
    if new.idempotency_key:
        existing = session.exec(select(Task).where(Task.user_id == user_id,
                                                   Task.idempotency_key == new.idempotency_key)).first()
        if existing is not None:
            if existing.request_hash != new.request_hash:
                raise IdempotencyKeyReused(new.idempotency_key)
            return existing, False
    credits.check_balance(session, user_id, new.credit_cost)  # locks the user row until commit
    task = Task(user_id=user_id, script_id=new.script_id, script_text=new.script_text, title=new.title,
                template=new.template, voice_config=new.voice_config, options=new.options,
                credit_cost=new.credit_cost, chars_processed=new.chars, segments=new.segments,
                idempotency_key=new.idempotency_key, request_hash=new.request_hash, max_retries=new.max_retries,
                engine_type=new.engine_type)
    session.add(task)
    session.flush()
    return task, True


async def queue_task(redis, arq, task_id: str) -> None:
    """Announce the stored task as queued and put its job on the queue (``redis.RedisError`` while
    Redis is away: the row stays, and the workers' reconciler queues it later)."""
    await progress.publish(redis, task_id, "status", status={"status": "queued", "progress": 0},
                           status_value="queued")
    await arq.enqueue_job("render_task", task_id, _job_id=task_id)


def request_cancel(session: Session, redis, user_id: int, task_id: uuid.UUID,
                   ttl_s: int) -> tuple[Task, bool] | None:
    """Ask the task to stop: ``None`` if it is not the user's; else the task (its row locked until the
    caller commits) and whether it is cancelled by this call. A queued task is cancelled at once (a
    worker that takes it skips it); a running one gets the cancel flag its worker polls; a cancelled
    one is left as it is (cancelling twice is one cancel); a finished one raises ``TaskFinished``."""
    task = session.exec(select(Task).where(Task.id == task_id).with_for_update()).first()
    if task is None or task.user_id != user_id:
        return None
    if task.status == TaskStatus.cancelled:
        return task, False
    if TaskStatus(task.status).final:
        raise TaskFinished(task.status)
    redis.set(progress.cancel_key(str(task.id)), "1", ex=ttl_s)
    if task.status == TaskStatus.queued:
        task.status, task.error_message = TaskStatus.cancelled, "cancelled before it started"
        session.add(task)
        return task, True
    return task, False


def announce_cancelled(redis, task_id: str, ttl_s: int) -> None:
    """The final ``cancelled`` status for followers and pollers of a task cancelled before it started
    (call it once the cancel is committed)."""
    redis.xadd(progress.events_key(task_id), progress.entry("status", status_value="cancelled"))
    redis.hset(progress.status_key(task_id), "status", json.dumps("cancelled"))
    for key in (progress.events_key(task_id), progress.status_key(task_id)):
        redis.expire(key, ttl_s)


# --- scripts ---------------------------------------------------------------------------------------


def create_script(session: Session, user_id: int, title: str, content: str, estimated_chars: int | None = None,
                  estimated_duration_s: float | None = None) -> Script:
    script = Script(user_id=user_id, title=title, content=content, estimated_chars=estimated_chars,
                    estimated_duration_s=estimated_duration_s)
    session.add(script)
    session.flush()
    return script


def update_script(session: Session, script: Script, title: str, content: str, estimated_chars: int | None = None,
                  estimated_duration_s: float | None = None) -> Script:
    script.title, script.content, script.updated_at = title, content, utcnow()
    script.estimated_chars, script.estimated_duration_s = estimated_chars, estimated_duration_s
    session.add(script)
    return script


def delete_script(session: Session, script: Script) -> bool:
    """Delete the script unless a task refers to it (then it is kept for their records: False)."""
    if session.exec(select(Task.id).where(Task.script_id == script.id)).first():
        return False
    session.delete(script)
    return True


# --- the worker's changes -----------------------------------------------------------------------


def claim(url: str, task_id: uuid.UUID, job_try: int) -> Task | None:
    """Mark the task running; None when there is nothing to do (finished, cancelled, unknown)."""
    with session_scope(url) as session:
        task = session.exec(select(Task).where(Task.id == task_id).with_for_update()).first()
        if task is None or TaskStatus(task.status).final:
            return None
        task.status, task.stage, task.progress = TaskStatus.running, None, 0
        task.started_at, task.updated_at = utcnow(), utcnow()
        task.error_message = None
        session.add(task)
        return task


def update_task(url: str, task_id: uuid.UUID, **fields: Any) -> None:
    with session_scope(url) as session:
        task = session.get(Task, task_id)
        if task is not None and not TaskStatus(task.status).final:
            for key, value in fields.items():
                setattr(task, key, value)
            task.updated_at = utcnow()
            session.add(task)


def finish(url: str, task_id: uuid.UUID, status: TaskStatus, error: str | None = None) -> None:
    update_task(url, task_id, status=status, error_message=error, finished_at=utcnow())


def complete(settings: ServiceSettings, task_id: uuid.UUID, report: RenderReport, files: dict[str, Path]) -> bool:
    """Audio rows + charge + completed, atomically. False if the task was already final."""
    with session_scope(settings.database_url) as session:
        task = session.exec(select(Task).where(Task.id == task_id).with_for_update()).first()
        if task is None or TaskStatus(task.status).final:
            return False
        keep = task.options.get("keep")
        if keep is None:
            keep = session.get(User, task.user_id).keep_audio
        expires = None if keep else utcnow() + timedelta(days=settings.audio_ttl_days)
        for fmt in ("wav", "mp3"):
            path = files[fmt]
            session.add(Audio(task_id=task.id, format=fmt, file_path=str(path), size_bytes=path.stat().st_size,
                              duration_s=report.duration_s, sample_rate=report.sample_rate, expires_at=expires))
        credits.charge_once(session, task)
        task.status, task.progress, task.stage = TaskStatus.completed, 100, "output"
        task.duration_s, task.segments = report.duration_s, report.segments
        task.tts_requests = int(report.tts.get("requests", 0))
        task.tts_usage_characters = int(report.tts.get("usage_characters", 0))
        task.tts_cache_hits = int(report.tts.get("cache_hits", 0))
        task.tts_retries = int(report.tts.get("retries", 0))
        task.finished_at = task.updated_at = utcnow()
        session.add(task)
        return True


def unsettled(url: str, older_than_s: float) -> list[Task]:
    """Rows that should have a job: queued, or running, untouched for ``older_than_s``."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with session_scope(url) as session:
        return list(session.exec(select(Task).where(Task.status.in_([TaskStatus.queued, TaskStatus.running]),
                                                    Task.updated_at < cutoff)).all())
