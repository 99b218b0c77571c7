"""TTS stage: segments in → speech at the mix rate out, in ``seq`` order, every segment or an error.

Pure of dora: the node and the DirectEngine both call ``synthesize_all``. Several requests may be in
flight per backend (``Synthesizer.max_in_flight``); results are reassembled by ``seq``. Transient
backend errors are retried with jittered exponential backoff; permanent ones fail at once with the
script line. A segment is never skipped: the stage returns all of them or raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import importlib
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nodes.common import contract as C
from nodes.common.audio import MIX_SAMPLE_RATE, as_2d, db_to_gain, resample
from nodes.common.diskcache import cache_dir_from_env, cache_enabled
from nodes.common.errors import (
    ConfigError,
    PermanentBackendError,
    TransientBackendError,
    collect_warnings,
    warn,
)
from nodes.common.gpulock import gpu_lock, timeout_from_env
from nodes.common.planning import SynthesisRequest, requests_for
from nodes.common.providers import GPU_PROVIDERS, LOCAL_PROVIDERS, PROVIDERS
from nodes.common.settings import check_ranges
from nodes.common.types import Plan
from nodes.tts.backends.base import Cacheable, Speech, Synthesizer
from nodes.tts.cache import SpeechCache
from nodes.tts.voiceconv import world_convert

TRIM_THRESHOLD_DBFS = -50.0
TRIM_KEEP_S = 0.03  # keep a little air around the words so onsets are not clipped
EDGE_FADE_S = 0.004  # a trimmed clip may start or end off zero: fade so it cannot click



RETRY_RANGES = {"line_deadline_s": (0.0, 3600.0), "task_budget_s": (0.0, 86400.0), "max_delay_s": (0.0, 600.0)}


@dataclass(frozen=True)
class RetryPolicy:
    """How transient backend errors are retried: on a budget of time, not of tries.

    Retry *n* waits a uniformly random time in ``[0, min(max_delay_s, base_delay_s × 2ⁿ⁻¹)]`` (exponential
    backoff with full jitter), or longer when the provider says so (Retry-After). A line gives up when
    ``line_deadline_s`` have passed since its first attempt; a task gives up when its lines together
    have waited ``task_budget_s`` for retries (a provider that is down fails the task in bounded time
    instead of every line waiting out its own deadline). Permanent errors are never retried.
    """

    line_deadline_s: float = 240.0
    task_budget_s: float = 900.0
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def __post_init__(self) -> None:
        if min(self.line_deadline_s, self.task_budget_s, self.base_delay_s) <= 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("line_deadline_s, task_budget_s and base_delay_s must be > 0, "
                             "max_delay_s >= base_delay_s")
        check_ranges(self, RETRY_RANGES)

    def delay_s(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (1-based): full jitter under an exponential cap."""
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2.0 ** min(retry - 1, 60)))


class RetryBudget:
    """One task's retries: how many, and the seconds its lines have waited for them (``task_budget_s``).
    ``clock`` and ``sleep`` are the time the deadlines are measured in (tests pass a simulated one)."""

    def __init__(self, policy: RetryPolicy, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.policy, self.clock, self.sleep = policy, clock, sleep
        self.retries = 0
        self.waited_s = 0.0

    @property
    def left_s(self) -> float:
        return self.policy.task_budget_s - self.waited_s


ProgressFn = Callable[[int, int, str], None]  # (done, total, message)
RetryFn = Callable[[SynthesisRequest, int, float, TransientBackendError], None]  # (request, retry no., wait s, error)


async def synthesize_all(
    plan: Plan,
    synthesizers: Mapping[str, Synthesizer],
    *,
    seed: int = 0,
    sample_rate: int = MIX_SAMPLE_RATE,
    retry: RetryPolicy = RetryPolicy(),
    on_progress: ProgressFn | None = None,
    cache: SpeechCache | None = None,
    budget: RetryBudget | None = None,
) -> list[Speech]:
    """Synthesize every segment of ``plan``; the result is ordered by ``seq`` and complete. Retries are
    reported through ``on_progress`` (done unchanged) and counted in ``budget``."""
    done = 0

    def progress(clip: Speech, request: SynthesisRequest) -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress(done, len(plan.segments), f"seq {clip.seq}: {request.text[:40]}")

    def retried(request: SynthesisRequest, attempt: int, wait_s: float, exc: TransientBackendError) -> None:
        if on_progress:
            on_progress(done, len(plan.segments), retry_message(request, attempt, wait_s, exc))

    return await synthesize_requests(requests_for(plan, seed), synthesizers, sample_rate=sample_rate,
                                     retry=retry, on_clip=progress, cache=cache, budget=budget, on_retry=retried)


async def synthesize_requests(
    requests: list[SynthesisRequest],
    synthesizers: Mapping[str, Synthesizer],
    *,
    sample_rate: int = MIX_SAMPLE_RATE,
    retry: RetryPolicy = RetryPolicy(),
    on_clip: Callable[[Speech, SynthesisRequest], None] | None = None,
    cache: SpeechCache | None = None,
    budget: RetryBudget | None = None,
    on_retry: RetryFn | None = None,
    keep: bool = True,
) -> list[Speech]:
    """Speak every request, keeping each backend's ``max_in_flight`` busy; return clips by ``seq``.

    ``on_clip`` runs (in the event loop) as each clip is ready, in completion order: a streaming
    consumer sends it on at once, and with ``keep=False`` the clip is not kept (nothing is returned):
    a long script's speech is never held whole. With ``cache``, backends that are ``Cacheable`` are asked only for
    segments the cache does not hold. A clip's ``notes`` are emitted as ``DramaflowWarning``s. Transient
    errors are retried under ``retry`` (one ``budget`` per task; ``on_retry`` hears of each). Raises
    ``ConfigError`` when a provider has no backend, ``PermanentBackendError`` (with the script line)
    when a segment cannot be spoken, ``TransientBackendError`` when a line's deadline or the task's
    budget ran out; the first failure cancels the requests still in flight.
    """
    budget = budget or RetryBudget(retry)
    missing = sorted({r.voice.provider for r in requests} - set(synthesizers))
    if missing:
        raise ConfigError(f"no TTS backend loaded for provider(s): {', '.join(missing)}")
    limits = {name: asyncio.Semaphore(max(1, s.max_in_flight)) for name, s in synthesizers.items()}

    async def one(request: SynthesisRequest) -> Speech | None:
        backend = synthesizers[request.voice.provider]
        digest = cache.digest(backend.cache_key(request)) if cache and isinstance(backend, Cacheable) else None
        speech = cache.get(digest, request.seq, backend.name) if digest else None
        if speech is None:
            async with limits[request.voice.provider]:
                speech = await _with_retries(backend, request, budget, on_retry)
            if digest:
                cache.put(digest, speech)
        for note in speech.notes:
            warn(note)
        # in a thread: resampling and pitch shifting overlap the next segments' synthesis
        clip = await asyncio.to_thread(postprocess, speech, request, request.utterance, sample_rate)
        del speech
        if on_clip:
            on_clip(clip, request)
        return clip if keep else None

    tasks = [asyncio.ensure_future(one(r)) for r in requests]
    try:
        clips = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return sorted(clips, key=lambda c: c.seq) if keep else []


async def _with_retries(backend: Synthesizer, request: SynthesisRequest, budget: RetryBudget,
                        on_retry: RetryFn | None = None) -> Speech:
    """Speak ``request``, retrying transient errors until its deadline or the task's budget runs out."""
    policy = budget.policy
    jitter = random.Random(request.seed)  # jitter only spaces retries; it never touches audio
    first = budget.clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            speech = await backend.synthesize(request)
        except TransientBackendError as exc:
            wait = max(policy.delay_s(attempt, jitter), exc.retry_after_s or 0.0)
            line_left = policy.line_deadline_s - (budget.clock() - first)
            if line_left <= 0 or budget.left_s <= 0:
                raise _gave_up(exc, attempt, budget.clock() - first, policy, budget) from None
            wait = min(wait, line_left, budget.left_s)  # the last try comes at the deadline, not after it
            budget.retries += 1
            budget.waited_s += wait
            if on_retry:
                on_retry(request, attempt, wait, exc)
            await budget.sleep(wait)
            continue
        if speech.requests:
            speech = dataclasses.replace(speech, requests=attempt)  # the failed attempts were requests too
        speech = dataclasses.replace(speech, retries=attempt - 1)
        if speech.audio.size == 0:
            raise PermanentBackendError(
                f"backend returned no audio for {request.text[:60]!r}", backend=backend.name, line=request.line
            )
        return speech


def _gave_up(exc: TransientBackendError, attempts: int, elapsed_s: float, policy: RetryPolicy,
             budget: RetryBudget) -> TransientBackendError:
    if budget.left_s <= 0:
        why = (f"the task's retry budget is spent ({budget.retries} retries waited {budget.waited_s:.0f} s; "
               f"tts.task_budget_s={policy.task_budget_s:g})")
    else:
        why = f"the line's deadline passed (tts.line_deadline_s={policy.line_deadline_s:g})"
    return TransientBackendError(f"{exc.detail} — still failing after {attempts} attempts in {elapsed_s:.0f} s: "
                                 f"{why}; the provider may be down, try again later", backend=exc.backend,
                                 line=exc.line)


def postprocess(speech: Speech, request: SynthesisRequest, utterance: int, sample_rate: int) -> Speech:
    """Trim edge silence, apply pitch (semitones) and gain, resample to the mix rate.

    The result is mono float32 (samples, 1) at ``sample_rate``, tagged with its utterance."""
    audio = trim_silence(as_2d(speech.audio), speech.sample_rate)
    voice = request.voice
    formant_ratio, breathiness = float(voice.option("formant_shift", 1.0)), float(voice.option("breathiness", 0.0))
    if formant_ratio != 1.0 or breathiness:  # a made speaker: pitch, formants and breath through WORLD
        audio = world_convert(audio, speech.sample_rate, voice.pitch, formant_ratio, breathiness)
    elif voice.pitch and voice.provider in LOCAL_PROVIDERS:
        audio = pitch_shift(audio, speech.sample_rate, voice.pitch)
    if voice.gain_db:
        audio = audio * np.float32(db_to_gain(voice.gain_db))
    audio = fade_edges(resample(audio, speech.sample_rate, sample_rate), sample_rate)
    return dataclasses.replace(speech, utterance=utterance, audio=np.ascontiguousarray(audio, dtype=np.float32),
                               sample_rate=sample_rate)


def trim_silence(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Drop leading/trailing samples below ``TRIM_THRESHOLD_DBFS``, keeping ``TRIM_KEEP_S`` of margin.

    All-silent input is returned unchanged (the caller decides whether silence is an error).
    """
    level = np.max(np.abs(audio), axis=1)
    loud = np.flatnonzero(level > db_to_gain(TRIM_THRESHOLD_DBFS))
    if loud.size == 0:
        return audio
    keep = int(TRIM_KEEP_S * sample_rate)
    return audio[max(0, loud[0] - keep): min(len(audio), loud[-1] + 1 + keep)]


def fade_edges(audio: np.ndarray, sample_rate: int, fade_s: float = EDGE_FADE_S) -> np.ndarray:
    """Raised-cosine fade over the first and last ``fade_s`` (at most a quarter of the clip each)."""
    n = min(int(fade_s * sample_rate), len(audio) // 4)
    if n < 2:
        return audio
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)[:, None]
    out = audio.copy()
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def pitch_shift(audio: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    from pedalboard import Pedalboard, PitchShift

    shifted = Pedalboard([PitchShift(semitones=float(semitones))])(audio.T.astype(np.float32), sample_rate)
    return np.ascontiguousarray(shifted.T, dtype=np.float32)


def providers_in(plan: Plan) -> set[str]:
    return {u.voice.provider for u in plan.utterances}


async def close_synthesizers(synthesizers: Mapping[str, Synthesizer]) -> None:
    """Close every backend in the event loop that used it (HTTP clients are bound to their loop)."""
    for synth in synthesizers.values():
        await synth.aclose()


def retry_message(request: SynthesisRequest, attempt: int, wait_s: float, exc: TransientBackendError) -> str:
    """The progress message of one retry."""
    return f"retry {attempt} of line {request.line} in {wait_s:.1f} s: {exc.detail[:120]}"


def clip_stats(clip: Speech) -> dict[str, Any]:
    """What the report counts about one clip (travels as dora metadata in the dora engine)."""
    return {"backend": clip.backend, "cached": clip.cached, "requests": clip.requests,
            "usage_characters": clip.usage_characters, "retries": clip.retries}




def tts_device(providers: Iterable[str], env: Mapping[str, str] = os.environ) -> str:
    """Where the plan's local neural voices will run: ``DRAMAFLOW_TTS_DEVICE`` (cpu | cuda | cuda:N,
    default cpu) when onnxruntime offers CUDA, else ``cpu`` with a warning. ``cpu`` when no such voice."""
    requested = str(env.get("DRAMAFLOW_TTS_DEVICE", "cpu")).strip().lower()
    if requested == "cpu" or not GPU_PROVIDERS & set(providers):
        return "cpu"
    if requested == "cuda":
        requested = "cuda:0"
    if not requested.startswith("cuda:") or not requested[5:].isdigit():
        raise ConfigError(f"DRAMAFLOW_TTS_DEVICE must be cpu, cuda or cuda:N, got {requested!r}")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        warn(f"DRAMAFLOW_TTS_DEVICE={requested}, but this onnxruntime has no CUDA provider (install "
             "onnxruntime-gpu); the voices run on the CPU")
        return "cpu"
    return requested


@contextlib.contextmanager
def tts_device_lock(device: str, env: Mapping[str, str] = os.environ) -> Iterator[None]:
    """Hold ``device``'s lock (``nodes.common.gpulock``) while voices are loaded on it; nothing for the CPU.
    The TTS stage loads, speaks, closes its voices and frees their memory inside this block, so a model
    stage that follows (TangoFlux) finds the GPU free."""
    if device == "cpu":
        yield
        return
    with gpu_lock(device, holder=f"tts task {env.get('DRAMAFLOW_TASK_ID', '-')}", timeout_s=timeout_from_env(env),
                  env=env):
        try:
            yield
        finally:
            gc.collect()  # the voices' sessions go now, not at some later collection


def speech_cache(env: Mapping[str, str] = os.environ) -> SpeechCache | None:
    """The segment cache the environment asks for (``DRAMAFLOW_CACHE=off`` disables it)."""
    return SpeechCache(cache_dir_from_env(env)) if cache_enabled(env) else None


def load_synthesizers(
    providers: Iterable[str], *, env: Mapping[str, str] = os.environ, sample_rate: int = MIX_SAMPLE_RATE,
    device: str = "cpu",
) -> dict[str, Synthesizer]:
    """Instantiate the backends a plan needs (heavy: loads models) on ``device`` (``tts_device``; hold
    ``tts_device_lock`` around load, synthesis and close). Call from ``main()``/engines only."""
    out: dict[str, Synthesizer] = {}
    for provider in sorted(set(providers)):
        entry = PROVIDERS.get(provider)
        if entry is None:
            raise ConfigError(f"TTS provider {provider!r} is not available offline")
        module, _, name = entry.synthesizer.partition(":")
        out[provider] = getattr(importlib.import_module(module), name).create(env=env, sample_rate=sample_rate,
                                                                               device=device)
    return out


def speak(requests: list[SynthesisRequest], *, sample_rate: int, policy: RetryPolicy, budget: RetryBudget,
          cache: SpeechCache | None, on_clip: Callable[[Speech, SynthesisRequest], None], on_retry: RetryFn,
          env: Mapping[str, str] = os.environ) -> list[str]:
    """Load the voices ``requests`` need on the machine's TTS device (holding its lock), speak every
    request (``on_clip`` in completion order), free the voices and the lock; returns the warnings."""
    providers = {r.voice.provider for r in requests}

    async def run(device: str) -> None:
        synthesizers = load_synthesizers(providers, env=env, sample_rate=sample_rate, device=device)
        try:
            await synthesize_requests(requests, synthesizers, sample_rate=sample_rate, retry=policy, on_clip=on_clip,
                                      cache=cache, budget=budget, on_retry=on_retry, keep=False)
        finally:
            await close_synthesizers(synthesizers)

    with collect_warnings() as caught:
        device = tts_device(providers, env)
        with tts_device_lock(device, env):
            asyncio.run(run(device))
    return caught.messages


def speech_metadata(clip: Speech, route: Mapping[str, Any], count: int) -> dict[str, Any]:
    """What travels with a clip on ``speech``: its place, format, the segmenter's routing (effect, pan)."""
    return {C.SEQ: clip.seq, C.UTTERANCE: clip.utterance, C.SAMPLE_RATE: clip.sample_rate, C.CHANNELS: 1,
            C.EFFECT: route[C.EFFECT], C.PAN: route[C.PAN], C.BACKEND: clip.backend, C.COUNT: count}


def duration_metadata(clip: Speech) -> dict[str, Any]:
    """What travels on ``durations``: the clip's length in frames and what the report counts."""
    return {C.SEQ: clip.seq, "frames": int(clip.audio.shape[0]), C.SAMPLE_RATE: clip.sample_rate, **clip_stats(clip)}


def check_fits_a_message(clip: Speech, request: SynthesisRequest) -> None:
    """A clip travels as one dora message: refuse one larger than a message carries."""
    if clip.audio.nbytes > C.MAX_MESSAGE_BYTES:
        raise PermanentBackendError(
            f"this segment is {clip.duration_s:.0f} s of audio, more than one dora message carries "
            f"({C.MAX_MESSAGE_BYTES >> 20} MiB); lower segmenter.provider_max_chars or split the line",
            backend=clip.backend, line=request.line)
