"""``dramaflow templates``: list, show, check and render the dataflow templates (templates/*.yml.j2)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from control_api.cli.common import VoiceOpt, _fail, _read_script, _setting_overrides, _voice_map, console, out
from nodes.common.errors import ConfigError, ScriptError

templates_app = typer.Typer(no_args_is_help=True, help="Dataflow templates (templates/*.yml.j2).")


@templates_app.command("list")
def templates_list() -> None:
    """List the templates."""
    from control_api.templates import TEMPLATES_DIR, template_names

    for name in template_names():
        out.print(f"{name}\t{TEMPLATES_DIR / (name + '.yml.j2')}", highlight=False)


@templates_app.command("show")
def templates_show(name: Annotated[str, typer.Argument(help="Template name.")]) -> None:
    """Print a template's source."""
    from control_api.templates import template_source

    try:
        out.print(template_source(name), markup=False, highlight=False, end="")
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None


@templates_app.command("check")
def templates_check() -> None:
    """Render every template with sample data, parse it, check its wiring and run `dora validate`."""
    from control_api.templates import check_all

    try:
        results = check_all()
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    for name, problems in results.items():
        console.print(f"{name}: {'ok' if not problems else 'FAILED'}", highlight=False)
        for problem in problems:
            console.print(f"  - {problem}", highlight=False)
    if any(results.values()):
        raise typer.Exit(1)


@templates_app.command("render")
def templates_render(
    name: Annotated[str, typer.Argument(help="Template name.")],
    script: Annotated[Path, typer.Option("--script", "-s", help="Script the dataflow renders.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="MP3 the dataflow writes (WAV etc. beside it).")],
    dataflow: Annotated[Path | None, typer.Option("--dataflow", "-d", help="Write the YAML here (default: stdout).")] = None,
    voice: VoiceOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed override.")] = None,
    setting: Annotated[list[str] | None, typer.Option("--set", help="GROUP.KEY=VALUE (repeatable).")] = None,
) -> None:
    """Render a template into a dataflow that `dora run` can start as is.

    Paths in the file are relative to the file's folder, and the node commands point at this
    environment's console scripts, so the file can be checked in and run on another machine after
    the README's set-up.
    """
    import json as _json

    from control_api.templates import TaskPaths, node_commands, render
    from nodes.common.voices import load_voices, providers_from_env
    from nodes.segmenter.core import parse_script

    folder = (dataflow.parent if dataflow else Path.cwd()).resolve()
    voices = _voice_map(voice)
    try:
        plan = parse_script(_read_script(script), load_voices(), voice_config=voices,
                            provider_available=providers_from_env(os.environ))
    except (ScriptError, ConfigError) as exc:
        raise _fail(f"{script}: {exc}", 2) from None
    rel = lambda p: os.path.relpath(Path(p).resolve(), folder)  # noqa: E731
    voice_config = None
    if voices:
        config_path = (dataflow or Path("dataflow.yml")).with_suffix(".voices.json")
        config_path.write_text(_json.dumps(voices, ensure_ascii=False), encoding="utf-8")
        voice_config = rel(config_path)
    task = TaskPaths(id=name, dir=rel(output.parent), script=rel(script),
                     output=rel(output), voice_config=voice_config, seed=seed)
    try:
        text = render(name, task, title=plan.title, options=_setting_overrides(setting),
                      voices={n: v.requested_voice or v.voice_id for n, v in plan.speakers},
                      nodes=node_commands(relative_to=folder))
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    if dataflow is None:
        out.print(text, markup=False, highlight=False, end="")
    else:
        dataflow.parent.mkdir(parents=True, exist_ok=True)
        dataflow.write_text(text, encoding="utf-8")
        console.print(f"wrote {dataflow}; run it with: dora run {dataflow}", highlight=False)
