"""dora node ``tts``: ``requests`` → ``speech`` (mono audio per segment) and ``durations`` (frames per
segment, plus what the report counts: backend, cache hit, API requests, billed characters), both in
completion order with ``seq``, each ending with an EOS.

Env: DRAMAFLOW_SAMPLE_RATE, DRAMAFLOW_LINE_DEADLINE_S / _TASK_BUDGET_S / _BASE_DELAY_S / _MAX_DELAY_S
(retry policy; each retry is a progress record), DRAMAFLOW_CACHE_DIR / DRAMAFLOW_CACHE (segment
cache), MINIMAX_* and DRAMAFLOW_REDIS_URL (MiniMax), DRAMAFLOW_TTS_DEVICE (cpu | cuda[:N] for piper).
"""

from __future__ import annotations

import os

from nodes.common import contract as C
from nodes.common.audio import MIX_SAMPLE_RATE
from nodes.common.planning import SynthesisRequest
from nodes.common.runtime import Runner, audio_value, eos_value, json_from
from nodes.common.settings import config_from_env
from nodes.tts import core
from nodes.tts.backends.base import Speech


def main() -> None:
    runner = Runner(C.TTS)
    with runner.failing_loudly():
        policy = config_from_env(core.RetryPolicy, os.environ)
        sample_rate = int(os.environ.get("DRAMAFLOW_SAMPLE_RATE", MIX_SAMPLE_RATE))
        items = [(SynthesisRequest.from_dict(doc), meta) for doc, meta in runner.gather(C.REQUESTS, json_from)]
        requests, routing = [r for r, _ in items], {r.seq: metadata for r, metadata in items}
        runner.progress(0, len(requests), "loading voices")
        budget, done = core.RetryBudget(policy), 0

        def send(clip: Speech, request: SynthesisRequest) -> None:
            nonlocal done
            runner.poll_stop()
            core.check_fits_a_message(clip, request)
            runner.send(C.SPEECH, audio_value(clip.audio), core.speech_metadata(clip, routing[clip.seq], len(requests)))
            runner.send(C.DURATIONS, eos_value(), core.duration_metadata(clip))
            done += 1
            runner.progress(done, len(requests), request.text[:60], seq=clip.seq, retries=budget.retries)

        def retried(request: SynthesisRequest, attempt: int, wait_s: float, exc: Exception) -> None:
            runner.progress(done, len(requests), core.retry_message(request, attempt, wait_s, exc), seq=request.seq,
                            retries=budget.retries)

        # voices freed and the device lock released before the last EOS lets ambience start
        for note in core.speak(requests, sample_rate=sample_rate, policy=policy, budget=budget,
                               cache=core.speech_cache(os.environ), on_clip=send, on_retry=retried):
            runner.warn(note)
        runner.send_eos(C.SPEECH, len(requests))
        runner.send_eos(C.DURATIONS, len(requests))
        runner.linger()


if __name__ == "__main__":
    main()
