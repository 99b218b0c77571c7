"""Stored scripts: create, list, read, replace, delete (kept while tasks refer to them), and the check an
editor runs as you type."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import select

from control_api import crud
from control_api.api.deps import API_PREFIX, CurrentUser, SessionDep, SettingsDep, own_script
from control_api.api.models import (
    ScriptCheck,
    ScriptCheckRequest,
    ScriptCreate,
    ScriptList,
    ScriptPublic,
    ScriptUpdate,
)
from control_api.api.problems import Problem
from control_api.db import Script, session_scope
from control_api.service import check_script
from control_api.settings import ServiceSettings

router = APIRouter(prefix=API_PREFIX, tags=["scripts"])


async def estimates(request: Request, settings: ServiceSettings, content: str) -> tuple[int | None, float | None]:
    """Characters of speech and estimated seconds of a stored script (None while it does not parse)."""
    found = await request.app.state.offload.run(check_script, settings, content, "podcast", {})
    return (None, None) if found["errors"] else (found["counts"]["chars"], found["estimated_duration_s"])


@router.post("/scripts", status_code=201, summary="Store a script", response_model=ScriptPublic)
async def create_script(body: ScriptCreate, request: Request, user: CurrentUser, settings: SettingsDep) -> ScriptPublic:
    chars, duration_s = await estimates(request, settings, body.content)

    def store() -> Script:
        with session_scope(settings.database_url) as session:
            return crud.create_script(session, user.id, body.title, body.content, chars, duration_s)

    return ScriptPublic.of(await run_in_threadpool(store))


@router.post("/scripts/check", summary="Check a script as you write it: speakers, counts, errors by line",
             response_model=ScriptCheck)
async def check(body: ScriptCheckRequest, request: Request, _user: CurrentUser, settings: SettingsDep) -> ScriptCheck:
    # parsing takes CPU: in a helper process, as submissions are
    found = await request.app.state.offload.run(check_script, settings, body.content, body.template, body.voice_config)
    return ScriptCheck.model_validate(found)


@router.get("/scripts", summary="Your scripts", response_model=ScriptList)
def list_scripts(user: CurrentUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                 offset: Annotated[int, Query(ge=0)] = 0) -> ScriptList:
    rows = session.exec(select(Script).where(Script.user_id == user.id).order_by(Script.created_at.desc())
                        .offset(offset).limit(limit)).all()
    return ScriptList(items=[ScriptPublic.of(s) for s in rows], limit=limit, offset=offset)


@router.get("/scripts/{script_id}", response_model=ScriptPublic)
def get_script(script_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> ScriptPublic:
    return ScriptPublic.of(own_script(session, user, script_id))


@router.put("/scripts/{script_id}", response_model=ScriptPublic)
async def update_script(script_id: uuid.UUID, body: ScriptUpdate, request: Request, user: CurrentUser,
                        settings: SettingsDep) -> ScriptPublic:
    chars, duration_s = await estimates(request, settings, body.content)

    def store() -> Script:
        with session_scope(settings.database_url) as session:
            return crud.update_script(session, own_script(session, user, script_id), body.title, body.content,
                                      chars, duration_s)

    return ScriptPublic.of(await run_in_threadpool(store))


@router.delete("/scripts/{script_id}", status_code=204)
def delete_script(script_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    if not crud.delete_script(session, own_script(session, user, script_id)):
        raise Problem(409, "Conflict", "tasks refer to this script; it is kept for their records")
    session.commit()
    return Response(status_code=204)
