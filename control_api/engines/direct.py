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
from nodes.ambience.backends.base import get_backend
from nodes.ambience.core import render_cues, sfx_durations_s
from nodes.common.errors import DramaflowWarning
from nodes.common.voices import VoiceLibrary, load_voices
from nodes.effects.core import process_ambience, process_dialogue, process_sfx
from nodes.effects.stage import utterance_effects
from nodes.mixer.core import mix
from nodes.mixer.layout import LayoutConfig, layout
from nodes.output.core import write_outputs
from nodes.segmenter.core import parse_script
from nodes.tts.core import load_synthesizers, providers_in, synthesize_all


class DirectEngine:
    name = "direct"

    def __init__(self, library: VoiceLibrary | None = None) -> None:
        self.library = library or load_voices()
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
        seconds: dict[str, float] = {}
        with _collect_warnings() as caught:
            with _stage("segmenter", seconds, emit):
                plan = parse_script(script, self.library, voice_config=options.voice_config,
                                    config=options.segmenter)
            seed = options.seed if options.seed is not None else int(dict(plan.front_matter).get("seed", 0))
            with _stage("tts", seconds, emit, len(plan.segments)):
                synths = self._synths(providers_in(plan))
                clips = asyncio.run(synthesize_all(
                    plan, synths, seed=seed, sample_rate=options.layout.sample_rate,
                    on_progress=lambda d, t, m: emit(ProgressEvent("tts", d, t, m)),
                ))
            sr = options.layout.sample_rate
            with _stage("effects", seconds, emit, len(clips)):
                effects = utterance_effects(plan)
                voices = {u.index: u.voice for u in plan.utterances}
                dialogue: dict[int, np.ndarray] = {}
                for done, clip in enumerate(clips, start=1):
                    voice = voices[clip.utterance]
                    dialogue[clip.seq] = process_dialogue(clip.audio, sr, effect=effects[clip.utterance], pan=voice.pan)
                    emit(ProgressEvent("effects", done, len(clips), f"seq {clip.seq}"))
            with _stage("ambience", seconds, emit):
                backend = get_backend(options.ambience_backend)
                timeline = layout(
                    plan, {c.seq: c.duration_s for c in clips}, sfx_durations_s(plan, backend),
                    _with_seed(options.layout, seed),
                )
                cues = render_cues(plan, timeline, backend, seed=seed,
                                   on_progress=lambda d, t, m: emit(ProgressEvent("ambience", d, t, m)))
                beds = {i: process_ambience(c.audio, sr) for i, c in cues.beds.items()}
                sfx = {i: process_sfx(c.audio, sr) for i, c in cues.sfx.items()}
            with _stage("mixer", seconds, emit):
                mixed = mix(timeline, dialogue, beds, sfx, options.mix)
            with _stage("output", seconds, emit):
                written = write_outputs(
                    out_mp3, mixed.master, sr, timeline, title=plan.title,
                    max_true_peak_dbtp=options.max_true_peak_dbtp, bitrate_kbps=options.mp3_bitrate_kbps,
                    extra_report={"engine": self.name, "seed": seed, "lufs": mixed.lufs,
                                  "true_peak_dbtp": mixed.true_peak_dbtp,
                                  "warnings": [*plan.warnings, *_messages(caught)]},
                )
        backends: dict[str, int] = {}
        for clip in clips:
            backends[clip.backend] = backends.get(clip.backend, 0) + 1
        return RenderReport(
            title=plan.title, duration_s=written.duration_s, lufs=written.wav_lufs,
            true_peak_dbtp=written.wav_true_peak_dbtp, mp3_lufs=written.mp3_lufs,
            mp3_true_peak_dbtp=written.mp3_true_peak_dbtp, utterances=len(plan.utterances),
            segments=len(plan.segments), cues=len(plan.cues), seed=seed, engine=self.name,
            stage_seconds=seconds, warnings=[*plan.warnings, *_messages(caught)],
            files={k: str(v) for k, v in asdict(written.files).items()},
            tts_backends=backends,
        )


def _with_seed(config: LayoutConfig, seed: int) -> LayoutConfig:
    return replace(config, seed=seed)


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
