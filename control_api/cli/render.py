"""``dramaflow render`` and ``dramaflow check``: a script to audio on this machine, or only its parse.

Top-level commands: ``control_api.cli`` registers these functions on the root app.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from control_api.cli.common import (
    VoiceOpt,
    _ambience_line,
    _Bars,
    _fail,
    _progress,
    _read_script,
    _setting_overrides,
    _voice_map,
    console,
    escape,
    out,
    user_errors,
)
from nodes.common.errors import ConfigError


def render(
    script: Annotated[Path, typer.Argument(help="Markdown script to render.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="OUT.mp3; OUT.wav, OUT.timeline.json, OUT.srt, OUT.vtt go beside it.")],
    voice: VoiceOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed for gaps, ambience and neural TTS noise (default: front matter seed, else 0).")] = None,
    engine: Annotated[str, typer.Option(help="dora (a dataflow per render) or direct (in-process).")] = "dora",
    template: Annotated[str, typer.Option("--template", "-t", help="Dataflow template: drama or podcast.")] = "drama",
    setting: Annotated[list[str] | None, typer.Option("--set", help="Override a template setting: GROUP.KEY=VALUE, e.g. mix.duck_db=10 (repeatable).")] = None,
    task_dir: Annotated[Path | None, typer.Option("--task-dir", help="dora engine: keep the dataflow, progress and node logs in this folder.")] = None,
    report_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Render SCRIPT to a mastered MP3 (and WAV, timeline, subtitles)."""
    from control_api.engines.base import RenderOptions

    if output.suffix.lower() != ".mp3":
        raise _fail(f"--output {output}: give a path ending in .mp3 (the WAV and the rest are written beside it)", 2)
    text = _read_script(script)
    options = RenderOptions(voice_config=_voice_map(voice), seed=seed, settings=_setting_overrides(setting))
    failed = True
    try:
        with user_errors(script):
            engine_impl = _engine(engine, template, task_dir)
            with _progress(transient=report_json) as progress:
                report = engine_impl.render(text, output, options, on_progress=_Bars(progress))
        failed = False
    finally:
        impl = locals().get("engine_impl")
        if isinstance(impl, _TaskDirEngine):
            impl.close(keep_files=failed)
        elif impl is not None:
            impl.close()
    if report_json:
        out.print_json(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report)


def _engine(name: str, template: str, task_dir: Path | None):
    from control_api.templates import template_names

    if template not in template_names():
        raise ConfigError(f"unknown template {template!r}; available: {', '.join(template_names())}")
    if name == "direct":
        from control_api.engines.direct import DirectEngine

        return DirectEngine(template=template)
    if name == "dora":
        from control_api.engines.dora import DoraEngine

        return _TaskDirEngine(DoraEngine(template=template), task_dir)
    raise ConfigError(f"unknown engine {name!r}; available: dora, direct")


class _TaskDirEngine:
    """Passes the CLI's --task-dir to the dora engine."""

    def __init__(self, engine: Any, task_dir: Path | None) -> None:
        self.engine, self.task_dir = engine, task_dir

    def render(self, *args: Any, **kwargs: Any) -> Any:
        return self.engine.render(*args, task_dir=self.task_dir, **kwargs)

    def close(self, *, keep_files: bool = False) -> None:
        self.engine.close(keep_files=keep_files or self.task_dir is not None)
        if keep_files and self.engine.last_task_dir is not None:
            console.print(f"task folder (dataflow, progress, node logs): {self.engine.last_task_dir}", highlight=False)


def _print_report(report: Any) -> None:
    table = Table(title=f"{report.title}", show_header=False, title_justify="left")
    table.add_row("duration", f"{report.duration_s:.1f} s")
    table.add_row("loudness", f"WAV {report.lufs:.2f} LUFS, MP3 {report.mp3_lufs:.2f} LUFS")
    table.add_row("true peak", f"WAV {report.true_peak_dbtp:.2f} dBTP, MP3 {report.mp3_true_peak_dbtp:.2f} dBTP")
    table.add_row("content", f"{report.utterances} utterances, {report.segments} segments, {report.cues} cues")
    tts = report.tts
    paid = (f"; API: {tts['requests']} requests ({tts.get('retries', 0)} retries of transient errors), "
            f"{tts['cache_hits']} cached, {tts['cache_misses']} synthesized, {tts['usage_characters']} characters "
            "billed") if tts.get("requests") or tts.get("cache_hits") else ""
    table.add_row("tts", ", ".join(f"{k}: {v}" for k, v in report.tts_backends.items()) + paid)
    table.add_row("ambience", _ambience_line(report.ambience))
    table.add_row("stages", ", ".join(f"{k} {v:.2f} s" for k, v in report.stage_seconds.items()))
    table.add_row("seed", str(report.seed))
    for key in ("mp3", "wav", "timeline", "srt", "vtt"):
        table.add_row(key, report.files[key])
    console.print(table)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def check(
    script: Annotated[Path, typer.Argument(help="Markdown script to check.")],
    voice: VoiceOpt = None,
) -> None:
    """Parse SCRIPT and show who says what, without rendering anything."""
    from nodes.common.voices import load_voices, providers_from_env
    from nodes.segmenter.core import parse_script

    with user_errors(script):
        plan = parse_script(_read_script(script), load_voices(), voice_config=_voice_map(voice),
                            provider_available=providers_from_env(os.environ))
    table = Table(title=f"{plan.title} ({plan.language})", title_justify="left")
    for column in ("speaker", "voice", "provider", "lines", "characters"):
        table.add_column(column)
    for name, settings in plan.speakers:
        said = [u for u in plan.utterances if u.speaker == name]
        table.add_row(name, settings.voice_id, settings.provider, str(len(said)), str(sum(len(u.text) for u in said)))
    console.print(table)
    console.print(f"{len(plan.utterances)} utterances, {len(plan.segments)} segments, {len(plan.cues)} cues, "
                  f"{len(plan.chapters)} chapters")
    for note in plan.warnings:
        console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False)
