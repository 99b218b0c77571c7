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
from control_api.db import Script, Task, User, UserRole, UserStatus, engine_for
from control_api.settings import ServiceSettings

API_PREFIX = "/api/v1"  # of every route but the operational ones (health, metrics)


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with Session(engine_for(request.app.state.settings.database_url), expire_on_commit=False) as session:
        yield session


def current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> User:
    """The user of an access token or an API key (``Authorization: Bearer …``); 401 without one, 403
    for a banned account."""
    # its own short session, closed before the handler runs: one connection per request at a time, and
    # none held while a response streams
    settings = request.app.state.settings
    scheme, _, credential = (authorization or "").partition(" ")
    credential, user = credential.strip(), None
    if scheme.lower() == "bearer" and credential:
        with Session(engine_for(settings.database_url), expire_on_commit=False) as session:
            if credential.startswith(accounts.KEY_PREFIX):
                user = accounts.by_key(session, credential)
            else:
                user = accounts.by_token(session, credential, settings.token_secret)
    if user is None:
        raise Problem(401, "Unauthorized", "send `Authorization: Bearer <token>` with an access token from "
                      "POST /api/v1/auth/login (it expires: sign in again) or an API key")
    if user.status == UserStatus.banned:
        raise Problem(403, "Account banned", _because("this account is banned", user))
    request.state.user_id = user.id
    return user


def active_user(user: Annotated[User, Depends(current_user)]) -> User:
    """A user who may submit work: 403 with the reason for a suspended account (which still reads)."""
    if user.status == UserStatus.suspended:
        raise Problem(403, "Account suspended", _because("this account is suspended", user) +
                      "; you can still read your scripts, tasks and audio, but not submit new work")
    return user


def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role != UserRole.admin:
        raise Problem(403, "Forbidden", "this needs an administrator account")
    return user


def _because(what: str, user: User) -> str:
    return f"{what}: {user.status_reason}" if user.status_reason else what


CurrentUser = Annotated[User, Depends(current_user)]
ActiveUser = Annotated[User, Depends(active_user)]
AdminUser = Annotated[User, Depends(admin_user)]
SessionDep = Annotated[Session, Depends(get_db, scope="function")]  # closed when the handler returns, before sending
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]


def own_task(session: Session, user: User, task_id: uuid.UUID) -> Task:
    task = crud.owned_task(session, user.id, task_id)
    if task is None:
        raise not_found()
    return task


def own_script(session: Session, user: User, script_id: uuid.UUID) -> Script:
    script = crud.owned_script(session, user.id, script_id)
    if script is None:
        raise not_found("script")
    return script
