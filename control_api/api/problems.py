"""Errors as application/problem+json (RFC 9457): the ``Problem`` exception and the handlers that turn
it, and the errors of the framework, the scripts and the stores, into problem responses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import redis as redis_sync
import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from nodes.common.errors import ConfigError, InsufficientCredits, ScriptError

PROBLEM = "application/problem+json"


class Problem(HTTPException):
    """A problem response; ``retry_after_s`` (for 429) becomes the Retry-After header and a field."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(status_code=status, detail=detail)
        self.title, self.extra = title, extra


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            **{k: v for k, v in extra.items() if v is not None}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "5"}
    if extra.get("retry_after_s") is not None:
        headers = {"Retry-After": str(extra["retry_after_s"])}
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

    @app.exception_handler(InsufficientCredits)
    async def _credits(_request: Request, exc: InsufficientCredits) -> JSONResponse:
        return problem(402, "Insufficient credits", str(exc), needed=exc.needed, available=exc.available)

    @app.exception_handler(sa.exc.TimeoutError)
    @app.exception_handler(sa.exc.OperationalError)
    @app.exception_handler(redis_sync.RedisError)
    async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
        # the database or Redis is away or every connection is busy: nothing was changed, try again
        return problem(503, "Service Unavailable", "the service is busy or restarting; try again in a few seconds")


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
