"""The REST API (FastAPI), under /api/v1. Errors are application/problem+json (RFC 9457).

Every task, script and file belongs to the user whose API key (``Authorization: Bearer <key>``)
created it; anyone else gets 404. Files are served only from paths the worker recorded, and only
inside the data folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import redis as redis_sync
import redis.asyncio as redis_async
import sqlalchemy as sa
from arq import create_pool
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlmodel import Session, select

from control_api import accounts, progress
from control_api.db import (
    Audio,
    Script,
    Task,
    TaskStatus,
    configure_pool,
    engine_for,
    require_current_schema,
    session_scope,
)
from control_api.offload import Offload, make_preview
from control_api.service import library_for, render_options, request_hash, validate
from control_api.settings import ServiceSettings, get_settings
from control_api.templates import SAMPLE_TASK, render, template_names, template_source
from control_api.worker import OUTPUT_NAME, redis_settings
from nodes.common.errors import ConfigError, ScriptError

log = logging.getLogger("dramaflow.api")
PROBLEM = "application/problem+json"
SSE_RECONNECT_MS = 3000
REQUESTS = Counter("dramaflow_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("dramaflow_http_request_seconds", "HTTP request latency", ["method", "route"])
SUBMITTED = Counter("dramaflow_tasks_submitted_total", "Tasks accepted", ["template"])


# --- problems --------------------------------------------------------------------------------------


class Problem(HTTPException):
    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(status_code=status, detail=detail)
        self.title, self.extra = title, extra


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            **{k: v for k, v in extra.items() if v is not None}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "5"}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def not_found(what: str = "task") -> Problem:
    return Problem(404, "Not Found", f"no such {what}")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem(exc.status_code, exc.title, str(exc.detail), **exc.extra)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, _title(exc.status_code), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", where, errors=errors)

    @app.exception_handler(ScriptError)
    async def _script(_request: Request, exc: ScriptError) -> JSONResponse:
        return problem(422, "Script error", str(exc), line=exc.line, hint=exc.hint)

    @app.exception_handler(ConfigError)
    async def _config(_request: Request, exc: ConfigError) -> JSONResponse:
        return problem(422, "Invalid configuration", str(exc))

    @app.exception_handler(accounts.InsufficientCredits)
    async def _credits(_request: Request, exc: accounts.InsufficientCredits) -> JSONResponse:
        return problem(402, "Insufficient credits", str(exc), needed=exc.needed, available=exc.available)

    @app.exception_handler(sa.exc.TimeoutError)
    @app.exception_handler(sa.exc.OperationalError)
    @app.exception_handler(redis_sync.RedisError)
    async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
        # the database or Redis is away or every connection is busy: nothing was changed, try again
        return problem(503, "Service Unavailable", "the service is busy or restarting; try again in a few seconds")


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --- middleware ------------------------------------------------------------------------------------


class BodyLimit:
    """413 for bodies over ``limit`` bytes, by Content-Length or by counting a chunked body."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._reject(scope, receive, send)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        # Read the whole body first (at most ``limit`` bytes): a chunked body over the limit is a 413 here,
        # not a parse error inside the framework.
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                return await self._reject(scope, receive, send)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _reject(self, scope, receive, send):
        response = problem(413, "Payload Too Large", f"request bodies are limited to {self.limit} bytes; "
                           "store long scripts with POST /api/v1/scripts in parts or raise DRAMAFLOW_MAX_BODY_BYTES")
        await response(scope, receive, send)


# --- dependencies ----------------------------------------------------------------------------------


def settings_dep(request: Request) -> ServiceSettings:
    return request.app.state.settings


def db(request: Request):
    with Session(engine_for(request.app.state.settings.database_url), expire_on_commit=False) as session:
        yield session


def current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> accounts.User:
    # its own short session, closed before the handler runs: one connection per request at a time, and
    # none held while a response streams
    scheme, _, key = (authorization or "").partition(" ")
    user = None
    if scheme.lower() == "bearer":
        with Session(engine_for(request.app.state.settings.database_url), expire_on_commit=False) as session:
            user = accounts.authenticate(session, key.strip())
    if user is None:
        raise Problem(401, "Unauthorized", "send a valid API key as `Authorization: Bearer <key>` "
                      "(create one with `dramaflow users create NAME`)")
    request.state.user_id = user.id
    return user


User = Annotated[accounts.User, Depends(current_user)]
DB = Annotated[Session, Depends(db, scope="function")]  # closed when the handler returns, before sending
Settings = Annotated[ServiceSettings, Depends(settings_dep)]


def own_task(session: Session, user: accounts.User, task_id: uuid.UUID) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.user_id != user.id:
        raise not_found()
    return task


def inside(settings: ServiceSettings, path: str | Path) -> Path:
    """The resolved path, if it lies inside the data folder; 404 otherwise."""
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(settings.data_dir.resolve()) or not resolved.is_file():
        raise not_found("file")
    return resolved


# --- models ----------------------------------------------------------------------------------------

VoiceChoice = str | dict[str, Any]


class TaskCreate(BaseModel):
    script: str | None = Field(None, description="The script, Markdown (design §5).")
    script_id: uuid.UUID | None = Field(None, description="A stored script instead of `script`.")
    voice_config: dict[str, VoiceChoice] = Field(default_factory=dict,
                                                 description="speaker → voice id or {voice, speed, pitch, …}")
    template: str = "podcast"
    options: dict[str, Any] = Field(default_factory=dict, description="{'seed': int, 'settings': {group: {k: v}}}")

    _text = field_validator("script")(lambda value: storable_text(value))

    @model_validator(mode="after")
    def _one_script(self) -> TaskCreate:
        if (self.script is None) == (self.script_id is None):
            raise ValueError("give exactly one of `script` and `script_id`")
        return self


class ScriptIn(BaseModel):
    title: str = Field("", max_length=300)
    content: str

    _text = field_validator("title", "content")(lambda value: storable_text(value))


def storable_text(value: Any) -> Any:
    """Refuse text that cannot be stored or spoken: NUL and unpaired surrogates, naming the line."""
    if isinstance(value, str):
        for index, char in enumerate(value):
            if char == "\x00" or "\ud800" <= char <= "\udfff":
                line = value.count("\n", 0, index) + 1
                what = "a NUL character" if char == "\x00" else f"an unpaired surrogate (U+{ord(char):04X})"
                raise ValueError(f"line {line} contains {what}; save the text as UTF-8 and remove it")
    return value


def task_view(task: Task, live: dict[str, Any] | None = None, base: str = "/api/v1") -> dict[str, Any]:
    live = live or {}
    status = live.get("status") if live.get("status") and not TaskStatus(task.status).final else task.status
    url = f"{base}/tasks/{task.id}"
    view = {
        "id": str(task.id), "status": status, "template": task.template, "title": task.title,
        "stage": live.get("stage", task.stage), "progress": 100 if task.status == "completed" else
        int(live.get("progress", task.progress)), "eta_s": live.get("eta_s"), "stages": live.get("stages", {}),
        "error": task.error_message if task.status in ("failed", "cancelled") else None,
        "credit_cost": task.credit_cost, "chars": task.chars_processed, "segments": task.segments,
        "duration_s": task.duration_s, "retry_count": task.retry_count,
        "tts": {"requests": task.tts_requests, "usage_characters": task.tts_usage_characters,
                "cache_hits": task.tts_cache_hits, "retries": task.tts_retries},
        "created_at": task.created_at.isoformat(), "started_at": _iso(task.started_at),
        "finished_at": _iso(task.finished_at),
        "urls": {"self": url, "events": f"{url}/events", "cancel": f"{url}/cancel",
                 "audio_mp3": f"{url}/audio?format=mp3", "audio_wav": f"{url}/audio?format=wav",
                 "timeline": f"{url}/timeline", "subtitles_srt": f"{url}/subtitles?format=srt",
                 "subtitles_vtt": f"{url}/subtitles?format=vtt"},
    }
    return view


def _iso(value) -> str | None:
    return value.isoformat() if value else None


# --- routes: tasks ---------------------------------------------------------------------------------

router = APIRouter(prefix="/api/v1")


@router.post("/tasks", status_code=202, summary="Submit a script for rendering")
async def submit(body: TaskCreate, request: Request, user: User, settings: Settings,
                 idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> JSONResponse:
    def stored_script() -> str:
        if body.script_id is None:
            return body.script or ""
        with session_scope(settings.database_url) as session:
            stored = session.get(Script, body.script_id)
            if stored is None or stored.user_id != user.id:
                raise not_found("script")
            return stored.content

    script = await run_in_threadpool(stored_script)
    # parsing a long script takes seconds of CPU: in a helper process, not on this event loop
    checked = await request.app.state.offload.run(validate, settings, script, body.template, body.voice_config,
                                                  body.options)

    def store() -> tuple[Task, bool, list[str]]:
        with session_scope(settings.database_url) as session:
            digest = request_hash(script, body.template, body.voice_config, body.options)
            if idempotency_key:
                existing = session.exec(select(Task).where(Task.user_id == user.id,
                                                           Task.idempotency_key == idempotency_key)).first()
                if existing is not None:
                    if existing.request_hash != digest:
                        raise Problem(422, "Idempotency-Key reused", "this Idempotency-Key was used for a "
                                      "different request; use a new key for a new task")
                    return existing, False, []
            cost = checked.cost
            accounts.check_balance(session, user.id, cost)  # locks the user row until commit
            task = Task(user_id=user.id, script_id=body.script_id, script_text=script, title=checked.title,
                        template=body.template, voice_config=body.voice_config, options=body.options,
                        credit_cost=cost, chars_processed=checked.chars, segments=checked.segments,
                        idempotency_key=idempotency_key, request_hash=digest, max_retries=settings.task_retries)
            session.add(task)
            session.flush()
            return task, True, checked.warnings

    try:
        task, created, notes = await run_in_threadpool(store)
    except sa.exc.IntegrityError:  # the same Idempotency-Key raced in: answer with the winner
        task, created, notes = await run_in_threadpool(store)
    if created:
        SUBMITTED.labels(task.template).inc()
        try:
            await progress.publish(request.app.state.redis, str(task.id), "status",
                                   status={"status": "queued", "progress": 0}, status_value="queued")
            await request.app.state.arq.enqueue_job("render_task", str(task.id), _job_id=str(task.id))
        except redis_sync.RedisError as exc:  # the row is stored: the workers' reconciler queues it
            log.warning("task %s stored but not queued: %s", task.id, exc)
            notes = [*notes, "the queue is unreachable right now: the task is stored and will be queued "
                     "automatically within about a minute of it coming back"]
    view = task_view(task) | {"warnings": notes}
    return JSONResponse(view, status_code=202, headers={"Location": view["urls"]["self"]})


@router.get("/tasks", summary="Your tasks, newest first")
def list_tasks(user: User, session: DB, settings: Settings, limit: Annotated[int, Query(ge=1, le=100)] = 20,
               offset: Annotated[int, Query(ge=0)] = 0,
               status: Annotated[Literal["queued", "running", "completed", "failed", "cancelled"] | None,
                                 Query()] = None) -> dict[str, Any]:
    query = select(Task).where(Task.user_id == user.id)
    if status:
        query = query.where(Task.status == status)
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Task.created_at.desc()).offset(offset).limit(limit)).all()
    return {"items": [task_view(t) for t in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/tasks/{task_id}", summary="Status, stage, progress, ETA, error")
def get_task(task_id: uuid.UUID, request: Request, user: User, session: DB) -> dict[str, Any]:
    task = own_task(session, user, task_id)
    redis = request.app.state.redis_sync
    try:
        live = progress.read_status(redis, str(task.id))
        cancel_requested = bool(redis.exists(progress.cancel_key(str(task.id))))
    except redis_sync.RedisError:  # the row alone, as PostgreSQL has it, while Redis is away
        live, cancel_requested = {}, None
    return task_view(task, live) | {"cancel_requested": cancel_requested}


@router.post("/tasks/{task_id}/cancel", status_code=202, summary="Stop a queued or running task")
def cancel_task(task_id: uuid.UUID, request: Request, user: User, settings: Settings) -> dict[str, Any]:
    with session_scope(settings.database_url) as session:
        task = session.exec(select(Task).where(Task.id == task_id).with_for_update()).first()
        if task is None or task.user_id != user.id:
            raise not_found()
        if task.status == TaskStatus.cancelled:  # cancelling twice is one cancel
            return task_view(task) | {"cancel_requested": True}
        if TaskStatus(task.status).final:
            raise Problem(409, "Conflict", f"the task is {task.status} already")
        request.app.state.redis_sync.set(progress.cancel_key(str(task.id)), "1", ex=settings.events_ttl_s)
        if task.status == TaskStatus.queued:  # never started: cancelled now; a worker that takes it skips it
            task.status, task.error_message = TaskStatus.cancelled, "cancelled before it started"
            session.add(task)
    if task.status == TaskStatus.cancelled:
        redis = request.app.state.redis_sync
        redis.xadd(progress.events_key(str(task.id)), progress.entry("status", status_value="cancelled"))
        redis.hset(progress.status_key(str(task.id)), "status", json.dumps("cancelled"))
        for key in (progress.events_key(str(task.id)), progress.status_key(str(task.id))):
            redis.expire(key, settings.events_ttl_s)
    return task_view(task) | {"cancel_requested": True}


@router.get("/tasks/{task_id}/events", summary="Server-Sent Events; resume with Last-Event-ID")
async def task_events(task_id: uuid.UUID, request: Request, user: User, settings: Settings,
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


def _owned(settings: ServiceSettings, user: accounts.User, task_id: uuid.UUID) -> Task:
    with session_scope(settings.database_url) as session:
        return own_task(session, user, task_id)


def _audio(session: Session, task: Task, fmt: str) -> Audio:
    if task.status != TaskStatus.completed:
        raise Problem(409, "Not ready", f"the task is {task.status}; audio exists once it is completed")
    audio = session.exec(select(Audio).where(Audio.task_id == task.id, Audio.format == fmt)).first()
    if audio is None:
        raise Problem(410, "Gone", "the audio of this task has expired")
    return audio


@router.get("/tasks/{task_id}/audio", summary="The rendered audio (Range requests supported)",
            response_class=FileResponse)
def task_audio(task_id: uuid.UUID, user: User, session: DB, settings: Settings,
               format: Literal["mp3", "wav"] = "mp3") -> FileResponse:  # noqa: A002 - the query name
    task = own_task(session, user, task_id)
    path = inside(settings, _audio(session, task, format).file_path)
    name = f"{(task.title or 'dramaflow')[:80]}.{format}".replace('"', "'").replace("/", "-")
    return FileResponse(path, media_type="audio/mpeg" if format == "mp3" else "audio/wav", filename=name)


def _companion(session: Session, settings: ServiceSettings, task: Task, suffix: str) -> Path:
    mp3 = inside(settings, _audio(session, task, "mp3").file_path)
    return inside(settings, mp3.with_name(Path(OUTPUT_NAME).stem + suffix))


@router.get("/tasks/{task_id}/timeline", summary="Timeline: utterances, segments, cues, chapters (JSON)")
def task_timeline(task_id: uuid.UUID, user: User, session: DB, settings: Settings) -> FileResponse:
    task = own_task(session, user, task_id)
    return FileResponse(_companion(session, settings, task, ".timeline.json"), media_type="application/json")


@router.get("/tasks/{task_id}/subtitles", summary="Subtitles as SRT or WebVTT")
def task_subtitles(task_id: uuid.UUID, user: User, session: DB, settings: Settings,
                   format: Literal["srt", "vtt"] = "vtt") -> FileResponse:  # noqa: A002
    task = own_task(session, user, task_id)
    media = "text/vtt" if format == "vtt" else "application/x-subrip"
    return FileResponse(_companion(session, settings, task, f".{format}"), media_type=media)


# --- routes: scripts -------------------------------------------------------------------------------


def _script_view(s: Script) -> dict[str, Any]:
    return {"id": str(s.id), "title": s.title, "content": s.content, "created_at": s.created_at.isoformat(),
            "updated_at": s.updated_at.isoformat()}


def _own_script(session: Session, user: accounts.User, script_id: uuid.UUID) -> Script:
    script = session.get(Script, script_id)
    if script is None or script.user_id != user.id:
        raise not_found("script")
    return script


@router.post("/scripts", status_code=201, summary="Store a script")
def create_script(body: ScriptIn, user: User, session: DB) -> dict[str, Any]:
    script = Script(user_id=user.id, title=body.title, content=body.content)
    session.add(script)
    session.commit()
    return _script_view(script)


@router.get("/scripts", summary="Your scripts")
def list_scripts(user: User, session: DB, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                 offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    rows = session.exec(select(Script).where(Script.user_id == user.id).order_by(Script.created_at.desc())
                        .offset(offset).limit(limit)).all()
    return {"items": [_script_view(s) for s in rows], "limit": limit, "offset": offset}


@router.get("/scripts/{script_id}")
def get_script(script_id: uuid.UUID, user: User, session: DB) -> dict[str, Any]:
    return _script_view(_own_script(session, user, script_id))


@router.put("/scripts/{script_id}")
def update_script(script_id: uuid.UUID, body: ScriptIn, user: User, session: DB) -> dict[str, Any]:
    from control_api.db import utcnow

    script = _own_script(session, user, script_id)
    script.title, script.content, script.updated_at = body.title, body.content, utcnow()
    session.add(script)
    session.commit()
    return _script_view(script)


@router.delete("/scripts/{script_id}", status_code=204)
def delete_script(script_id: uuid.UUID, user: User, session: DB) -> Response:
    script = _own_script(session, user, script_id)
    if session.exec(select(Task.id).where(Task.script_id == script.id)).first():
        raise Problem(409, "Conflict", "tasks refer to this script; it is kept for their records")
    session.delete(script)
    session.commit()
    return Response(status_code=204)


# --- routes: voices and templates ------------------------------------------------------------------



@router.get("/voices", summary="Voices of voices.yaml")
def voices(_user: User, settings: Settings) -> list[dict[str, Any]]:
    return library_for(settings.voices_file).as_rows()


@router.get("/voices/{voice_id}/preview", summary="A short sample of the voice (WAV, cached)")
async def voice_preview(voice_id: str, request: Request, _user: User, settings: Settings) -> FileResponse:
    library = library_for(settings.voices_file)
    if voice_id not in library:
        raise not_found("voice")
    cached = settings.previews_dir / f"{uuid.uuid5(uuid.NAMESPACE_URL, voice_id).hex}.wav"
    if not cached.exists():  # rendered in a helper process: the voice models never load into the API
        cached.parent.mkdir(parents=True, exist_ok=True)
        voices = str(settings.voices_file) if settings.voices_file else None
        await request.app.state.offload.run(make_preview, voices, voice_id, str(cached))
    return FileResponse(cached, media_type="audio/wav")


@router.get("/templates", summary="Dataflow templates")
def templates(_user: User) -> list[dict[str, Any]]:
    rows = []
    for name in template_names():
        header = [line[1:].strip() for line in template_source(name).splitlines() if line.startswith("#")]
        rows.append({"name": name, "description": " ".join(header[:3])})
    return rows


class TemplatePreview(BaseModel):
    voice_config: dict[str, VoiceChoice] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    title: str = "Preview"


@router.post("/templates/{name}/render", summary="Preview the dataflow YAML a task would run",
             response_class=PlainTextResponse)
def template_render(name: str, body: TemplatePreview, _user: User) -> PlainTextResponse:
    if name not in template_names():
        raise not_found("template")
    options = render_options(body.voice_config, body.options)
    text = render(name, SAMPLE_TASK, title=body.title, voices={k: str(v) for k, v in body.voice_config.items()},
                  options=options.settings)
    return PlainTextResponse(text, media_type="application/yaml")


# --- app -------------------------------------------------------------------------------------------


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_pool(settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.offload = Offload(settings.api_helper_processes)
        app.state.redis = redis_async.Redis.from_url(settings.redis_url)
        app.state.redis_sync = redis_sync.Redis.from_url(settings.redis_url)
        app.state.arq = await create_pool(redis_settings(settings.redis_url), default_queue_name=settings.queue_name)
        try:
            yield
        finally:
            await app.state.arq.aclose()
            await app.state.redis.aclose()
            app.state.redis_sync.close()
            await asyncio.to_thread(app.state.offload.close)

    app = FastAPI(title="dramaflow", version="0.1.0", lifespan=lifespan,
                  description="Scripts to finished, mastered audio. Authenticate with `Authorization: Bearer <key>`.")
    app.state.settings = settings
    install_problem_handlers(app)
    app.include_router(router)

    @app.middleware("http")
    async def metrics(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        LATENCY.labels(request.method, path).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        return response

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.get("/healthz", include_in_schema=True, summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Redis, PostgreSQL (schema current) and dora are usable")
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(request.app.state.redis.ping(), 2)
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["redis"] = f"error: {exc}"
        try:
            await run_in_threadpool(require_current_schema, settings.database_url)
            checks["postgres"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["postgres"] = f"error: {exc}"
        checks["dora"] = await run_in_threadpool(_dora_check)
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    def metrics_endpoint() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _dora_check() -> str:
    import subprocess

    from control_api.templates import dora_binary

    try:
        proc = subprocess.run([dora_binary(), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"error: {exc}"
    return "ok" if proc.returncode == 0 else f"error: {proc.stderr.strip()}"
