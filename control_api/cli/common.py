"""What every ``dramaflow`` command group shares: the consoles, the error exit, reading a script and the
``--voice``/``--set`` options, progress bars, and the service settings and database checks.

Imports nothing of ``control_api.cli``; the command modules import this, never each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape  # also imported from here by the command modules
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

console = Console(stderr=True)
out = Console()

VoiceOpt = Annotated[
    list[str] | None,
    typer.Option("--voice", "-v", help="Map a speaker to a voice: Name=voice-id (repeatable)."),
]


def _fail(message: str, code: int) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # messages quote [cues]
    return typer.Exit(code)


@contextmanager
def user_errors(script: Path | None = None) -> Iterator[None]:
    """A mistake in the script or an option exits 2 with the message (naming the file when there is one);
    a backend or the disk failing exits 1. Never a traceback."""
    from nodes.common.errors import ConfigError, DramaflowError, ScriptError

    try:
        yield
    except ScriptError as exc:
        raise _fail(f"{script}: {exc}" if script is not None else str(exc), 2) from None
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    except DramaflowError as exc:
        raise _fail(str(exc), 1) from None


def _voice_map(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, voice = pair.partition("=")
        if not sep or not name.strip() or not voice.strip():
            raise _fail(f"--voice {pair!r}: write it as Name=voice-id, e.g. --voice 'Mara=en-joe'", 2)
        mapping[name.strip()] = voice.strip()
    return mapping


def _read_script(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(f"{path}: no such file", 2) from None
    except UnicodeDecodeError as exc:
        raise _fail(f"{path}: not UTF-8 text (byte {exc.start}); save the script as UTF-8", 2) from None


def _setting_overrides(pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    """The ``--set GROUP.KEY=VALUE`` options as {group: {key: value}}; values are read as YAML."""
    import yaml

    settings: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        group, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise _fail(f"--set {pair!r}: write it as GROUP.KEY=VALUE, e.g. --set mix.duck_db=10", 2)
        settings.setdefault(group, {})[name] = yaml.safe_load(raw) if raw.strip() else raw
    return settings


def _progress(*, transient: bool) -> Progress:
    """Progress bars on stderr: stage name, bar, done/total, elapsed."""
    return Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=transient)


class _Bars:
    """One progress bar per stage, fed by ``ProgressEvent``s."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: Any) -> None:
        task = self.tasks.get(event.stage)
        if task is None:
            task = self.tasks[event.stage] = self.progress.add_task(event.stage, total=max(event.total, 1))
        total = max(event.total, int(self.progress.tasks[task].total or 1))
        done = total if event.message == "done" else event.done
        self.progress.update(task, total=total, completed=done)


def _ambience_line(stats: dict[str, Any]) -> str:
    """``procedural``, or what a model backend cost: clips generated and cached, load, wait, memory."""
    line = str(stats.get("backend", "?"))
    if "generated" in stats:
        line += (f" on {stats['device']}: {stats['generated']} generated ({stats['generate_s']:.1f} s, model load "
                 f"{stats['load_s']:.1f} s, lock wait {stats['lock_wait_s']:.1f} s), {stats['cache_hits']} from cache")
        if stats.get("peak_gpu_memory_mib"):
            line += f", peak GPU memory {stats['peak_gpu_memory_mib']} MiB"
    return line


def _service_settings():
    """The control service's settings (DRAMAFLOW_* variables); a bad one is exit 2 naming the variable."""
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
