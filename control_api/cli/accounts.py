"""``dramaflow users`` and ``dramaflow credits``: accounts, API keys and the credit ledger."""

from __future__ import annotations

from typing import Annotated

import typer

from control_api.cli.common import _fail, _schema_ok, _service_settings, console, out

users_app = typer.Typer(no_args_is_help=True, help="Users and their API keys.")
credits_app = typer.Typer(no_args_is_help=True, help="Credit balances (an append-only ledger).")


@users_app.command("create")
def users_create(name: Annotated[str, typer.Argument(help="A unique user name.")]) -> None:
    """Create a user; its API key is printed on the last line (shown only once)."""
    from control_api.accounts import create_user
    from control_api.db import session_scope

    settings = _service_settings()
    _schema_ok(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            user, key = create_user(session, name)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    console.print(f"created user {user.name} (id {user.id}); the key is not stored, keep it now:")
    out.print(key, highlight=False, soft_wrap=True)


@credits_app.command("grant")
def credits_grant(name: str, amount: int, note: Annotated[str, typer.Option(help="Why.")] = "") -> None:
    """Add AMOUNT credits to NAME (negative to take back); prints the new balance."""
    from control_api.accounts import grant
    from control_api.db import session_scope

    settings = _service_settings()
    _schema_ok(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            balance = grant(session, name, amount, note)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    out.print(f"{name}: {balance} credits")
