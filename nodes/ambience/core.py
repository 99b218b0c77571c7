"""Ambience stage: render the scene beds and one-shots the timeline asks for.

Beds are rendered for exactly the span the layout gave them (cue start → next scene + crossfade);
one-shots for their own duration, which the layout learned beforehand from ``sfx_durations_s``.
Each cue gets its own seed (``| seed=N`` on the cue wins), so a bed does not change when another
cue is edited.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nodes.ambience.backends.base import AmbienceBackend, BackendUnavailable
from nodes.ambience.backends.registry import BACKENDS, backend_from_config, get_backend
from nodes.common.audio import seconds_to_samples
from nodes.common.chains import process_ambience, process_sfx
from nodes.common.errors import ConfigError, DramaflowWarning, collect_warnings, warn
from nodes.common.layout import LayoutConfig, layout
from nodes.common.types import Plan, Timeline

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class AmbienceConfig:
    """The ambience settings a template gives (group ``ambience``: backend, steps, guidance_scale,
    loop_crossfade_s, library). Where the model lives and which device it uses are the machine's:
    ``DRAMAFLOW_TANGOFLUX_DIR``, ``DRAMAFLOW_TANGOFLUX_DEVICE``, ``DRAMAFLOW_GPU_LOCK_TIMEOUT_S``."""

    ambience_backend: str = "procedural"
    ambience_steps: int = 25
    ambience_guidance_scale: float = 4.5
    ambience_loop_crossfade_s: float = 1.5
    ambience_library: str = ""

    def __post_init__(self) -> None:
        if self.ambience_backend not in BACKENDS:
            raise ConfigError(f"ambience backend must be one of {', '.join(BACKENDS)}, got {self.ambience_backend!r}")
        self.generation()  # validates steps, guidance scale and crossfade

    def generation(self) -> Any:
        from nodes.ambience.backends.tangoflux import GenerationSettings

        return GenerationSettings(self.ambience_steps, self.ambience_guidance_scale, self.ambience_loop_crossfade_s)


def make_backend(config: AmbienceConfig, env: Mapping[str, str] = os.environ, *, model_dir: str | None = None,
                 device: str | None = None, on_step: Callable[[str, int, int], None] | None = None) -> AmbienceBackend:
    """The configured backend; raises ``BackendUnavailable`` when its model or files are not on this machine.
    ``model_dir`` and ``device`` win over ``DRAMAFLOW_TANGOFLUX_DIR`` and ``DRAMAFLOW_TANGOFLUX_DEVICE``."""
    return backend_from_config(config, env, model_dir=model_dir, device=device, on_step=on_step)


def open_backend(config: AmbienceConfig, env: Mapping[str, str] = os.environ, *,
                 on_step: Callable[[str, int, int], None] | None = None) -> AmbienceBackend:
    """``make_backend`` for a render: when the model or files are not on this machine the render goes on
    with the procedural backend and a warning that says why; other setting errors raise."""
    try:
        return make_backend(config, env, on_step=on_step)
    except BackendUnavailable as exc:
        warn(f"ambience backend {config.ambience_backend} is not available, using procedural ambience: {exc}")
        return get_backend("procedural")


def close_backend(backend: AmbienceBackend) -> dict[str, Any]:
    """Free what ``backend`` holds (a model, a device lock); returns what it cost, for the report."""
    close = getattr(backend, "close", None)
    if close:
        close()
    return dict(getattr(backend, "stats", None) or {"backend": backend.name})


@dataclass(frozen=True)
class RenderedCue:
    index: int
    kind: str
    prompt: str
    audio: np.ndarray  # (samples, 2) float32 at the timeline rate
    matched: tuple[str, ...]
    fallback: bool


@dataclass(frozen=True)
class AmbienceResult:
    beds: dict[int, RenderedCue] = field(default_factory=dict)
    sfx: dict[int, RenderedCue] = field(default_factory=dict)


def cue_seed(seed: int, index: int, prompt: str, explicit: int | None = None) -> int:
    if explicit is not None:
        return int(explicit)
    digest = hashlib.sha256(f"{seed}\x1f{index}\x1f{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def sfx_durations_s(plan: Plan, backend: AmbienceBackend) -> dict[int, float]:
    """Length of every one-shot, keyed by cue index, known before anything is rendered."""
    return {c.index: backend.sfx_duration_s(c.prompt, c.duration_s) for c in plan.cues if c.kind == "sfx"}


def render_cues(
    plan: Plan,
    timeline: Timeline,
    backend: AmbienceBackend,
    *,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
) -> AmbienceResult:
    """Render every bed and one-shot of ``timeline``; warnings name the script line of the cue."""
    sr = timeline.sample_rate
    todo = [c for c in timeline.cues if c.kind in ("ambience", "sfx")]
    result = AmbienceResult()
    for done, placed in enumerate(todo, start=1):
        cue = plan.cues[placed.index]
        cue_rng_seed = cue_seed(seed, cue.index, cue.prompt, cue.param("seed"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DramaflowWarning)
            if placed.kind == "ambience":
                duration = seconds_to_samples(placed.end_s - placed.start_s, sr) / sr
                sound = backend.render_bed(cue.prompt, max(duration, 1.0 / sr), sr, cue_rng_seed)
            else:
                sound = backend.render_sfx(cue.prompt, sr, cue_rng_seed, cue.duration_s)
        for w in caught:  # re-emit with the script line so the report says where
            warnings.warn(DramaflowWarning(f"line {cue.line}: {w.message}"), stacklevel=2)
        rendered = RenderedCue(cue.index, placed.kind, cue.prompt, sound.audio, sound.matched, sound.fallback)
        (result.beds if placed.kind == "ambience" else result.sfx)[cue.index] = rendered
        if on_progress:
            on_progress(done, len(todo), f"{placed.kind}: {cue.prompt[:40]}")
    return result


@dataclass(frozen=True)
class SceneResult:
    """The ambience stage's output: the timeline and every bed and one-shot, EQ'd, by cue index."""

    timeline: Timeline
    beds: dict[int, np.ndarray]
    sfx: dict[int, np.ndarray]

    def clips(self) -> list[tuple[str, int, np.ndarray]]:
        """``(kind, cue index, audio)`` of every bed, then every one-shot, in cue order."""
        return [("ambience", i, a) for i, a in sorted(self.beds.items())] + \
               [("sfx", i, a) for i, a in sorted(self.sfx.items())]


def ambience_stage(
    plan: Plan,
    speech_frames: dict[int, int],
    sample_rate: int,
    backend: AmbienceBackend,
    layout_config: LayoutConfig,
    *,
    on_progress: ProgressFn | None = None,
) -> SceneResult:
    """Lay the timeline out from the real speech lengths, then render and EQ its beds and one-shots.

    ``speech_frames`` is the length in samples (at ``sample_rate``) of every segment, keyed by seq.
    Both engines call this, so the timeline and the cue audio are the same in both.
    """
    durations = {seq: frames / sample_rate for seq, frames in speech_frames.items()}
    timeline = layout(plan, durations, sfx_durations_s(plan, backend), layout_config)
    cues = render_cues(plan, timeline, backend, seed=layout_config.seed, on_progress=on_progress)
    return SceneResult(
        timeline=timeline,
        beds={i: process_ambience(c.audio, sample_rate) for i, c in cues.beds.items()},
        sfx={i: process_sfx(c.audio, sample_rate) for i, c in cues.sfx.items()},
    )


def render_scene(plan: Plan, speech_frames: dict[int, int], layout_config: LayoutConfig, config: AmbienceConfig,
                 env: Mapping[str, str] = os.environ, *, on_progress: ProgressFn | None = None,
                 on_step: Callable[[str, int, int], None] | None = None) -> tuple[SceneResult, dict[str, Any], list[str]]:
    """The stage as a node runs it: open the configured backend (procedural, with a warning, when it is
    not on this machine), lay out and render the scene, then free the backend (model and device lock)
    before anything is sent on. Returns the scene, what the backend cost, and the warnings raised."""
    with collect_warnings() as caught:
        backend = open_backend(config, env, on_step=on_step)
        try:
            scene = ambience_stage(plan, speech_frames, layout_config.sample_rate, backend, layout_config,
                                   on_progress=on_progress)
        finally:
            stats = close_backend(backend)
    return scene, stats, caught.messages
