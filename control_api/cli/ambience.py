"""``dramaflow ambience``: audition scene beds and one-shot effects, one WAV at a time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from control_api.cli.common import _ambience_line, _fail, console, escape, out
from nodes.common.errors import ConfigError, DramaflowError

ambience_app = typer.Typer(no_args_is_help=True, help="Audition scene beds and one-shot effects.")


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
    import soundfile as sf

    from nodes.common.files import atomic_write

    atomic_write(output, lambda f: sf.write(f, sound.audio, sample_rate, subtype="PCM_16", format="WAV"))
    level = max_momentary_lufs(sound.audio, sample_rate) if sfx else integrated_lufs(sound.audio, sample_rate)
    console.print(f"{output}: {len(sound.audio) / sample_rate:.2f} s, matched {', '.join(sound.matched) or '-'}, "
                  f"{level:.1f} LUFS{' (max momentary)' if sfx else ''}", highlight=False)
    if "generated" in stats:
        console.print(_ambience_line(stats), highlight=False)
    for w in caught:
        console.print(f"[yellow]warning:[/] {escape(str(w.message))}", highlight=False)


@ambience_app.command("list")
def ambience_list(
    backend: Annotated[str, typer.Option(help="procedural or library.")] = "procedural",
    library: Annotated[Path | None, typer.Option("--library", help="Folder with library.yaml (library backend).")] = None,
) -> None:
    """List the scenes and one-shots a backend knows, with their keywords (library: tags, file, licence)."""
    from nodes.ambience.backends.registry import get_backend

    try:
        impl = get_backend(backend, root=library) if backend == "library" else get_backend(backend)
    except DramaflowError as exc:
        raise _fail(str(exc), 2) from None
    described = impl.describe()
    for kind, names in described.items():
        out.print(f"[bold]{kind}[/]")
        for name in names:
            out.print(f"  {name}", highlight=False)
