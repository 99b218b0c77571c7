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
from collections.abc import Callable, Iterator, Mapping
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
    result = AmbienceResult()
    for rendered in each_cue(plan, timeline, backend, seed=seed, on_progress=on_progress):
        (result.beds if rendered.kind == "ambience" else result.sfx)[rendered.index] = rendered
    return result


def each_cue(plan: Plan, timeline: Timeline, backend: AmbienceBackend, *, seed: int = 0,
             on_progress: ProgressFn | None = None) -> Iterator[RenderedCue]:
    """``render_cues`` one cue at a time, in timeline order."""
    sr = timeline.sample_rate
    todo = [c for c in timeline.cues if c.kind in ("ambience", "sfx")]
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
        yield RenderedCue(cue.index, placed.kind, cue.prompt, sound.audio, sound.matched, sound.fallback)
        if on_progress:
            on_progress(done, len(todo), f"{placed.kind}: {cue.prompt[:40]}")


def _equalized(cue: RenderedCue, sample_rate: int) -> np.ndarray:
    return (process_ambience if cue.kind == "ambience" else process_sfx)(cue.audio, sample_rate)


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
    Both engines lay out and render this way, so the timeline and the cue audio are the same in both.
    """
    timeline = _layout(plan, speech_frames, sample_rate, backend, layout_config)
    cues = render_cues(plan, timeline, backend, seed=layout_config.seed, on_progress=on_progress)
    return SceneResult(
        timeline=timeline,
        beds={i: _equalized(c, sample_rate) for i, c in cues.beds.items()},
        sfx={i: _equalized(c, sample_rate) for i, c in cues.sfx.items()},
    )


def _layout(plan: Plan, speech_frames: dict[int, int], sample_rate: int, backend: AmbienceBackend,
            layout_config: LayoutConfig) -> Timeline:
    durations = {seq: frames / sample_rate for seq, frames in speech_frames.items()}
    return layout(plan, durations, sfx_durations_s(plan, backend), layout_config)


class SceneRender:
    """The stage as a node runs it. Opening it opens the configured backend (procedural, with a warning,
    when it is not on this machine) and lays out the ``timeline``; ``clips()`` then renders and EQs each
    bed and one-shot, in timeline order. A backend that holds something to free (a model, a device lock)
    renders every clip first and is freed before the first is handed over; the others hand each clip
    over as soon as it is rendered, so a long programme's beds are never all held at once. ``notes``
    collects the warnings raised; after ``clips()``, ``stats`` says what the backend cost."""

    def __init__(self, plan: Plan, speech_frames: dict[int, int], layout_config: LayoutConfig,
                 config: AmbienceConfig, env: Mapping[str, str] = os.environ, *,
                 on_progress: ProgressFn | None = None, on_step: Callable[[str, int, int], None] | None = None):
        self.plan, self.layout_config, self.on_progress = plan, layout_config, on_progress
        self.stats: dict[str, Any] = {}
        with collect_warnings() as caught:
            self.backend: AmbienceBackend | None = open_backend(config, env, on_step=on_step)
            try:
                self.timeline = _layout(plan, speech_frames, layout_config.sample_rate, self.backend, layout_config)
            except BaseException:
                self.close()
                raise
        self.notes = list(caught.messages)

    def clips(self) -> Iterator[tuple[str, int, np.ndarray]]:
        """``(kind, cue index, audio)`` of every bed and one-shot, as ``ambience_stage`` makes them."""
        caught = None
        try:
            with collect_warnings() as caught:
                cues = each_cue(self.plan, self.timeline, self.backend, seed=self.layout_config.seed,
                                on_progress=self.on_progress)
                if hasattr(self.backend, "close"):
                    cues = iter(list(cues))
                    self.close()
                for cue in cues:
                    yield cue.kind, cue.index, _equalized(cue, self.layout_config.sample_rate)
        finally:
            self.close()
            self.notes += caught.messages if caught else []

    def close(self) -> None:
        if self.backend is not None:
            self.stats, self.backend = close_backend(self.backend), None
