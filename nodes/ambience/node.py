"""dora node ``ambience``: ``plan`` + ``durations`` → ``timeline`` (one JSON message) and ``cues``
(one stereo clip per bed or one-shot + EOS). It starts rendering only when TTS has sent every duration,
and a model backend (TangoFlux) holds its device's lock from loading until it is freed, before the
clips are sent: TTS and TangoFlux never share a GPU.

Env: DRAMAFLOW_AMBIENCE_BACKEND / _STEPS / _GUIDANCE_SCALE / _LOOP_CROSSFADE_S / _LIBRARY (template),
DRAMAFLOW_TANGOFLUX_DIR / _DEVICE, DRAMAFLOW_GPU_LOCK_TIMEOUT_S, DRAMAFLOW_CACHE_DIR (machine),
DRAMAFLOW_SAMPLE_RATE and the layout settings
(DRAMAFLOW_SPEAKER_GAP_S, _PARAGRAPH_GAP_S, _SEGMENT_GAP_S, _SCENE_LEAD_S, _SFX_GAP_S,
_AMBIENCE_FADE_S, _TAIL_S).
"""

from __future__ import annotations

import os

from nodes.ambience.core import AmbienceConfig, ambience_stage, close_backend, open_backend
from nodes.common import contract as C
from nodes.common.audio import seconds_to_samples
from nodes.common.errors import collect_warnings
from nodes.common.runtime import Runner, Stream, audio_value, json_from, json_value
from nodes.common.settings import config_from_env
from nodes.common.types import Plan
from nodes.mixer.layout import LayoutConfig
from nodes.tts.core import tts_summary


def main() -> None:
    runner = Runner(C.AMBIENCE)
    with runner.failing_loudly():
        plan, seed = None, 0
        durations = Stream(C.DURATIONS)
        for event in runner.events((C.PLAN, C.DURATIONS)):
            if event["id"] == C.PLAN:
                plan, seed = Plan.from_dict(json_from(event)), int(event["metadata"][C.SEED])
            else:
                durations.add(event, lambda e: int(e["metadata"]["frames"]))
            if plan is not None and durations.complete:
                break
        layout_config = config_from_env(LayoutConfig, os.environ, seed=seed)
        frames = {seq: item[0] for seq, item in durations.items.items()}
        cues = sum(1 for c in plan.cues if c.kind in ("ambience", "sfx"))
        done = 0

        def progress(finished: int, total: int, message: str) -> None:
            nonlocal done
            done = finished
            runner.poll_stop()
            runner.progress(finished, total, message)

        def step(prompt: str, i: int, steps: int) -> None:  # a generated clip takes seconds to minutes
            runner.poll_stop()
            runner.progress(done, max(cues, 1), f"generating {prompt[:40]}: step {i}/{steps}")

        with collect_warnings() as caught:
            backend = open_backend(config_from_env(AmbienceConfig, os.environ), os.environ, on_step=step)
            try:
                scene = ambience_stage(plan, frames, layout_config.sample_rate, backend, layout_config,
                                       on_progress=progress)
            finally:
                stats = close_backend(backend)  # model freed and device lock released before clips go out
        notes = caught.messages
        for note in notes:
            runner.warn(note)
        tts = tts_summary(metadata for _, metadata in durations.items.values())
        runner.send(C.TIMELINE, json_value({"timeline": scene.timeline.to_dict(), "seed": seed,
                                            "warnings": [*plan.warnings, *notes], "tts": tts,
                                            "ambience": stats}))
        clips = [("ambience", i, a) for i, a in sorted(scene.beds.items())] + \
                [("sfx", i, a) for i, a in sorted(scene.sfx.items())]
        chunk = seconds_to_samples(C.MIX_CHUNK_S, layout_config.sample_rate)  # dora caps a message at 64 MiB
        seq = 0
        for kind, index, audio in clips:
            parts = max(1, -(-len(audio) // chunk))
            for part in range(parts):
                runner.send(C.CUES, audio_value(audio[part * chunk:(part + 1) * chunk]), {
                    C.SEQ: seq, "index": index, "part": part, "parts": parts, C.KIND: kind, C.CHANNELS: 2,
                    C.SAMPLE_RATE: layout_config.sample_rate})
                seq += 1
        runner.send_eos(C.CUES, seq)
        closing = max(len(clips), 1)  # a stage closes at done == total > 0, also with no cues at all
        runner.progress(closing, closing, "done" if clips else "no cues")
        runner.linger()


if __name__ == "__main__":
    main()
