"""Liveness, readiness and Prometheus metrics (no authentication)."""

from __future__ import annotations

import asyncio
import subprocess

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from control_api.api.deps import SettingsDep
from control_api.api.models import Health, Readiness
from control_api.db import require_current_schema
from control_api.templates import dora_binary

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", summary="Redis, PostgreSQL (schema current) and dora are usable", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Not ready: `checks` says what is not"}})
async def readyz(request: Request, settings: SettingsDep) -> JSONResponse:
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
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics_endpoint() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _dora_check() -> str:
    try:
        proc = subprocess.run([dora_binary(), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"error: {exc}"
    return "ok" if proc.returncode == 0 else f"error: {proc.stderr.strip()}"
