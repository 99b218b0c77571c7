"""What a route depends on: the settings, a database session, the authenticated user, and the lookups
that answer 404 for what is not the user's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlmodel import Session

from control_api import accounts, crud
from control_api.api.problems import Problem, not_found
from control_api.db import Script, Task, engine_for
from control_api.settings import ServiceSettings

API_PREFIX = "/api/v1"  # of every route but the operational ones (health, metrics)


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
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


CurrentUser = Annotated[accounts.User, Depends(current_user)]
SessionDep = Annotated[Session, Depends(get_db, scope="function")]  # closed when the handler returns, before sending
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]


def own_task(session: Session, user: accounts.User, task_id: uuid.UUID) -> Task:
    task = crud.owned_task(session, user.id, task_id)
    if task is None:
        raise not_found()
    return task


def own_script(session: Session, user: accounts.User, script_id: uuid.UUID) -> Script:
    script = crud.owned_script(session, user.id, script_id)
    if script is None:
        raise not_found("script")
    return script
