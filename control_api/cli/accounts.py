"""``dramaflow users`` and ``dramaflow credits``: accounts, API keys and the credit ledger."""

from __future__ import annotations

from typing import Annotated

import typer

from control_api.cli.common import _fail, _schema_ok, _service_settings, console, out

users_app = typer.Typer(no_args_is_help=True, help="Users and their API keys.")
credits_app = typer.Typer(no_args_is_help=True, help="Credit balances (an append-only ledger).")


@users_app.command("create")
def users_create(name: Annotated[str, typer.Argument(help="A unique user name.")],
                 admin: Annotated[bool, typer.Option("--admin", help="An administrator (role admin).")] = False,
                 email: Annotated[str | None, typer.Option(help="Their email (they may then sign in with it).")] = None,
                 ) -> None:
    """Create a user; its API key is printed on the last line (shown only once). The user sets a
    password with the key (PATCH /api/v1/users/me) to sign in to the studio."""
    from control_api.accounts import create_user
    from control_api.db import UserRole, session_scope

    settings = _service_settings()
    _schema_ok(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            user, key = create_user(session, name, email=email, role=UserRole.admin if admin else UserRole.user)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    console.print(f"created {'administrator' if admin else 'user'} {user.username} (id {user.id}); "
                  "the key is not stored, keep it now:")
    out.print(key, highlight=False, soft_wrap=True)


@users_app.command("set-status")
def users_set_status(name: str, status: Annotated[str, typer.Argument(help="active, suspended or banned.")],
                     reason: Annotated[str, typer.Option(help="Shown to the user.")] = "") -> None:
    """Suspend (reads, cannot submit), ban (nothing) or reactivate NAME."""
    import sqlalchemy as sa
    from sqlmodel import select

    from control_api.accounts import set_status
    from control_api.db import User, UserStatus, session_scope

    if status not in UserStatus.__members__:
        raise _fail(f"status {status!r}: choose active, suspended or banned", 2)
    settings = _service_settings()
    _schema_ok(settings.database_url)
    with session_scope(settings.database_url) as session:
        user = session.exec(select(User).where(sa.func.lower(User.username) == name.lower())).first()
        if user is None:
            raise _fail(f"no user named {name!r}", 2)
        set_status(session, user, UserStatus(status), reason or None)
    out.print(f"{name}: {status}")


@credits_app.command("grant")
def credits_grant(name: str, amount: int, note: Annotated[str, typer.Option(help="Why.")] = "",
                  type_: Annotated[str, typer.Option("--type", help="grant, purchase or refund.")] = "grant") -> None:
    """Add AMOUNT credits to NAME (negative to take back, as a grant); prints the new balance."""
    from control_api.credits import OPERATOR_TYPES, grant
    from control_api.db import session_scope

    if type_ not in OPERATOR_TYPES or (amount <= 0 and type_ != "grant"):
        raise _fail(f"--type {type_}: choose grant, purchase or refund (only a grant may be negative)", 2)
    settings = _service_settings()
    _schema_ok(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            balance = grant(session, name, amount, note, type_)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    out.print(f"{name}: {balance} credits")
