"""``dramaflow`` commands of the control service: db, serve, worker, users, credits, cleanup, submit."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from control_api.cli import _fail, _read_script, _voice_map, app, console, escape, out

db_app = typer.Typer(no_args_is_help=True, help="The PostgreSQL schema (Alembic migrations).")
users_app = typer.Typer(no_args_is_help=True, help="Users and their API keys.")
credits_app = typer.Typer(no_args_is_help=True, help="Credit balances (an append-only ledger).")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(credits_app, name="credits")


def _settings():
    from pydantic import ValidationError

    from control_api.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        raise _fail(settings_error(exc), 2) from None


def settings_error(exc) -> str:
    """One line per bad setting, named by its variable; never the value (a URL may hold a password)."""
    lines = []
    for error in exc.errors():
        name = "DRAMAFLOW_" + "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"{name}: {str(error['msg']).removeprefix('Value error, ')}")
    return "\n".join(lines) or str(exc)


def _schema_ok(url: str) -> None:
    from control_api.db import SchemaOutOfDate, require_current_schema

    try:
        with _reachable(url):
            require_current_schema(url)
    except SchemaOutOfDate as exc:
        raise _fail(str(exc), 1) from None


@contextmanager
def _reachable(url: str) -> Iterator[None]:
    """A database that cannot be reached (or refuses the login) is one line naming host and port, not a
    traceback; the password never appears."""
    import sqlalchemy as sa

    try:
        yield
    except sa.exc.OperationalError as exc:
        where = sa.engine.make_url(url)
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise _fail(f"cannot use the database {where.database!r} at {where.host}:{where.port or 5432} "
                    f"({first}); check DRAMAFLOW_DATABASE_URL and that PostgreSQL is running", 1) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to DRAMAFLOW_DATABASE_URL."""
    from control_api.db import upgrade

    url = _settings().database_url
    with _reachable(url):
        head = upgrade(url)
    out.print(f"database at revision {head}")


@app.command()
def serve(host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port.")] = 8000,
          fd: Annotated[int | None, typer.Option(help="Serve on this inherited listening socket instead "
                                                     "(systemd socket activation; the tests).")] = None) -> None:
    """Run the REST API (refuses an out-of-date schema)."""
    import uvicorn

    from control_api.api import create_app

    settings = _settings()
    _schema_ok(settings.database_url)
    where = {"fd": fd} if fd is not None else {"host": host, "port": port}
    uvicorn.run(create_app(settings), **where, log_level="info", proxy_headers=True)


@app.command()
def worker(concurrency: Annotated[int | None, typer.Option(
        help="Tasks rendered at once (default DRAMAFLOW_WORKER_CONCURRENCY, 2).")] = None) -> None:
    """Run a worker: takes tasks from Redis and renders them through its own dora daemon."""
    import logging

    from control_api.worker import make_worker

    settings = _settings()
    _schema_ok(settings.database_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    make_worker(settings, concurrency).run()


@users_app.command("create")
def users_create(name: Annotated[str, typer.Argument(help="A unique user name.")]) -> None:
    """Create a user; its API key is printed on the last line (shown only once)."""
    from control_api.accounts import create_user
    from control_api.db import session_scope

    settings = _settings()
    _schema_ok(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            user, key = create_user(session, name)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    console.print(f"created user {user.name} (id {user.id}); the key is not stored, keep it now:")
    out.print(key, highlight=False, soft_wrap=True)


@credits_app.command("grant")
def credits_grant(name: str, amount: int, note: Annotated[str, typer.Option(help="Why.")] = "") -> None:
    """Add AMOUNT credits to NAME (negative to take back); prints the new balance."""
    from control_api.accounts import grant
    from control_api.db import session_scope

    settings = _settings()
    _schema_ok(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            balance = grant(session, name, amount, note)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    out.print(f"{name}: {balance} credits")


@app.command()
def cleanup() -> None:
    """Remove task folders older than DRAMAFLOW_SCRATCH_TTL_H and audio past its expiry."""
    from control_api.worker import sweep

    settings = _settings()
    _schema_ok(settings.database_url)
    removed = sweep(settings)
    out.print(json.dumps(removed))


@app.command()
def submit(
    script: Annotated[Path, typer.Argument(help="Markdown script to render.")],
    template: Annotated[str, typer.Option("--template", "-t", help="Dataflow template.")] = "podcast",
    voice: Annotated[list[str] | None, typer.Option("--voice", "-v", help="Name=voice-id (repeatable).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Show progress, download the result.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to save the MP3 (with --follow).")] = None,
    api: Annotated[str, typer.Option(envvar="DRAMAFLOW_API_URL", help="Base URL of the API.")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(envvar="DRAMAFLOW_API_KEY", help="API key.")] = None,
) -> None:
    """Submit SCRIPT to the API; with --follow, draw progress from its events and download the MP3."""
    import httpx

    if not key:
        raise _fail("no API key: pass --key or set DRAMAFLOW_API_KEY", 2)
    body = {"script": _read_script(script), "template": template, "voice_config": _voice_map(voice)}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=api, headers=headers, timeout=httpx.Timeout(30, read=None)) as client:
        response = client.post("/api/v1/tasks", json=body)
        if response.status_code != 202:
            problem = _problem(response)
            raise _fail(problem, 2 if response.status_code in (400, 402, 413, 422) else 1)
        task = response.json()
        console.print(f"task {task['id']} queued ({task['credit_cost']} credits)")
        for warning in task.get("warnings", []):
            console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        if not follow:
            out.print(task["id"])
            return
        final = _follow(client, task)
        if final.get("status_value") != "completed":
            raise _fail(f"task {final.get('status_value')}: {final.get('error', '')}", 1)
        target = output or script.with_suffix(".mp3")
        with client.stream("GET", task["urls"]["audio_mp3"]) as audio, open(target, "wb") as f:
            for chunk in audio.iter_bytes():
                f.write(chunk)
        out.print(f"wrote {target} ({os.path.getsize(target)} bytes, {final.get('duration_s', 0):.1f} s)")


def _problem(response) -> str:
    try:
        doc = response.json()
        return f"{response.status_code} {doc.get('title', '')}: {doc.get('detail', '')}"
    except ValueError:
        return f"{response.status_code}: {response.text[:300]}"


def _follow(client, task: dict) -> dict:
    """Read the task's SSE stream to its final status event, drawing one bar per stage."""
    bars: dict[str, TaskID] = {}
    final: dict = {}
    with Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        for event, data in iter_sse(client, task["urls"]["events"]):
            doc = json.loads(data)
            if event in ("stage", "progress"):
                stage = doc["stage"]
                if stage not in bars:
                    bars[stage] = bar.add_task(stage, total=max(doc["total"], 1))
                bar.update(bars[stage], completed=doc["done"], total=max(doc["total"], 1))
            elif event == "status" and doc.get("status_value") in ("completed", "failed", "cancelled"):
                final = doc
                break
    return final


def iter_sse(client, url: str):
    """(event, data) pairs of a Server-Sent Events response; reconnects with Last-Event-ID."""
    import httpx

    last_id = None
    while True:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise _fail(_problem(response.read() and response), 1)
                event, data = "message", []
                for line in response.iter_lines():
                    if line.startswith("id:"):
                        last_id = line[3:].strip()
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        yield event, "\n".join(data)
                        event, data = "message", []
                return
        except httpx.TransportError:
            continue
