"""Operators (role ``admin``): list users, add credits, set a user's status or role."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query
from sqlmodel import select

from control_api import accounts, credits
from control_api.api.deps import API_PREFIX, AdminUser, SessionDep
from control_api.api.models import AdminUserUpdate, CreditAdjust, TransactionPublic, UserList, UserPublic
from control_api.api.problems import Problem, not_found
from control_api.db import User, UserStatus, utcnow

router = APIRouter(prefix=f"{API_PREFIX}/admin", tags=["admin"])


def _user(session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise not_found("user")
    return user


@router.get("/users", summary="Users, newest first; `q` matches username or email", response_model=UserList)
def list_users(_admin: AdminUser, session: SessionDep, q: Annotated[str | None, Query(max_length=100)] = None,
               status: Annotated[UserStatus | None, Query()] = None,
               limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0) -> UserList:
    query = select(User)
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(sa.func.lower(User.username).like(pattern, escape="\\"),
                                   sa.func.lower(User.email).like(pattern, escape="\\")))
    if status:
        query = query.where(User.status == status)
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(User.id.desc()).offset(offset).limit(limit)).all()
    return UserList(items=[UserPublic.of(u) for u in rows], total=total, limit=limit, offset=offset)


@router.get("/users/{user_id}", response_model=UserPublic)
def get_user(user_id: int, _admin: AdminUser, session: SessionDep) -> UserPublic:
    return UserPublic.of(_user(session, user_id))


@router.patch("/users/{user_id}", summary="Set status (active, suspended, banned) or role", response_model=UserPublic)
def update_user(user_id: int, body: AdminUserUpdate, admin: AdminUser, session: SessionDep) -> UserPublic:
    user = _user(session, user_id)
    if user.id == admin.id and (body.status not in (None, UserStatus.active) or body.role not in (None, "admin")):
        raise Problem(409, "Conflict", "you cannot suspend, ban or demote yourself; ask another administrator")
    if body.status is not None:
        accounts.set_status(session, user, body.status, body.reason if body.status != UserStatus.active else None)
    if body.role is not None:
        user.role, user.updated_at = body.role, utcnow()
        session.add(user)
    session.commit()
    return UserPublic.of(user)


@router.post("/users/{user_id}/credits", status_code=201, summary="Add credits (purchase, grant, refund)",
             response_model=TransactionPublic)
def add_credits(user_id: int, body: CreditAdjust, _admin: AdminUser, session: SessionDep) -> TransactionPublic:
    user = _user(session, user_id)
    try:
        row = credits.add(session, user, body.amount, body.type, body.description)
    except credits.BalanceTooLow as exc:
        raise Problem(409, "Conflict", str(exc)) from None
    session.commit()
    return TransactionPublic.of(row)
