"""What every engine takes and gives back, so business code does not care which one runs.

An engine turns a script into the output files of ``nodes.output.core.output_paths`` and a report.
It reports progress as ``ProgressEvent``s, one ordered stream per render.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nodes.mixer.core import MixConfig
from nodes.mixer.layout import LayoutConfig
from nodes.segmenter.core import SegmenterConfig

STAGES: tuple[str, ...] = ("segmenter", "tts", "effects", "ambience", "mixer", "output")


@dataclass(frozen=True)
class ProgressEvent:
    """(stage, done, total, message). ``done == total`` closes a stage."""

    stage: str
    done: int
    total: int
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class RenderOptions:
    voice_config: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None  # None: the script's front matter seed, else 0
    ambience_backend: str = "procedural"
    layout: LayoutConfig = field(default_factory=LayoutConfig)
    mix: MixConfig = field(default_factory=MixConfig)
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    mp3_bitrate_kbps: int = 256
    max_true_peak_dbtp: float = -1.0


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
    stage_seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    tts_backends: dict[str, int] = field(default_factory=dict)  # backend → segments it spoke

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Engine(Protocol):
    name: str

    def render(
        self, script: str, out_mp3: Path, options: RenderOptions, on_progress: ProgressCallback | None = None
    ) -> RenderReport:
        """Render ``script`` to ``out_mp3`` and its companions, or raise without leaving outputs."""
        ...
