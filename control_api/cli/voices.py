"""``dramaflow voices``: the voice library (voices.yaml) and the paid provider's account."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.table import Table

from control_api.cli.common import _fail, console, escape, out
from nodes.common.errors import ConfigError, DramaflowError

voices_app = typer.Typer(no_args_is_help=True, help="The voice library (voices.yaml).")


@voices_app.command("list")
def voices_list(as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False) -> None:
    """List the voices of voices.yaml."""
    from nodes.common.voices import load_voices

    try:
        rows = load_voices().as_rows()
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table()
    for column in ("id", "name", "provider", "language", "category", "fallback", "aliases"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["id"], r["display_name"], r["provider"], r["language"], r["category"],
                      r["fallback"] or "", ", ".join(r["aliases"]))
    out.print(table)


@voices_app.command("sync")
def voices_sync(
    provider: Annotated[str, typer.Option(help="The paid provider to ask (minimax).")] = "minimax",
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """List the account's voices at PROVIDER and check voices.yaml against them.

    Needs MINIMAX_API_KEY (and MINIMAX_BASE_URL for a mainland key). Exit 1 when a voices.yaml entry names
    a voice the account does not have."""
    import asyncio

    from nodes.common.voices import load_voices
    from nodes.tts.backends.minimax import MiniMaxConfig, MiniMaxSynthesizer

    if provider != "minimax":
        raise _fail(f"--provider {provider!r}: only minimax has an account to sync with", 2)
    try:
        library = load_voices()
        config = MiniMaxConfig.from_env(os.environ)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    if config is None:
        raise _fail("MINIMAX_API_KEY is not set: export it (and MINIMAX_BASE_URL=https://api.minimaxi.com for a "
                    "mainland China key) to list the account's voices", 2)

    async def fetch() -> list[dict[str, str]]:
        backend = MiniMaxSynthesizer(config)
        try:
            return await backend.list_voices()
        finally:
            await backend.aclose()
    try:
        rows = asyncio.run(fetch())
    except DramaflowError as exc:
        raise _fail(str(exc), 1) from None
    mapped: dict[str, list[str]] = {}
    for voice_id, entry in library.entries.items():
        if entry.provider == provider and entry.provider_voice:
            mapped.setdefault(entry.provider_voice, []).append(voice_id)
    known = {r["voice_id"] for r in rows}
    missing = {pv: ids for pv, ids in mapped.items() if pv not in known}
    if as_json:
        out.print_json(json.dumps({"voices": [{**r, "voices_yaml": mapped.get(r["voice_id"], [])} for r in rows],
                                   "missing": missing}, ensure_ascii=False))
    else:
        table = Table(title=f"{provider} voices of this account ({config.base_url})", title_justify="left")
        for column in ("voice_id", "name", "kind", "voices.yaml"):
            table.add_column(column)
        for r in rows:
            table.add_row(r["voice_id"], r["voice_name"], r["kind"], ", ".join(mapped.get(r["voice_id"], [])))
        out.print(table)
        for pv, ids in sorted(missing.items()):
            console.print(f"[red]missing:[/] {escape(', '.join(ids))} use {provider} voice {escape(pv)!r}, which "
                          "this account does not have: change provider_voice in voices.yaml", highlight=False)
    if missing:
        raise typer.Exit(1)
