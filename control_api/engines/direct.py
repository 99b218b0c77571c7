"""DirectEngine: the node cores in-process, in pipeline order, with no dora.

Same inputs and seed give the same samples as the dora path (the stages are the same functions).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from control_api.engines.base import ProgressCallback, ProgressEvent, RenderOptions, RenderReport
from control_api.templates import stage_settings
from nodes.ambience.backends.base import get_backend
from nodes.ambience.core import ambience_stage
from nodes.common.errors import DramaflowWarning
from nodes.common.voices import VoiceLibrary, load_voices
from nodes.effects.core import process_dialogue
from nodes.effects.stage import utterance_effects
from nodes.mixer.core import mix
from nodes.output.core import write_outputs
from nodes.segmenter.core import parse_script, plan_seed
from nodes.tts.core import load_synthesizers, providers_in, synthesize_all


class DirectEngine:
    name = "direct"

    def __init__(self, library: VoiceLibrary | None = None, *, template: str | None = "drama") -> None:
        self.library = library or load_voices()
        self.template = template  # None: use RenderOptions as given, without a template
        self._synthesizers: dict = {}

    def _synths(self, providers: set[str]) -> dict:
        missing = providers - set(self._synthesizers)
        self._synthesizers.update(load_synthesizers(missing))
        return {p: self._synthesizers[p] for p in providers}

    def close(self) -> None:
        for synth in self._synthesizers.values():
            close = getattr(synth, "close", None)
            if close:
                close()
        self._synthesizers.clear()

    def render(
        self, script: str, out_mp3: Path, options: RenderOptions, on_progress: ProgressCallback | None = None
    ) -> RenderReport:
        emit = on_progress or (lambda _event: None)
        settings = stage_settings(self.template, options.settings)
        seconds: dict[str, float] = {}
        with _collect_warnings() as caught:
            with _stage("segmenter", seconds, emit):
                plan = parse_script(script, self.library, voice_config=options.voice_config,
                                    config=settings.segmenter)
            seed = plan_seed(plan, options.seed)
            with _stage("tts", seconds, emit, len(plan.segments)):
                synths = self._synths(providers_in(plan))
                clips = asyncio.run(synthesize_all(
                    plan, synths, seed=seed, sample_rate=settings.layout.sample_rate, retry=settings.retry,
                    on_progress=lambda d, t, m: emit(ProgressEvent("tts", d, t, m)),
                ))
            sr = settings.layout.sample_rate
            with _stage("effects", seconds, emit, len(clips)):
                effects = utterance_effects(plan)
                voices = {u.index: u.voice for u in plan.utterances}
                dialogue: dict[int, np.ndarray] = {}
                for done, clip in enumerate(clips, start=1):
                    voice = voices[clip.utterance]
                    dialogue[clip.seq] = process_dialogue(clip.audio, sr, effect=effects[clip.utterance], pan=voice.pan)
                    emit(ProgressEvent("effects", done, len(clips), f"seq {clip.seq}"))
            with _stage("ambience", seconds, emit):
                scene = ambience_stage(
                    plan, {c.seq: c.audio.shape[0] for c in clips}, sr, get_backend(settings.ambience_backend),
                    replace(settings.layout, seed=seed),
                    on_progress=lambda d, t, m: emit(ProgressEvent("ambience", d, t, m)),
                )
                timeline = scene.timeline
            with _stage("mixer", seconds, emit):
                mixed = mix(timeline, dialogue, scene.beds, scene.sfx, settings.mix)
            with _stage("output", seconds, emit):
                written = write_outputs(
                    out_mp3, mixed.master, sr, timeline, title=plan.title,
                    max_true_peak_dbtp=settings.output.max_true_peak_dbtp, bitrate_kbps=settings.output.mp3_bitrate_kbps,
                    extra_report={"engine": self.name, "seed": seed, "lufs": mixed.lufs,
                                  "true_peak_dbtp": mixed.true_peak_dbtp,
                                  "warnings": [*plan.warnings, *_messages(caught)],
                                  "tts_backends": _backend_counts(clips)},
                )
        return RenderReport(
            title=plan.title, duration_s=written.duration_s, lufs=written.wav_lufs,
            true_peak_dbtp=written.wav_true_peak_dbtp, mp3_lufs=written.mp3_lufs,
            mp3_true_peak_dbtp=written.mp3_true_peak_dbtp, utterances=len(plan.utterances),
            segments=len(plan.segments), cues=len(plan.cues), seed=seed, engine=self.name,
            stage_seconds=seconds, warnings=[*plan.warnings, *_messages(caught)],
            files={k: str(v) for k, v in asdict(written.files).items()},
            tts_backends=_backend_counts(clips),
        )


def _backend_counts(clips) -> dict[str, int]:
    counts: dict[str, int] = {}
    for clip in clips:
        counts[clip.backend] = counts.get(clip.backend, 0) + 1
    return counts


@contextmanager
def _stage(name: str, seconds: dict[str, float], emit: ProgressCallback, total: int = 1) -> Iterator[None]:
    emit(ProgressEvent(name, 0, total, "start"))
    start = time.perf_counter()
    yield
    seconds[name] = round(time.perf_counter() - start, 3)
    emit(ProgressEvent(name, total, total, "done"))


@contextmanager
def _collect_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record ``DramaflowWarning``s raised during a render (read them with ``_messages``).

    Other warnings keep their filters (tests turn them into errors) and are re-shown afterwards.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DramaflowWarning)
        yield caught
    for w in caught:
        if not issubclass(w.category, DramaflowWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, DramaflowWarning)]
