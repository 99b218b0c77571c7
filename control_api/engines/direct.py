"""DirectEngine: the node cores in-process, in pipeline order, with no dora.

Same inputs and seed give the same samples as the dora path (the stages are the same functions).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from control_api.engines.base import ProgressCallback, ProgressEvent, RenderOptions, RenderReport
from control_api.templates import stage_settings
from nodes.ambience.core import ambience_stage, close_backend, open_backend
from nodes.common.errors import TaskCancelled, TaskTimedOut, collect_warnings
from nodes.common.planning import utterance_effects
from nodes.common.providers import REUSABLE_PROVIDERS
from nodes.common.reports import tts_summary
from nodes.common.voices import VoiceLibrary, load_voices, providers_from_env
from nodes.effects.core import process_dialogue
from nodes.mixer.core import master, mix_bus
from nodes.output.core import write_outputs
from nodes.segmenter.core import parse_script, plan_seed
from nodes.tts.backends.base import Speech, Synthesizer
from nodes.tts.core import (
    RetryBudget,
    RetryPolicy,
    clip_stats,
    close_synthesizers,
    load_synthesizers,
    providers_in,
    speech_cache,
    synthesize_all,
    tts_device,
    tts_device_lock,
)


class DirectEngine:
    name = "direct"

    def __init__(self, library: VoiceLibrary | None = None, *, template: str | None = "drama",
                 env: Mapping[str, str] | None = None) -> None:
        self.library = library or load_voices()
        self.template = template  # None: use RenderOptions as given, without a template
        self.env = dict(os.environ if env is None else env)  # MINIMAX_*, DRAMAFLOW_CACHE_DIR, …
        self._synthesizers: dict[str, Synthesizer] = {}

    async def _speak(self, plan, seed: int, sample_rate: int, retry: RetryPolicy, emit: ProgressCallback,
                     device: str = "cpu") -> list[Speech]:
        providers = providers_in(plan)
        kept = providers & REUSABLE_PROVIDERS if device == "cpu" else set()  # GPU voices never stay loaded
        self._synthesizers.update(load_synthesizers(kept - set(self._synthesizers)))
        fresh = load_synthesizers(providers - kept, env=self.env, sample_rate=sample_rate, device=device)
        budget = RetryBudget(retry)
        try:
            return await synthesize_all(
                plan, {**{p: self._synthesizers[p] for p in kept}, **fresh}, seed=seed, sample_rate=sample_rate,
                retry=retry, cache=speech_cache(self.env), budget=budget,
                on_progress=lambda d, t, m: emit(ProgressEvent("tts", d, t, m, retries=budget.retries)),
            )
        finally:
            await close_synthesizers(fresh)

    def close(self) -> None:
        for synth in self._synthesizers.values():
            close = getattr(synth, "close", None)
            if close:
                close()
        self._synthesizers.clear()

    def render(
        self, script: str, out_mp3: Path, options: RenderOptions, on_progress: ProgressCallback | None = None,
        *, task_id: str | None = None, task_dir: Path | None = None, template: str | None = None,
        timeout_s: float | None = None, cancel: threading.Event | None = None,
    ) -> RenderReport:
        """As ``Engine.render``; ``cancel`` and ``timeout_s`` stop the render at its next progress event
        (``TaskCancelled``, ``TaskTimedOut``); ``task_id`` and ``task_dir`` are the dora engine's (this one
        works in memory and writes beside ``out_mp3``)."""
        emit = _stoppable(on_progress or (lambda _event: None), cancel, timeout_s)
        settings = stage_settings(template or self.template, options.settings)
        seconds: dict[str, float] = {}
        with collect_warnings() as caught:
            with _stage("segmenter", seconds, emit):
                plan = parse_script(script, self.library, voice_config=options.voice_config,
                                    config=settings.segmenter, provider_available=providers_from_env(self.env))
            seed = plan_seed(plan, options.seed)
            with _stage("tts", seconds, emit, len(plan.segments)):
                device = tts_device(providers_in(plan), self.env)
                with tts_device_lock(device, self.env):  # voices loaded, used and freed inside
                    clips = asyncio.run(self._speak(plan, seed, settings.layout.sample_rate, settings.retry, emit,
                                                    device))
            tts = tts_summary(clip_stats(clip) for clip in clips)
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
                backend = open_backend(settings.ambience, self.env)
                try:
                    scene = ambience_stage(
                        plan, {c.seq: c.audio.shape[0] for c in clips}, sr, backend,
                        replace(settings.layout, seed=seed),
                        on_progress=lambda d, t, m: emit(ProgressEvent("ambience", d, t, m)),
                    )
                finally:
                    ambience = close_backend(backend)
                timeline = scene.timeline
            with _stage("mixer", seconds, emit):
                bus = mix_bus(timeline, dialogue, scene.beds, scene.sfx, settings.mix)
                del clips, dialogue, scene  # on the bus now
                mixed = master(bus, sr, settings.mix)  # in place: bus becomes the master
            with _stage("output", seconds, emit):
                written = write_outputs(
                    out_mp3, mixed.master, sr, timeline, title=plan.title,
                    max_true_peak_dbtp=settings.output.max_true_peak_dbtp, bitrate_kbps=settings.output.mp3_bitrate_kbps,
                    extra_report={"engine": self.name, "seed": seed, "lufs": mixed.lufs,
                                  "true_peak_dbtp": mixed.true_peak_dbtp,
                                  "warnings": [*plan.warnings, *caught.messages],
                                  "tts": tts, "ambience": ambience},
                )
        return RenderReport(
            title=plan.title, duration_s=written.duration_s, lufs=written.wav_lufs,
            true_peak_dbtp=written.wav_true_peak_dbtp, mp3_lufs=written.mp3_lufs,
            mp3_true_peak_dbtp=written.mp3_true_peak_dbtp, utterances=len(plan.utterances),
            segments=len(plan.segments), cues=len(plan.cues), seed=seed, engine=self.name,
            sample_rate=timeline.sample_rate,
            stage_seconds=seconds, warnings=[*plan.warnings, *caught.messages],
            files={k: str(v) for k, v in asdict(written.files).items()},
            tts_backends=dict(tts["backends"]), tts=tts, ambience=ambience,
        )


def _stoppable(emit: ProgressCallback, cancel: threading.Event | None, timeout_s: float | None) -> ProgressCallback:
    started = time.monotonic()

    def checked(event: ProgressEvent) -> None:
        if cancel is not None and cancel.is_set():
            raise TaskCancelled("task cancelled")
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise TaskTimedOut(f"task ran past its time limit of {timeout_s:g} s")
        emit(event)
    return checked


@contextmanager
def _stage(name: str, seconds: dict[str, float], emit: ProgressCallback, total: int = 1) -> Iterator[None]:
    emit(ProgressEvent(name, 0, total, "start"))
    start = time.perf_counter()
    yield
    seconds[name] = round(time.perf_counter() - start, 3)
    emit(ProgressEvent(name, total, total, "done"))

