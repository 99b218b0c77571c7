"""Your credits: the balance, what unfinished tasks hold, and the ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from control_api import credits
from control_api.api.deps import API_PREFIX, CurrentUser, SessionDep
from control_api.api.models import CreditsPublic, TransactionList, TransactionPublic
from control_api.db import User

router = APIRouter(prefix=API_PREFIX, tags=["credits"])


@router.get("/credits", summary="Balance, reserved and available credits", response_model=CreditsPublic)
def balance(user: CurrentUser, session: SessionDep) -> CreditsPublic:
    row = session.get(User, user.id)
    held = credits.reserved(session, user.id)
    return CreditsPublic(balance=row.credit_balance, reserved=held, available=row.credit_balance - held,
                         total_purchased=row.total_credit_purchased)


@router.get("/credits/transactions", summary="Your ledger, newest first", response_model=TransactionList)
def transactions(user: CurrentUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                 offset: Annotated[int, Query(ge=0)] = 0) -> TransactionList:
    rows, total = credits.ledger(session, user.id, limit, offset)
    return TransactionList(items=[TransactionPublic.of(r) for r in rows], total=total, limit=limit, offset=offset)
