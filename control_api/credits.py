"""Credits: the balance, what unfinished tasks hold, and the append-only ledger.

A submission is accepted only if the balance covers it together with the user's unfinished tasks
(checked under a row lock, so concurrent submissions cannot overcommit); a completed task is charged
exactly once (row lock + a unique ledger index on the task id), a failed or cancelled one never. The
``credit_balance >= 0`` check constraint is the last line of defence. Every change of a balance is a
ledger row with the balance after it.

Types: ``purchase`` (bought; counts into ``total_credit_purchased``), ``grant`` (given by an operator,
or welcome credits; may be negative to correct a mistake), ``refund`` (given back), ``audio_generation``
(a completed task) and ``script_generation`` (the AI writer).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from control_api.db import CreditTransaction, CreditType, Task, TaskStatus, User
from nodes.common.errors import InsufficientCredits

OPERATOR_TYPES = (CreditType.purchase, CreditType.grant, CreditType.refund)


class BalanceTooLow(ValueError):
    """Taking credits back would leave a negative balance."""


def lock_user(session: Session, user_id: int) -> User:
    return session.exec(select(User).where(User.id == user_id).with_for_update()).one()


def add(session: Session, user: User, amount: int, type_: str, description: str = "",
        reference_id: str | None = None) -> CreditTransaction:
    """Change the balance of ``user`` (locked here) by ``amount`` with its ledger row; ``BalanceTooLow``
    when the balance would go below zero."""
    user = lock_user(session, user.id)
    if user.credit_balance + amount < 0:
        raise BalanceTooLow(f"{user.username} has {user.credit_balance} credits; cannot take {-amount}")
    user.credit_balance += amount
    if type_ == CreditType.purchase:
        user.total_credit_purchased += amount
    row = CreditTransaction(user_id=user.id, amount=amount, balance_after=user.credit_balance, type=str(type_),
                            reference_id=reference_id, description=description[:300])
    session.add_all([user, row])
    session.flush()
    return row


def grant(session: Session, username: str, amount: int, note: str = "", type_: str = CreditType.grant) -> int:
    """``dramaflow credits grant``: add ``amount`` (negative to take back) to ``username``; the new balance."""
    user = session.exec(select(User).where(sa.func.lower(User.username) == username.lower())).first()
    if user is None:
        raise ValueError(f"no user named {username!r}")
    add(session, user, amount, type_, note)
    return lock_user(session, user.id).credit_balance


def reserved(session: Session, user_id: int) -> int:
    """Credits held by the user's tasks that may still be charged."""
    total = session.exec(select(sa.func.coalesce(sa.func.sum(Task.credit_cost), 0)).where(
        Task.user_id == user_id, Task.status.in_([TaskStatus.queued, TaskStatus.running]))).one()
    return int(total)


def check_balance(session: Session, user_id: int, cost: int) -> None:
    """Under the user's row lock (held until commit): raise ``InsufficientCredits`` when short."""
    user = lock_user(session, user_id)
    available = user.credit_balance - reserved(session, user_id)
    if available < cost:
        raise InsufficientCredits(cost, available)


def charge_once(session: Session, task: Task) -> bool:
    """Charge ``task.credit_cost`` to its owner unless already charged. Returns whether it charged."""
    user = lock_user(session, task.user_id)
    done = session.exec(select(CreditTransaction.id).where(
        CreditTransaction.type == CreditType.audio_generation, CreditTransaction.reference_id == str(task.id))).first()
    if done is not None:
        return False
    add(session, user, -task.credit_cost, CreditType.audio_generation, task.title or "render",
        reference_id=str(task.id))
    return True


def ledger(session: Session, user_id: int, limit: int, offset: int) -> tuple[list[CreditTransaction], int]:
    """The user's ledger rows, newest first, and how many there are."""
    where = CreditTransaction.user_id == user_id
    total = session.exec(select(sa.func.count()).select_from(CreditTransaction).where(where)).one()
    rows = session.exec(select(CreditTransaction).where(where).order_by(CreditTransaction.id.desc())
                        .offset(offset).limit(limit)).all()
    return list(rows), int(total)
