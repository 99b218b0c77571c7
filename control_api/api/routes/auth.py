"""Sign-up and sign-in: ``POST /auth/register``, ``POST /auth/login`` (the OAuth2 password form), and
the studio's refresh cookie (``POST /auth/refresh``, ``POST /auth/logout``).

Failed sign-ins are counted in Redis per account and per client address over ``login_window_s``; past
``login_max_failures`` (per account) or ``login_max_failures_per_address`` the answer is 429 with
Retry-After until the window ends, whatever the password. A wrong password and an unknown user get the
same 401 after the same work (a dummy hash is checked for an unknown user).
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import Session

from control_api import accounts, security
from control_api.api.deps import API_PREFIX, SettingsDep
from control_api.api.models import Token, UserPublic, UserRegister
from control_api.api.problems import Problem
from control_api.db import User, engine_for, session_scope
from control_api.settings import ServiceSettings

router = APIRouter(prefix=API_PREFIX, tags=["auth"])
WRONG = "wrong username or password"
REFRESH_COOKIE = "dramaflow_refresh"
REFRESH_PATH = f"{API_PREFIX}/auth"


class LoginThrottle:
    """Counts failed sign-ins per account and per address in Redis."""

    def __init__(self, redis, settings: ServiceSettings, account: str, address: str) -> None:
        self.redis, self.settings = redis, settings
        self.keys = {f"dramaflow:login:account:{account}": settings.login_max_failures,
                     f"dramaflow:login:address:{address}": settings.login_max_failures_per_address}

    def wait_s(self) -> int:
        """Seconds until sign-in is allowed again (0: now)."""
        waits = [self.redis.ttl(key) for key, limit in self.keys.items() if int(self.redis.get(key) or 0) >= limit]
        return max([max(1, int(w)) for w in waits], default=0)

    def failed(self) -> None:
        with self.redis.pipeline() as pipe:
            for key in self.keys:  # the window starts at the first failure (INCR keeps the expiry)
                pipe.set(key, 0, ex=self.settings.login_window_s, nx=True)
                pipe.incr(key)
            pipe.execute()

    def succeeded(self) -> None:
        self.redis.delete(next(iter(self.keys)))


def throttle_for(request: Request, settings: ServiceSettings, login: str, user: User | None) -> LoginThrottle:
    account = f"id:{user.id}" if user is not None else f"name:{login.strip().lower()[:200]}"
    address = request.client.host if request.client else "unknown"
    return LoginThrottle(request.app.state.redis_sync, settings, account, address)


def too_many(wait_s: int) -> Problem:
    return Problem(429, "Too Many Requests", f"too many failed sign-ins; try again in {wait_s} s",
                   retry_after_s=wait_s)


@router.post("/auth/register", status_code=201, summary="Create an account", response_model=UserPublic)
def register(body: UserRegister, settings: SettingsDep) -> UserPublic:
    if not settings.registration_open:
        raise Problem(403, "Registration closed", "this service does not take new accounts; ask its operator")
    weak = security.password_problem(body.password, body.username, body.email,
                                     extra_list=settings.common_passwords_file)
    if weak:
        raise Problem(422, "Weak password", f"password: {weak}", errors=[{"loc": ["body", "password"], "msg": weak}])
    try:
        with session_scope(settings.database_url) as session:
            user = accounts.register(session, body.username, body.email, body.password, settings.welcome_credits)
    except accounts.AccountExists as exc:
        raise Problem(409, "Conflict", str(exc), field=exc.field) from None
    except sa.exc.IntegrityError:  # the same name or email registered at the same moment
        raise Problem(409, "Conflict", "that username or email is taken; choose another or sign in") from None
    return UserPublic.of(user)


@router.post("/auth/login", summary="Sign in: an access token for `Authorization: Bearer`", response_model=Token)
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, response: Response,
          settings: SettingsDep) -> Token:
    with Session(engine_for(settings.database_url), expire_on_commit=False) as session:
        user = accounts.by_login(session, form.username)
    throttle = throttle_for(request, settings, form.username, user)
    wait_s = throttle.wait_s()
    if wait_s:
        raise too_many(wait_s)
    if not security.verify_password(form.password, user.password_hash if user else None):
        throttle.failed()
        raise Problem(401, "Unauthorized", WRONG)
    if not accounts.can_sign_in(user):
        raise Problem(403, "Account banned", f"this account is banned: {user.status_reason}" if user.status_reason
                      else "this account is banned")
    throttle.succeeded()
    return signed_in(user, request, response, settings)


def signed_in(user: User, request: Request, response: Response, settings: ServiceSettings) -> Token:
    """An access token for ``user``, and a refresh token in an HttpOnly cookie (``SameSite=Strict``,
    sent only to /api/v1/auth): scripts of any origin cannot read it, other sites cannot send it."""
    refresh = security.issue_token(user.id, user.token_version, settings.token_secret,
                                   settings.refresh_token_expire_s, kind="refresh")
    response.set_cookie(REFRESH_COOKIE, refresh.token, max_age=refresh.expires_in, path=REFRESH_PATH,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    token = security.issue_token(user.id, user.token_version, settings.token_secret, settings.access_token_expire_s)
    return Token(access_token=token.token, expires_in=token.expires_in)


@router.post("/auth/refresh", summary="A new access token for the refresh cookie that sign-in set",
             response_model=Token)
def refresh(request: Request, response: Response, settings: SettingsDep) -> Token:
    cookie = request.cookies.get(REFRESH_COOKIE)
    with Session(engine_for(settings.database_url), expire_on_commit=False) as session:
        user = accounts.by_token(session, cookie, settings.token_secret, kind="refresh") if cookie else None
    if user is None or not accounts.can_sign_in(user):
        raise Problem(401, "Unauthorized", "not signed in, or the sign-in expired: sign in again")
    return signed_in(user, request, response, settings)


@router.post("/auth/logout", status_code=204, summary="Forget the refresh cookie")
def logout() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, samesite="strict")
    return response
