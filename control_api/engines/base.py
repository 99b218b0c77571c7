"""What every engine takes and gives back, so business code does not care which one runs.

An engine turns a script into the output files of ``nodes.output.core.output_paths`` and a report.
It reports progress as ``ProgressEvent``s, one ordered stream per render.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nodes.ambience.core import AmbienceConfig
from nodes.common import contract as C
from nodes.common.audio import MIX_SAMPLE_RATE
from nodes.common.layout import LayoutConfig
from nodes.mixer.core import MixConfig
from nodes.output.core import OutputSettings
from nodes.segmenter.core import SegmenterConfig
from nodes.tts.core import RetryPolicy

STAGES = C.STAGES


@dataclass(frozen=True)
class ProgressEvent:
    """(stage, done, total, message). ``done == total`` closes a stage. ``retries``: transient errors the
    stage has retried so far."""

    stage: str
    done: int
    total: int
    message: str = ""
    retries: int = 0


ProgressCallback = Callable[[ProgressEvent], None]


SETTING_GROUPS = C.SETTING_GROUPS


@dataclass(frozen=True)
class RenderOptions:
    """What a caller asks for. ``settings`` overrides the template's defaults per group, e.g.
    ``{"mix": {"duck_db": 10}, "layout": {"speaker_gap_s": "0.2,0.6"}}``."""

    voice_config: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None  # None: the script's front matter seed, else 0
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class StageSettings:
    """The settings every stage runs with, as a template resolves them."""

    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    layout: LayoutConfig = field(default_factory=LayoutConfig)
    mix: MixConfig = field(default_factory=MixConfig)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ambience: AmbienceConfig = field(default_factory=AmbienceConfig)
    output: OutputSettings = field(default_factory=OutputSettings)


@dataclass
class RenderReport:
    title: str
    duration_s: float
    lufs: float
    true_peak_dbtp: float
    mp3_lufs: float
    mp3_true_peak_dbtp: float
    utterances: int
    segments: int
    cues: int
    seed: int
    engine: str
    sample_rate: int = MIX_SAMPLE_RATE  # of the WAV (the mix rate, layout.sample_rate)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    tts_backends: dict[str, int] = field(default_factory=dict)  # backend → segments it spoke
    # API requests (retries included), cache_hits / cache_misses, usage_characters (billed): tts_summary
    tts: dict[str, Any] = field(default_factory=dict)
    # backend, generated / cache_hits (TangoFlux clips), lock_wait_s, load_s, generate_s, device: close_backend
    ambience: dict[str, Any] = field(default_factory=dict)
    # dora only: per node process, the CPU its start-up and imports took, its CPU in all (with its helper
    # processes) and its peak resident memory (``stats/<node>.json``, written as each node exits)
    node_stats: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Engine(Protocol):
    name: str

    def render(
        self, script: str, out_mp3: Path, options: RenderOptions, on_progress: ProgressCallback | None = None,
        *, task_id: str | None = None, task_dir: Path | None = None, template: str | None = None,
        timeout_s: float | None = None, cancel: threading.Event | None = None,
    ) -> RenderReport:
        """Render ``script`` to ``out_mp3`` and its companions, or raise without leaving outputs.
        ``template`` overrides the engine's; ``cancel`` (set by another thread) and ``timeout_s`` stop the
        render with ``TaskCancelled`` / ``TaskTimedOut``; ``task_id`` and ``task_dir`` name and place
        the render's scratch files (the dora engine's dataflow)."""
        ...

    def close(self) -> None:
        """Free what the engine holds between renders (loaded voices, the dora daemon)."""
        ...
