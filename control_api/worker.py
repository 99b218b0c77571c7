"""The worker: arq jobs that render tasks through the DoraEngine, one daemon per worker process.

- ``render_task(task_id)`` is enqueued with the task id as arq job id, so a task is queued once.
- While a job runs, a heartbeat keeps arq's in-progress key alive for ``LEASE_S`` only; when a worker
  dies, the key lapses within that time and another worker takes the task again (arq itself would
  wait for the whole job timeout). The new attempt first kills what the dead one left running.
- A transient error is retried ``task_retries`` times; script and permanent errors fail at once;
  the time limit stops the dataflow and fails the task; a cancel flag in Redis stops it within
  ``cancel_poll_s`` + dora's stop grace.
- On success the outputs move to ``DATA_DIR/audio/YYYY/MM/<task>/``, the Audio rows are written, and the task
  is charged and completed in one transaction (charged once, even if the job is delivered twice).
- A daily cron sweeps task folders older than ``scratch_ttl_h`` and audio past its expiry.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from arq import Retry, cron
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.worker import Worker, func
from sqlmodel import select

from control_api import progress
from control_api.crud import claim, complete, finish, unsettled, update_task
from control_api.db import (
    Audio,
    Task,
    TaskStatus,
    configure_pool,
    require_current_schema,
    session_scope,
    utcnow,
)
from control_api.engines.base import Engine, ProgressEvent, RenderReport
from control_api.engines.dora import DoraEngine, kill_leftovers
from control_api.queue import OUTPUT_NAME, redis_settings
from control_api.service import library_for, render_options
from control_api.settings import ServiceSettings, default_concurrency, get_settings, tts_workers_per_render
from nodes.common.errors import DramaflowError, TaskCancelled, TaskTimedOut, TransientBackendError
from nodes.common.settings import ENV_TTS_WORKERS

log = logging.getLogger("dramaflow.worker")

HEARTBEAT_S = 5.0
LEASE_S = 20  # a dead worker's task is taken again this long after its last heartbeat
MAX_PICKUPS = 6  # deliveries of one task (retries + dead workers) before it fails for good
RETRY_DEFER_S = 2.0  # a transient failure is taken up again after this
REPORT_NAME = "report.json"  # a finished render's report, kept until its files are published
FINAL_PUBLISH_S = 120.0  # how long a task's final event waits for Redis to come back


# --- database steps (sync; run in a thread) --------------------------------------------------------


# --- the job ---------------------------------------------------------------------------------------


def publish_outputs(report: RenderReport, audio_dir: Path) -> dict[str, Path]:
    """Move the rendered files out of the scratch folder (same file system: atomic renames)."""
    audio_dir.mkdir(parents=True, exist_ok=True)
    moved = {}
    for kind, path in report.files.items():
        target = audio_dir / Path(path).name
        if Path(path).exists() or not target.exists():  # an earlier attempt may have moved it already
            Path(path).replace(target)
        moved[kind] = target
    return moved


def infrastructure_errors() -> tuple[type[BaseException], ...]:
    """Errors of the servers around a render (Redis, PostgreSQL): they pass; the render goes on."""
    import sqlalchemy as sa
    from redis import RedisError

    return RedisError, sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError


async def _heartbeat(redis, job_id: str) -> None:
    while True:
        try:
            await redis.pexpire(in_progress_key_prefix + job_id, LEASE_S * 1000)
        except infrastructure_errors() as exc:  # Redis is away: beat again when it is back
            log.warning("job %s: heartbeat missed: %s", job_id, exc)
        await asyncio.sleep(HEARTBEAT_S)


async def _watch_cancel(redis, task_id: str, cancel: threading.Event, poll_s: float) -> None:
    while not cancel.is_set():
        try:
            if await redis.exists(progress.cancel_key(task_id)):
                cancel.set()
                return
        except infrastructure_errors():  # a cancel sent while Redis is away is read when it is back
            pass
        await asyncio.sleep(poll_s)


async def render_task(ctx: dict[str, Any], task_id: str) -> str:
    settings: ServiceSettings = ctx["settings"]
    redis = ctx["redis"]
    url = settings.database_url
    tid = uuid.UUID(task_id)
    if ctx["job_try"] > MAX_PICKUPS:
        await asyncio.to_thread(finish, url, tid, TaskStatus.failed, f"gave up after {MAX_PICKUPS} deliveries")
        await _final(ctx, task_id, TaskStatus.failed, error="gave up after repeated worker failures")
        return "failed"
    try:
        task = await asyncio.to_thread(claim, url, tid, ctx["job_try"])
    except infrastructure_errors() as exc:  # the row cannot be read: deliver the job again later
        log.warning("task %s not taken up: %s", task_id, describe_infrastructure(exc))
        raise Retry(defer=RETRY_DEFER_S * 3) from None
    if task is None:
        return "skipped"
    heartbeat = asyncio.create_task(_heartbeat(redis, ctx["job_id"]))
    try:
        if await redis.exists(progress.cancel_key(task_id)):
            await asyncio.to_thread(finish, url, tid, TaskStatus.cancelled, "cancelled before it started")
            await _final(ctx, task_id, TaskStatus.cancelled)
            return "cancelled"
        await progress.publish(redis, task_id, "status", status={"status": "running", "progress": 0},
                               status_value="running", attempt=ctx["job_try"])
        return await _run(ctx, task, settings)
    except (Retry, asyncio.CancelledError):
        raise
    except Exception as exc:  # noqa: BLE001 - Redis, PostgreSQL, the disk: infrastructure, not the task
        return await _infrastructure_failure(ctx, task, exc)
    finally:
        heartbeat.cancel()


def describe_infrastructure(exc: BaseException) -> str:
    """What failed around the render, in words an operator acts on."""
    import sqlalchemy as sa
    from redis import RedisError

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {exc.filename}" if exc.filename else ""
        return f"the disk is full (ENOSPC){where}: free space in DRAMAFLOW_DATA_DIR"
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
        return f"the database was unreachable ({str(getattr(exc, 'orig', exc) or exc).strip().splitlines()[0]})"
    if isinstance(exc, RedisError):
        return f"Redis was unreachable ({exc})"
    return f"{type(exc).__name__}: {exc}"


async def _infrastructure_failure(ctx: dict[str, Any], task: Task, exc: Exception) -> str:
    """Infrastructure errors are transient: retried within the task's retries, else the task fails with the
    reason. When the database itself is away, arq delivers the job again later (and the reconciler settles
    a row no job owns)."""
    message = describe_infrastructure(exc)
    log.warning("task %s: %s", task.id, message, exc_info=exc)
    url, task_id = ctx["settings"].database_url, str(task.id)
    try:
        if task.retry_count < task.max_retries:
            await asyncio.to_thread(update_task, url, task.id, status=TaskStatus.queued,
                                    retry_count=task.retry_count + 1, error_message=message)
            await progress.publish(ctx["redis"], task_id, "status", status={"status": "queued"},
                                   status_value="queued", retry=task.retry_count + 1, error=message)
            raise Retry(defer=RETRY_DEFER_S)
        return await _fail(ctx, task, message)
    except Retry:
        raise
    except Exception:  # noqa: BLE001 - still away: try again later rather than leave the row running
        raise Retry(defer=RETRY_DEFER_S * 3) from None


async def _run(ctx: dict[str, Any], task: Task, settings: ServiceSettings) -> str:
    task_id = str(task.id)
    task_dir, audio_dir = settings.tasks_dir / task_id, settings.audio_folder(task_id, task.created_at)
    report = await asyncio.to_thread(rendered_before, task_dir, audio_dir)
    if report is None:  # (a render whose publishing failed is published now, not rendered again)
        outcome = await _render(ctx, task, settings, task_dir)
        if isinstance(outcome, str):
            return outcome
        report = outcome
        (task_dir / REPORT_NAME).write_text(json.dumps(report.to_dict()), encoding="utf-8")
    files = await asyncio.to_thread(publish_outputs, report, audio_dir)
    if await asyncio.to_thread(complete, settings, task.id, report, files):
        await _final(ctx, task_id, TaskStatus.completed, duration_s=report.duration_s, segments=report.segments,
                     lufs=report.lufs, true_peak_dbtp=report.true_peak_dbtp, warnings=report.warnings,
                     engine=report.engine)
    shutil.rmtree(task_dir, ignore_errors=True)
    return "completed"


def rendered_before(task_dir: Path, audio_dir: Path) -> RenderReport | None:
    """The report of an earlier attempt that rendered completely (its files in the task folder or already
    moved to ``audio_dir``), else None."""
    path = task_dir / REPORT_NAME
    if not path.exists():
        return None
    report = RenderReport(**json.loads(path.read_text(encoding="utf-8")))
    if all(Path(p).exists() or (audio_dir / Path(p).name).exists() for p in report.files.values()):
        return report
    return None


async def _render(ctx: dict[str, Any], task: Task, settings: ServiceSettings, task_dir: Path) -> RenderReport | str:
    """Render the task afresh; the report, or the final status when it ended otherwise."""
    redis, url, task_id = ctx["redis"], settings.database_url, str(task.id)
    if task_dir.exists():  # a previous attempt (or a dead worker) left it: nothing of it may survive
        kill_leftovers(task_dir)
        shutil.rmtree(task_dir)
    task_dir.mkdir(parents=True)
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[ProgressEvent | None] = asyncio.Queue()
    cancel = threading.Event()
    tracker = progress.Tracker()
    engine = engine_for_task(ctx, task)

    def render() -> RenderReport:
        try:
            return engine.render(
                task.script_text, task_dir / OUTPUT_NAME, render_options(task.voice_config, task.options),
                lambda event: loop.call_soon_threadsafe(events.put_nowait, event), task_id=task_id,
                task_dir=task_dir, template=task.template, timeout_s=settings.task_time_limit_s, cancel=cancel)
        finally:
            loop.call_soon_threadsafe(events.put_nowait, None)

    async def pump() -> None:
        """Progress to Redis and stage changes to PostgreSQL; while either is away its records are
        skipped (the render goes on, the next record after it returns brings the state up to date)."""
        away: set[str] = set()

        async def record(server: str, step: Awaitable[Any]) -> None:
            try:
                await step
                away.discard(server)
            except infrastructure_errors() as exc:
                if server not in away:
                    log.warning("task %s: progress not recorded while %s is away: %s", task_id, server, exc)
                away.add(server)

        while (event := await events.get()) is not None:
            transition = tracker.update(event)
            status = {"status": "running", "stage": tracker.stage, "progress": tracker.percent,
                      "eta_s": tracker.eta_s, "stages": tracker.stages}
            await record("Redis", progress.publish(
                redis, task_id, "stage" if transition else "progress", status=status, stage=event.stage,
                done=event.done, total=event.total, message=event.message,
                retries=tracker.stages[event.stage]["retries"]))
            if transition or "PostgreSQL" in away:
                await record("PostgreSQL", asyncio.to_thread(update_task, url, task.id, stage=tracker.stage,
                                                             progress=tracker.percent))

    watcher = asyncio.create_task(_watch_cancel(redis, task_id, cancel, settings.cancel_poll_s))
    pumping = asyncio.create_task(pump())
    try:
        return await asyncio.to_thread(render)
    except TaskCancelled:
        await asyncio.to_thread(finish, url, task.id, TaskStatus.cancelled, "cancelled")
        await _final(ctx, task_id, TaskStatus.cancelled)
        return "cancelled"
    except TaskTimedOut as exc:
        return await _fail(ctx, task, str(exc))
    except TransientBackendError as exc:
        if task.retry_count < task.max_retries:
            await asyncio.to_thread(update_task, url, task.id, status=TaskStatus.queued,
                                    retry_count=task.retry_count + 1, error_message=str(exc))
            await progress.publish(redis, task_id, "status", status={"status": "queued"}, status_value="queued",
                                   retry=task.retry_count + 1, error=str(exc))
            raise Retry(defer=RETRY_DEFER_S) from exc
        return await _fail(ctx, task, str(exc))
    except DramaflowError as exc:
        return await _fail(ctx, task, str(exc))
    except asyncio.CancelledError:  # the worker is shutting down: stop the dataflow, hand the task back
        cancel.set()
        await asyncio.to_thread(update_task, url, task.id, status=TaskStatus.queued)
        raise
    finally:
        watcher.cancel()
        await pumping


async def _fail(ctx: dict[str, Any], task: Task, message: str) -> str:
    await asyncio.to_thread(finish, ctx["settings"].database_url, task.id, TaskStatus.failed, message)
    await _final(ctx, str(task.id), TaskStatus.failed, error=message)
    return "failed"


async def _final(ctx: dict[str, Any], task_id: str, status: TaskStatus, **data: Any) -> None:
    """The final status event, which ends every follower's stream. It is published as soon as Redis
    answers (waiting up to ``FINAL_PUBLISH_S``): the row in PostgreSQL is final already."""
    redis = ctx["redis"]
    fields = {"status": status.value, **({"progress": 100} if status == TaskStatus.completed else {})}
    if "error" in data:
        fields["error"] = data["error"]
    deadline, delay_s = time.monotonic() + FINAL_PUBLISH_S, 0.25
    while True:
        try:
            await progress.publish(redis, task_id, "status", status=fields, status_value=status.value, **data)
            await progress.expire(redis, task_id, ctx["settings"].events_ttl_s)
            return
        except infrastructure_errors() as exc:
            if time.monotonic() + delay_s > deadline:
                log.error("task %s is %s, but its final event was not published: %s", task_id, status.value, exc)
                return
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)


# --- sweeping --------------------------------------------------------------------------------------


def sweep(settings: ServiceSettings, now: float | None = None) -> dict[str, int]:
    """Remove task folders older than ``scratch_ttl_h`` whose task is not running, and audio past its
    expiry (files and rows). Returns counts."""
    now = now or time.time()
    removed = {"task_folders": 0, "audio_files": 0}
    running: set[str] = set()
    with session_scope(settings.database_url) as session:
        running = {str(t) for t in session.exec(select(Task.id).where(Task.status == TaskStatus.running))}
        for audio in session.exec(select(Audio).where(Audio.expires_at < utcnow())).all():
            Path(audio.file_path).unlink(missing_ok=True)
            session.delete(audio)
            removed["audio_files"] += 1
    if settings.tasks_dir.exists():
        for folder in settings.tasks_dir.iterdir():
            if folder.name not in running and now - folder.stat().st_mtime > settings.scratch_ttl_h * 3600:
                kill_leftovers(folder)
                shutil.rmtree(folder, ignore_errors=True)
                removed["task_folders"] += 1
    return removed


async def sweep_job(ctx: dict[str, Any]) -> dict[str, int]:
    return await asyncio.to_thread(sweep, ctx["settings"])


# --- worker process --------------------------------------------------------------------------------


# --- reconciling PostgreSQL with the queue ------------------------------------------------------------


async def reconcile(ctx: dict[str, Any]) -> dict[str, int]:
    """Every task row reaches a final state: a queued row whose job is gone (Redis restarted without its
    data) is enqueued again; a running row with no job and no lease (its worker died after its job
    ended) is retried, or failed with the reason when its retries are spent. Runs at start and every
    minute; a job that exists is left alone, so two workers reconciling at once enqueue nothing twice."""
    settings: ServiceSettings = ctx["settings"]
    redis, url = ctx["redis"], settings.database_url
    counts = {"requeued": 0, "failed": 0}
    for task in await asyncio.to_thread(unsettled, url, settings.reconcile_after_s):
        job_id = str(task.id)
        if await redis.exists(job_key_prefix + job_id, in_progress_key_prefix + job_id):
            continue
        if task.status == TaskStatus.running:
            if task.retry_count >= task.max_retries:
                reason = "its worker stopped without finishing it, and its retries are spent"
                await asyncio.to_thread(finish, url, task.id, TaskStatus.failed, reason)
                await _final(ctx, job_id, TaskStatus.failed, error=reason)
                counts["failed"] += 1
                continue
            await asyncio.to_thread(update_task, url, task.id, status=TaskStatus.queued,
                                    retry_count=task.retry_count + 1,
                                    error_message="its worker stopped without finishing it; taken up again")
        await redis.delete(result_key_prefix + job_id)  # an ended job's result would block the same id
        await redis.enqueue_job("render_task", job_id, _job_id=job_id, _queue_name=settings.queue_name)
        counts["requeued"] += 1
    if any(counts.values()):
        log.warning("reconciled tasks with the queue: %s", counts)
    return counts


def engine_for_task(ctx: dict[str, Any], task: Task) -> Engine:
    """The engine the task asks for (``engine_type``), with voices.yaml as it is now."""
    settings: ServiceSettings = ctx["settings"]
    if task.engine_type == "direct":
        if "direct" not in ctx:  # loaded on first use: the stage code stays out of a dora-only worker
            from control_api.engines.direct import DirectEngine

            ctx["direct"] = DirectEngine(env={**os.environ, **node_env(settings, ctx["concurrency"])})
        engine = ctx["direct"]
    else:
        engine = ctx["engine"]
    engine.library = library_for(settings.voices_file)
    return engine


async def _startup(ctx: dict[str, Any]) -> None:
    settings: ServiceSettings = ctx["settings"]
    settings.tasks_dir.mkdir(parents=True, exist_ok=True)
    ctx["engine"] = DoraEngine(library_for(settings.voices_file), workdir=settings.data_dir.resolve() / "dora" /
                               uuid.uuid4().hex[:8], daemon_env=node_env(settings, ctx["concurrency"]))
    ctx["engine"].daemon  # noqa: B018 - start it now, in the main thread


async def _shutdown(ctx: dict[str, Any]) -> None:
    for name in ("direct", "engine"):
        if ctx.get(name) is not None:
            await asyncio.to_thread(ctx[name].close)


def node_env(settings: ServiceSettings, concurrency: int = 1) -> dict[str, str]:
    """What the worker adds to its nodes' environment: the shared rate limit lives in the service's Redis,
    the segment cache under its data folder (unless DRAMAFLOW_CACHE_DIR says otherwise), and each of the
    ``concurrency`` renders its share of the cores for speaking segments at once (unless
    DRAMAFLOW_TTS_WORKERS says otherwise)."""
    return {"DRAMAFLOW_REDIS_URL": settings.redis_url, "DRAMAFLOW_DATA_DIR": str(settings.data_dir.resolve()),
            ENV_TTS_WORKERS: os.environ.get(ENV_TTS_WORKERS) or str(tts_workers_per_render(concurrency))}


def make_worker(settings: ServiceSettings | None = None, concurrency: int | None = None) -> Worker:
    settings = settings or get_settings()
    concurrency = concurrency or settings.worker_concurrency or default_concurrency()
    configure_pool(settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout_s)
    require_current_schema(settings.database_url)
    return Worker(
        functions=[func(render_task, name="render_task", max_tries=MAX_PICKUPS + 1,
                        timeout=settings.task_time_limit_s + 120)],
        cron_jobs=[cron(sweep_job, hour={3}, minute={17}, run_at_startup=False),
                   cron(reconcile, second={7}, run_at_startup=True, unique=True)],
        redis_settings=redis_settings(settings.redis_url, ride_out=True), queue_name=settings.queue_name,
        max_jobs=concurrency, keep_result=3600, poll_delay=0.2, on_startup=_startup, on_shutdown=_shutdown,
        ctx={"settings": settings, "concurrency": concurrency}, handle_signals=True,
    )
