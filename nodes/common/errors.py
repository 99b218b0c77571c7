"""The one exception tree of dramaflow, and its warning category::

    DramaflowError
    ├── ScriptError              the script as written; 1-based ``line`` and a ``hint`` that fixes it
    ├── ConfigError              voices.yaml, a setting, an option, an environment variable
    ├── BackendError             a synthesis or generation backend failed (``backend``, ``line``)
    │   ├── TransientBackendError    retried with backoff until the line's deadline and the task's
    │   │                            budget (``retry_after_s``: the provider's hint; ``rate_limited``:
    │   │                            the provider said "too many", so the shared limiter slows down)
    │   └── PermanentBackendError    fails at once, naming the line: retrying cannot help
    ├── TaskStopped              an engine stopped a render from outside (nothing of it is kept)
    │   ├── TaskCancelled            the user cancelled it
    │   └── TaskTimedOut             it ran past the task's time limit
    └── ServiceError             the control service refuses (never the script's fault)
        ├── InsufficientCredits      the balance does not cover the task (``needed``, ``available``): 402
        └── SchemaOutOfDate          the database is behind this version: run ``dramaflow db upgrade``

- Soft problems are ``DramaflowWarning``s: they are reported, never fatal, except in tests, which turn
  warnings into errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


class DramaflowError(Exception):
    """Root of every error dramaflow raises on purpose."""


class ScriptError(DramaflowError):
    """The script cannot be rendered as written.

    ``line`` is 1-based in the file as the author sees it (front matter included); ``hint`` says
    what would fix it.
    """

    def __init__(self, message: str, line: int | None = None, hint: str | None = None):
        self.message = message
        self.line = line
        self.hint = hint
        super().__init__(str(self))

    def __reduce__(self):  # keeps line and hint across processes (the API validates in a helper process)
        return (type(self), (self.message, self.line, self.hint))

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        fix = f" (fix: {self.hint})" if self.hint else ""
        return f"{where}{self.message}{fix}"


class ConfigError(DramaflowError):
    """voices.yaml, a voice override, an option or a setting is invalid."""


class BackendError(DramaflowError):
    """A synthesis or generation backend failed. ``transient`` says whether a retry can help."""

    transient = False

    def __init__(self, message: str, *, backend: str = "", line: int | None = None):
        self.backend = backend
        self.line = line
        self.detail = message  # without the backend and line prefix
        where = f"line {line}: " if line is not None else ""
        who = f"[{backend}] " if backend else ""
        super().__init__(f"{who}{where}{message}")


class TransientBackendError(BackendError):
    """Worth retrying: rate limits, timeouts, 5xx. ``retry_after_s``: not before this (the provider's
    hint, e.g. HTTP Retry-After); ``rate_limited``: the provider refused for rate (1002, 1039, HTTP 429)."""

    transient = True

    def __init__(self, message: str, *, backend: str = "", line: int | None = None,
                 retry_after_s: float | None = None, rate_limited: bool = False):
        super().__init__(message, backend=backend, line=line)
        self.retry_after_s = retry_after_s
        self.rate_limited = rate_limited


class PermanentBackendError(BackendError):
    """Retrying will not help: bad key, invalid voice, illegal characters."""


class DramaflowWarning(UserWarning):
    """A soft problem: the output is still complete, but not what the author asked for."""


class CollectedWarnings:
    """The ``DramaflowWarning``s recorded so far by ``collect_warnings`` (readable inside the block)."""

    def __init__(self, caught: list[warnings.WarningMessage]) -> None:
        self._caught = caught

    @property
    def messages(self) -> list[str]:
        return [str(w.message) for w in self._caught if issubclass(w.category, DramaflowWarning)]


@contextmanager
def collect_warnings() -> Iterator[CollectedWarnings]:
    """Record ``DramaflowWarning``s raised inside the block, for a report.

    Other warnings keep their filters (tests turn them into errors) and are re-shown afterwards.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DramaflowWarning)
        yield CollectedWarnings(caught)
    for w in caught:
        if not issubclass(w.category, DramaflowWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def warn(message: str, *, line: int | None = None) -> None:
    """Emit a ``DramaflowWarning``; engines record these in the task report."""
    prefix = f"line {line}: " if line is not None else ""
    warnings.warn(DramaflowWarning(prefix + message), stacklevel=2)


class TaskStopped(DramaflowError):
    """A render was stopped from outside; its dataflow is gone and no output was kept."""


class TaskCancelled(TaskStopped):
    """The task was cancelled; its dataflow was stopped."""


class TaskTimedOut(TaskStopped):
    """The task ran past its time limit; its dataflow was stopped."""


class ServiceError(DramaflowError):
    """The control service refuses to go on (accounts, the database); not the script's fault."""


class InsufficientCredits(ServiceError):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"this task costs {needed} credits; {available} available "
                         "(balance minus unfinished tasks): ask for a grant (`dramaflow credits grant`)")
        self.needed, self.available = needed, available

    def __reduce__(self):
        return type(self), (self.needed, self.available)


class SchemaOutOfDate(ServiceError):
    """The database schema is not at this version's newest migration."""
