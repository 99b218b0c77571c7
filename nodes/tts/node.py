"""dora node ``tts``: ``requests`` → ``speech`` (mono audio per segment) and ``durations`` (frames per
segment, plus what the report counts: backend, cache hit, API requests, billed characters), both in
completion order with ``seq``, each ending with an EOS.

Env: DRAMAFLOW_SAMPLE_RATE, DRAMAFLOW_LINE_DEADLINE_S / _TASK_BUDGET_S / _BASE_DELAY_S / _MAX_DELAY_S
(retry policy; each retry is a progress record),
DRAMAFLOW_CACHE_DIR / DRAMAFLOW_CACHE (segment cache), MINIMAX_* and DRAMAFLOW_REDIS_URL (MiniMax),
DRAMAFLOW_TTS_DEVICE (cpu | cuda[:N] for piper; the device's lock is held while voices are loaded).
"""

from __future__ import annotations

import asyncio
import os

from nodes.common import contract as C
from nodes.common.audio import MIX_SAMPLE_RATE
from nodes.common.errors import PermanentBackendError, collect_warnings
from nodes.common.runtime import Runner, Stream, audio_value, eos_value, json_from
from nodes.common.settings import config_from_env
from nodes.tts.backends.base import Speech, SynthesisRequest
from nodes.tts.core import (
    RetryBudget,
    RetryPolicy,
    clip_stats,
    close_synthesizers,
    load_synthesizers,
    retry_message,
    speech_cache,
    synthesize_requests,
    tts_device,
    tts_device_lock,
)


def main() -> None:
    runner = Runner(C.TTS)
    with runner.failing_loudly():
        retry = config_from_env(RetryPolicy, os.environ)
        sample_rate = int(os.environ.get("DRAMAFLOW_SAMPLE_RATE", MIX_SAMPLE_RATE))
        cache = speech_cache(os.environ)
        stream = Stream(C.REQUESTS)
        for event in runner.events((C.REQUESTS,)):
            stream.add(event, json_from)
            if stream.complete:
                break
        items = [(SynthesisRequest.from_dict(doc), metadata) for doc, metadata in stream.ordered()]
        requests = [request for request, _ in items]
        routing = {request.seq: metadata for request, metadata in items}
        runner.progress(0, len(requests), "loading voices")
        providers = {r.voice.provider for r in requests}
        done = 0

        def send(clip: Speech, request: SynthesisRequest) -> None:
            nonlocal done
            runner.poll_stop()
            metadata = routing[clip.seq]
            if clip.audio.nbytes > C.MAX_MESSAGE_BYTES:
                raise PermanentBackendError(
                    f"this segment is {clip.duration_s:.0f} s of audio, more than one dora message carries "
                    f"({C.MAX_MESSAGE_BYTES >> 20} MiB); lower segmenter.provider_max_chars or split the line",
                    backend=clip.backend, line=request.line)
            runner.send(C.SPEECH, audio_value(clip.audio), {
                C.SEQ: clip.seq, C.UTTERANCE: clip.utterance, C.SAMPLE_RATE: clip.sample_rate, C.CHANNELS: 1,
                C.EFFECT: metadata[C.EFFECT], C.PAN: metadata[C.PAN], C.BACKEND: clip.backend,
                C.COUNT: len(requests),
            })
            runner.send(C.DURATIONS, eos_value(), {C.SEQ: clip.seq, "frames": int(clip.audio.shape[0]),
                                                   C.SAMPLE_RATE: clip.sample_rate, **clip_stats(clip)})
            done += 1
            runner.progress(done, len(requests), request.text[:60], seq=clip.seq, retries=budget.retries)

        budget = RetryBudget(retry)

        def retried(request: SynthesisRequest, attempt: int, wait_s: float, exc: Exception) -> None:
            runner.progress(done, len(requests), retry_message(request, attempt, wait_s, exc), seq=request.seq,
                            retries=budget.retries)

        async def run(device: str) -> None:
            synthesizers = load_synthesizers(providers, sample_rate=sample_rate, device=device)
            try:
                await synthesize_requests(requests, synthesizers, sample_rate=sample_rate, retry=retry,
                                          on_clip=send, cache=cache, budget=budget, on_retry=retried)
            finally:
                await close_synthesizers(synthesizers)

        with collect_warnings() as caught:
            device = tts_device(providers)
            with tts_device_lock(device):  # released, voices freed, before the last EOS lets ambience start
                asyncio.run(run(device))
        for note in caught.messages:
            runner.warn(note)
        runner.send_eos(C.SPEECH, len(requests))
        runner.send_eos(C.DURATIONS, len(requests))
        runner.linger()


if __name__ == "__main__":
    main()
