"""Tasks: submit, list, read and cancel, and follow one as Server-Sent Events."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Annotated

import redis as redis_sync
import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import Counter
from sqlmodel import select

from control_api import credits, crud, progress
from control_api.api.deps import API_PREFIX, ActiveUser, CurrentUser, SessionDep, SettingsDep, own_task
from control_api.api.models import (
    TaskAccepted,
    TaskCreate,
    TaskDetail,
    TaskEstimate,
    TaskList,
    TaskPublic,
    TaskState,
)
from control_api.api.problems import Problem, not_found
from control_api.db import Task, TaskStatus, User, session_scope
from control_api.service import Validated, request_hash, validate
from control_api.settings import ServiceSettings

log = logging.getLogger("dramaflow.api")
SSE_RECONNECT_MS = 3000
SUBMITTED = Counter("dramaflow_tasks_submitted_total", "Tasks accepted", ["template"])
QUEUE_AWAY = ("the queue is unreachable right now: the task is stored and will be queued "
              "automatically within about a minute of it coming back")

router = APIRouter(prefix=API_PREFIX, tags=["tasks"])


async def checked_submission(body: TaskCreate, request: Request, user: User,
                             settings: ServiceSettings) -> tuple[str, Validated]:
    """The script of ``body`` (given, or stored and the user's) and what validating it found."""
    def stored_script() -> str:
        if body.script_id is None:
            return body.script or ""
        with session_scope(settings.database_url) as session:
            stored = crud.owned_script(session, user.id, body.script_id)
            if stored is None:
                raise not_found("script")
            return stored.content

    script = await run_in_threadpool(stored_script)
    # parsing a long script takes seconds of CPU: in a helper process, not on this event loop
    checked = await request.app.state.offload.run(validate, settings, script, body.template, body.voice_config,
                                                  body.options)
    return script, checked


@router.post("/tasks/estimate", summary="What a submission would cost, before anything is queued",
             response_model=TaskEstimate)
async def estimate(body: TaskCreate, request: Request, user: CurrentUser, settings: SettingsDep) -> TaskEstimate:
    _, checked = await checked_submission(body, request, user, settings)

    def available() -> int:
        with session_scope(settings.database_url) as session:
            return session.get(User, user.id).credit_balance - credits.reserved(session, user.id)

    left = await run_in_threadpool(available)
    return TaskEstimate(chars=checked.chars, segments=checked.segments, estimated_duration_s=round(checked.duration_s, 1),
                        credits=checked.cost, minimax_characters=checked.minimax_chars, available=left,
                        sufficient=left >= checked.cost, warnings=checked.warnings)


@router.post("/tasks", status_code=202, summary="Submit a script for rendering", response_model=TaskAccepted)
async def submit(body: TaskCreate, request: Request, user: ActiveUser, settings: SettingsDep,
                 idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> JSONResponse:
    script, checked = await checked_submission(body, request, user, settings)
    engine = body.engine_type or settings.default_engine

    def store() -> tuple[Task, bool]:
        new = crud.NewTask(
            script_text=script, script_id=body.script_id, title=checked.title, template=body.template,
            voice_config=body.voice_config, options=body.options, credit_cost=checked.cost, chars=checked.chars,
            segments=checked.segments, request_hash=request_hash(script, body.template, body.voice_config,
                                                                 body.options | {"engine_type": engine}),
            idempotency_key=idempotency_key, max_retries=settings.task_retries, engine_type=engine)
        try:
            with session_scope(settings.database_url) as session:
                return crud.create_task(session, user.id, new)
        except crud.IdempotencyKeyReused:
            raise Problem(422, "Idempotency-Key reused", "this Idempotency-Key was used for a "
                          "different request; use a new key for a new task") from None

    try:
        task, created = await run_in_threadpool(store)
    except sa.exc.IntegrityError:  # the same Idempotency-Key raced in: answer with the winner
        task, created = await run_in_threadpool(store)
    notes = list(checked.warnings) if created else []
    if created:
        SUBMITTED.labels(task.template).inc()
        try:
            await crud.queue_task(request.app.state.redis, request.app.state.arq, str(task.id))
        except redis_sync.RedisError as exc:  # the row is stored: the workers' reconciler queues it
            log.warning("task %s stored but not queued: %s", task.id, exc)
            notes = [*notes, QUEUE_AWAY]
    view = TaskAccepted.of(task, warnings=notes)
    return JSONResponse(view.model_dump(mode="json"), status_code=202, headers={"Location": view.urls.self})


@router.get("/tasks", summary="Your tasks, newest first", response_model=TaskList)
def list_tasks(user: CurrentUser, session: SessionDep, settings: SettingsDep,
               limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0,
               status: Annotated[TaskState | None, Query()] = None,
               script_id: Annotated[uuid.UUID | None, Query(description="only the renders of this script")] = None,
               ) -> TaskList:
    query = select(Task).where(Task.user_id == user.id)
    if status:
        query = query.where(Task.status == status)
    if script_id:
        query = query.where(Task.script_id == script_id)
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Task.created_at.desc()).offset(offset).limit(limit)).all()
    return TaskList(items=[TaskPublic.of(t) for t in rows], total=total, limit=limit, offset=offset)


@router.get("/tasks/{task_id}", summary="Status, stage, progress, ETA, error", response_model=TaskDetail)
def get_task(task_id: uuid.UUID, request: Request, user: CurrentUser, session: SessionDep) -> TaskDetail:
    task = own_task(session, user, task_id)
    redis = request.app.state.redis_sync
    try:
        live = progress.read_status(redis, str(task.id))
        cancel_requested = bool(redis.exists(progress.cancel_key(str(task.id))))
    except redis_sync.RedisError:  # the row alone, as PostgreSQL has it, while Redis is away
        live, cancel_requested = {}, None
    return TaskDetail.of(task, live, cancel_requested=cancel_requested)


@router.post("/tasks/{task_id}/cancel", status_code=202, summary="Stop a queued or running task",
             response_model=TaskDetail)
def cancel_task(task_id: uuid.UUID, request: Request, user: CurrentUser, settings: SettingsDep) -> TaskDetail:
    redis = request.app.state.redis_sync
    try:
        with session_scope(settings.database_url) as session:
            outcome = crud.request_cancel(session, redis, user.id, task_id, settings.events_ttl_s)
    except crud.TaskFinished as exc:
        raise Problem(409, "Conflict", str(exc)) from None
    if outcome is None:
        raise not_found()
    task, cancelled_now = outcome
    if cancelled_now:
        crud.announce_cancelled(redis, str(task.id), settings.events_ttl_s)
    return TaskDetail.of(task, cancel_requested=True)


@router.get("/tasks/{task_id}/events", summary="Server-Sent Events; resume with Last-Event-ID")
async def task_events(task_id: uuid.UUID, request: Request, user: CurrentUser, settings: SettingsDep,
                      last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    task = await run_in_threadpool(lambda: _owned(settings, user, task_id))
    redis = request.app.state.redis
    key = progress.events_key(str(task.id))
    start = last_event_id or "0-0"

    final_at_start = TaskStatus(task.status).final
    await redis.ping()  # Redis away: a 503 now rather than a stream that breaks

    async def stream():  # reads Redis only: no database connection is held while a client follows
        try:
            async for chunk in follow():
                yield chunk
        except redis_sync.RedisError:  # Redis went away mid-stream: the client reconnects where it was
            yield f"retry: {SSE_RECONNECT_MS}\n: the event store is unreachable; reconnect with Last-Event-ID\n\n"

    async def follow():
        cursor = start
        while True:
            if await request.is_disconnected():
                return
            batch = await redis.xread({key: cursor}, count=200, block=10_000)
            if not batch:
                status = await redis.hget(progress.status_key(str(task_id)), "status")
                value = json.loads(status) if status else (task.status if final_at_start else None)
                if value is None or TaskStatus(value).final:  # final, or its records expired
                    yield _sse("status", json.dumps({"status_value": value or task.status, "replayed": True}), None)
                    return
                yield ": keep-alive\n\n"
                continue
            for entry_id, fields in batch[0][1]:
                cursor = entry_id.decode()
                event, data = fields[b"event"].decode(), fields[b"data"].decode()
                yield _sse(event, data, cursor)
                if event == "status" and json.loads(data).get("status_value") in ("completed", "failed", "cancelled"):
                    return

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(event: str, data: str, entry_id: str | None) -> str:
    head = f"id: {entry_id}\n" if entry_id else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


def _owned(settings: ServiceSettings, user: User, task_id: uuid.UUID) -> Task:
    with session_scope(settings.database_url) as session:
        return own_task(session, user, task_id)
