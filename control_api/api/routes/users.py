"""Your account: ``/users/me`` (read, change email, password, keep_audio) and your API keys."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from control_api import accounts, security
from control_api.api.deps import API_PREFIX, CurrentUser, SessionDep, SettingsDep
from control_api.api.models import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, UserPublic, UserUpdate
from control_api.api.problems import Problem, not_found
from control_api.api.routes.auth import throttle_for, too_many
from control_api.db import User, utcnow

router = APIRouter(prefix=API_PREFIX, tags=["users"])


@router.get("/users/me", summary="Your account and balance", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.of(user)


@router.patch("/users/me", summary="Change your email, password or keep_audio", response_model=UserPublic)
def update_me(body: UserUpdate, request: Request, user: CurrentUser, session: SessionDep,
              settings: SettingsDep) -> UserPublic:
    user = session.get(User, user.id)
    if body.password is not None:
        if user.password_hash:  # an account made with keys only sets its first password without one
            throttle = throttle_for(request, settings, user.username, user)
            wait_s = throttle.wait_s()
            if wait_s:
                raise too_many(wait_s)
            if not security.verify_password(body.current_password or "", user.password_hash):
                throttle.failed()
                raise Problem(403, "Forbidden", "current_password is missing or wrong; send your current password "
                              "with the new one")
        weak = security.password_problem(body.password, user.username, body.email or user.email,
                                         extra_list=settings.common_passwords_file)
        if weak:
            raise Problem(422, "Weak password", f"password: {weak}")
        accounts.set_password(session, user, body.password)  # tokens issued before stop working
    if body.email is not None and body.email.lower() != (user.email or ""):
        if accounts.taken(session, None, body.email) == "email":
            raise Problem(409, "Conflict", "that email belongs to another account", field="email")
        user.email = body.email.lower()
    if body.keep_audio is not None:
        user.keep_audio = body.keep_audio
    user.updated_at = utcnow()
    session.add(user)
    session.commit()
    return UserPublic.of(user)


@router.post("/users/me/api-keys", status_code=201, summary="A new API key (shown once)",
             response_model=ApiKeyCreated)
def create_key(body: ApiKeyCreate, user: CurrentUser, session: SessionDep) -> ApiKeyCreated:
    try:
        row, key = accounts.create_key(session, user.id, body.name)
    except accounts.TooManyKeys as exc:
        raise Problem(409, "Conflict", str(exc)) from None
    session.commit()
    return ApiKeyCreated.of(row, key=key)


@router.get("/users/me/api-keys", summary="Your API keys (never the keys themselves)",
            response_model=list[ApiKeyPublic])
def list_keys(user: CurrentUser, session: SessionDep) -> list[ApiKeyPublic]:
    return [ApiKeyPublic.of(row) for row in accounts.keys_of(session, user.id)]


@router.delete("/users/me/api-keys/{key_id}", status_code=204, summary="Revoke a key at once")
def revoke_key(key_id: int, user: CurrentUser, session: SessionDep) -> Response:
    if not accounts.revoke_key(session, user.id, key_id):
        raise not_found("API key")
    session.commit()
    return Response(status_code=204)
