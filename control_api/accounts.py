"""Users, API keys and credits.

API keys are 256-bit random tokens; only their SHA-256 is stored (a slow hash adds nothing for keys
this long). Credits: a submission is accepted only if the balance covers it together with the user's
unfinished tasks (checked under a row lock, so concurrent submissions cannot overcommit), a completed
task is charged exactly once (row lock + a unique ledger index on the task id), a failed or cancelled
one never. The ``credits >= 0`` check constraint is the last line of defence.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlmodel import Session, select

from control_api.db import CreditTransaction, Task, TaskStatus, User
from nodes.common.errors import InsufficientCredits

KEY_PREFIX = "dfk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_user(session: Session, name: str) -> tuple[User, str]:
    """A new user and its API key (shown once, stored hashed)."""
    if session.exec(select(User).where(User.name == name)).first():
        raise ValueError(f"a user named {name!r} exists already")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    user = User(name=name, api_key_hash=hash_key(key), api_key_prefix=key[:10])
    session.add(user)
    session.flush()
    return user, key


def authenticate(session: Session, key: str) -> User | None:
    if not key.startswith(KEY_PREFIX):
        return None
    user = session.exec(select(User).where(User.api_key_hash == hash_key(key))).first()
    return user if user is not None and user.is_active else None


def lock_user(session: Session, user_id: int) -> User:
    return session.exec(select(User).where(User.id == user_id).with_for_update()).one()


def grant(session: Session, name: str, amount: int, note: str = "") -> int:
    """Add ``amount`` credits (may be negative, not below zero); returns the new balance."""
    user = session.exec(select(User).where(User.name == name).with_for_update()).first()
    if user is None:
        raise ValueError(f"no user named {name!r}")
    if user.credits + amount < 0:
        raise ValueError(f"{name} has {user.credits} credits; cannot take {-amount}")
    user.credits += amount
    session.add(CreditTransaction(user_id=user.id, amount=amount, balance_after=user.credits, type="grant",
                                  note=note))
    session.add(user)
    return user.credits


def reserved(session: Session, user_id: int) -> int:
    """Credits held by the user's tasks that may still be charged."""
    total = session.exec(select(sa.func.coalesce(sa.func.sum(Task.credit_cost), 0)).where(
        Task.user_id == user_id, Task.status.in_([TaskStatus.queued, TaskStatus.running]))).one()
    return int(total)


def check_balance(session: Session, user_id: int, cost: int) -> None:
    """Under the user's row lock (held until commit): raise ``InsufficientCredits`` when short."""
    user = lock_user(session, user_id)
    available = user.credits - reserved(session, user_id)
    if available < cost:
        raise InsufficientCredits(cost, available)


def charge_once(session: Session, task: Task) -> bool:
    """Charge ``task.credit_cost`` to its owner unless already charged. Returns whether it charged."""
    user = lock_user(session, task.user_id)
    done = session.exec(select(CreditTransaction).where(
        CreditTransaction.type == "charge", CreditTransaction.reference_id == str(task.id))).first()
    if done is not None:
        return False
    user.credits -= task.credit_cost
    session.add(CreditTransaction(user_id=user.id, amount=-task.credit_cost, balance_after=user.credits,
                                  type="charge", reference_id=str(task.id), note=task.title[:300]))
    session.add(user)
    return True
