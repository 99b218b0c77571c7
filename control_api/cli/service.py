"""The control service: ``dramaflow db``, ``serve``, ``worker`` and ``cleanup``.

``serve``, ``worker`` and ``cleanup`` are top-level commands: ``control_api.cli`` registers them on the root app.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from control_api.cli.common import _fail, _reachable, _schema_ok, _service_settings, out

db_app = typer.Typer(no_args_is_help=True, help="The PostgreSQL schema (Alembic migrations).")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to DRAMAFLOW_DATABASE_URL."""
    from control_api.db import upgrade

    url = _service_settings().database_url
    with _reachable(url):
        head = upgrade(url)
    out.print(f"database at revision {head}")


def serve(host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port.")] = 8000,
          fd: Annotated[int | None, typer.Option(help="Serve on this inherited listening socket instead "
                                                     "(systemd socket activation; the tests).")] = None) -> None:
    """Run the REST API (refuses an out-of-date schema)."""
    import os

    import uvicorn

    from control_api.api import create_app
    from control_api.writer.llm import LLMConfig
    from nodes.common.errors import ConfigError

    settings = _service_settings()
    _schema_ok(settings.database_url)
    try:
        LLMConfig.from_env(os.environ)  # refused now, not at the first request
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    where = {"fd": fd} if fd is not None else {"host": host, "port": port}
    uvicorn.run(create_app(settings), **where, log_level="info", proxy_headers=True)


def worker(concurrency: Annotated[int | None, typer.Option(
        help="Tasks rendered at once (default DRAMAFLOW_WORKER_CONCURRENCY, 2).")] = None) -> None:
    """Run a worker: takes tasks from Redis and renders them through its own dora daemon."""
    import logging

    from control_api.worker import make_worker

    settings = _service_settings()
    _schema_ok(settings.database_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    make_worker(settings, concurrency).run()


def cleanup() -> None:
    """Remove task folders older than DRAMAFLOW_SCRATCH_TTL_H and audio past its expiry."""
    from control_api.worker import sweep

    settings = _service_settings()
    _schema_ok(settings.database_url)
    removed = sweep(settings)
    out.print(json.dumps(removed))
