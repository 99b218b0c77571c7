"""The ``dramaflow`` command line.

Exit codes: 0 success; 2 the script or the options are wrong (the message names the line and the fix);
1 anything else failed (a backend, the disk). On failure no output file is left behind.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from nodes.common.errors import ConfigError, DramaflowError, ScriptError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Scripts to finished, mastered audio.")
voices_app = typer.Typer(no_args_is_help=True, help="The voice library (voices.yaml).")
ambience_app = typer.Typer(no_args_is_help=True, help="Audition scene beds and one-shot effects.")
templates_app = typer.Typer(no_args_is_help=True, help="Dataflow templates (templates/*.yml.j2).")
app.add_typer(templates_app, name="templates")
app.add_typer(voices_app, name="voices")
app.add_typer(ambience_app, name="ambience")

console = Console(stderr=True)
out = Console()

VoiceOpt = Annotated[
    list[str] | None,
    typer.Option("--voice", "-v", help="Map a speaker to a voice: Name=voice-id (repeatable)."),
]


def _fail(message: str, code: int) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # messages quote [cues]
    return typer.Exit(code)


def _voice_map(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, voice = pair.partition("=")
        if not sep or not name.strip() or not voice.strip():
            raise _fail(f"--voice {pair!r}: write it as Name=voice-id, e.g. --voice 'Mara=en-joe'", 2)
        mapping[name.strip()] = voice.strip()
    return mapping


def _read_script(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(f"{path}: no such file", 2) from None
    except UnicodeDecodeError as exc:
        raise _fail(f"{path}: not UTF-8 text (byte {exc.start}); save the script as UTF-8", 2) from None


class _Bars:
    """One progress bar per stage, fed by ``ProgressEvent``s."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: Any) -> None:
        task = self.tasks.get(event.stage)
        if task is None:
            task = self.tasks[event.stage] = self.progress.add_task(event.stage, total=max(event.total, 1))
        total = max(event.total, int(self.progress.tasks[task].total or 1))
        done = total if event.message == "done" else event.done
        self.progress.update(task, total=total, completed=done)


@app.command()
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
    options = RenderOptions(voice_config=_voice_map(voice), seed=seed, settings=_settings(setting))
    failed = True
    try:
        engine_impl = _engine(engine, template, task_dir)
        with Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=report_json) as progress:
            report = engine_impl.render(text, output, options, on_progress=_Bars(progress))
        failed = False
    except ScriptError as exc:
        raise _fail(f"{script}: {exc}", 2) from None
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    except DramaflowError as exc:
        raise _fail(str(exc), 1) from None
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


def _settings(pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    import yaml

    settings: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        group, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise _fail(f"--set {pair!r}: write it as GROUP.KEY=VALUE, e.g. --set mix.duck_db=10", 2)
        settings.setdefault(group, {})[name] = yaml.safe_load(raw) if raw.strip() else raw
    return settings


def _ambience_line(stats: dict[str, Any]) -> str:
    """``procedural``, or what a model backend cost: clips generated and cached, load, wait, memory."""
    line = str(stats.get("backend", "?"))
    if "generated" in stats:
        line += (f" on {stats['device']}: {stats['generated']} generated ({stats['generate_s']:.1f} s, model load "
                 f"{stats['load_s']:.1f} s, lock wait {stats['lock_wait_s']:.1f} s), {stats['cache_hits']} from cache")
        if stats.get("peak_gpu_memory_mib"):
            line += f", peak GPU memory {stats['peak_gpu_memory_mib']} MiB"
    return line


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


@app.command()
def check(
    script: Annotated[Path, typer.Argument(help="Markdown script to check.")],
    voice: VoiceOpt = None,
) -> None:
    """Parse SCRIPT and show who says what, without rendering anything."""
    from nodes.common.voices import load_voices, providers_from_env
    from nodes.segmenter.core import parse_script

    try:
        plan = parse_script(_read_script(script), load_voices(), voice_config=_voice_map(voice),
                            provider_available=providers_from_env(os.environ))
    except ScriptError as exc:
        raise _fail(f"{script}: {exc}", 2) from None
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
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


@ambience_app.command("generate")
def ambience_generate(
    prompt: Annotated[str, typer.Argument(help="What it should sound like, e.g. 'rain on a tin roof'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="WAV file to write.")],
    duration: Annotated[float | None, typer.Option("--duration", help="Seconds (bed default 10; one-shot: its natural length).")] = None,
    seed: Annotated[int, typer.Option(help="Seed; same seed, same sound.")] = 0,
    backend: Annotated[str, typer.Option(help="procedural, tangoflux or library.")] = "procedural",
    sfx: Annotated[bool, typer.Option("--sfx", help="Render a one-shot effect instead of a scene bed.")] = False,
    sample_rate: Annotated[int, typer.Option(help="Sample rate in Hz.")] = 44100,
    model_dir: Annotated[Path | None, typer.Option("--model-dir", help="TangoFlux model folder (default: $DRAMAFLOW_TANGOFLUX_DIR, then the offline Hugging Face cache).")] = None,
    steps: Annotated[int, typer.Option(help="TangoFlux sampling steps (25 fast, 50 best).")] = 25,
    guidance_scale: Annotated[float, typer.Option(help="TangoFlux guidance scale (> 1).")] = 4.5,
    device: Annotated[str, typer.Option(help="TangoFlux device: auto, cpu, cuda or cuda:N (default: $DRAMAFLOW_TANGOFLUX_DEVICE, else auto).")] = "",
    library: Annotated[Path | None, typer.Option("--library", help="Folder with library.yaml (library backend).")] = None,
) -> None:
    """Render one scene bed (or, with --sfx, one effect) to a WAV file to listen to.

    Beds from TangoFlux are looped from one ~30 s generation, exactly as renders use them; one-shots
    are generated for their duration (1–30 s). Generated clips are cached (DRAMAFLOW_CACHE_DIR)."""
    import warnings

    from nodes.ambience.core import AmbienceConfig, close_backend, make_backend
    from nodes.common.audio import integrated_lufs, max_momentary_lufs
    from nodes.common.errors import DramaflowWarning

    if duration is not None and not 0.05 <= duration <= 600:
        raise _fail("--duration must be between 0.05 and 600 seconds", 2)
    try:
        config = AmbienceConfig(ambience_backend=backend, ambience_steps=steps, ambience_guidance_scale=guidance_scale,
                                ambience_library=str(library or os.environ.get("DRAMAFLOW_AMBIENCE_LIBRARY") or ""))
        if backend == "tangoflux" and sfx and duration is not None:
            from nodes.ambience.backends.tangoflux import check_duration

            check_duration(duration)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DramaflowWarning)
            impl = make_backend(config, os.environ, model_dir=str(model_dir) if model_dir else None,
                                device=device or None)
            try:
                if sfx:
                    sound = impl.render_sfx(prompt, sample_rate, seed, duration)
                else:
                    sound = impl.render_bed(prompt, duration or 10.0, sample_rate, seed)
            finally:
                stats = close_backend(impl)
    except DramaflowError as exc:
        raise _fail(str(exc), 2 if isinstance(exc, ConfigError) else 1) from None
    _write_wav_atomically(output, sound.audio, sample_rate)
    level = max_momentary_lufs(sound.audio, sample_rate) if sfx else integrated_lufs(sound.audio, sample_rate)
    console.print(f"{output}: {len(sound.audio) / sample_rate:.2f} s, matched {', '.join(sound.matched) or '-'}, "
                  f"{level:.1f} LUFS{' (max momentary)' if sfx else ''}", highlight=False)
    if "generated" in stats:
        console.print(_ambience_line(stats), highlight=False)
    for w in caught:
        console.print(f"[yellow]warning:[/] {escape(str(w.message))}", highlight=False)


def _write_wav_atomically(path: Path, audio: Any, sample_rate: int) -> None:

    import tempfile

    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@ambience_app.command("list")
def ambience_list(
    backend: Annotated[str, typer.Option(help="procedural or library.")] = "procedural",
    library: Annotated[Path | None, typer.Option("--library", help="Folder with library.yaml (library backend).")] = None,
) -> None:
    """List the scenes and one-shots a backend knows, with their keywords (library: tags, file, licence)."""
    from nodes.ambience.backends.base import get_backend

    try:
        impl = get_backend(backend, root=library) if backend == "library" else get_backend(backend)
    except DramaflowError as exc:
        raise _fail(str(exc), 2) from None
    described = impl.describe()
    for kind, names in described.items():
        out.print(f"[bold]{kind}[/]")
        for name in names:
            out.print(f"  {name}", highlight=False)


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
        text = render(name, task, title=plan.title, options=_settings(setting),
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


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

from control_api import cli_service  # noqa: E402,F401 - registers the service commands on `app`
