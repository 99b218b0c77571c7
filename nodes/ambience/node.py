"""dora node ``ambience``: ``plan`` + ``durations`` → ``timeline`` (JSON, laid out once TTS sent every
duration), ``cues`` (beds and one-shots in chunks + EOS, each sent as rendered; a model backend renders
all, then is freed with its device lock) and ``scene`` (JSON: the render's warnings, the backend's cost).
Env: DRAMAFLOW_AMBIENCE_*, DRAMAFLOW_TANGOFLUX_DIR / _DEVICE, DRAMAFLOW_GPU_LOCK_TIMEOUT_S,
DRAMAFLOW_CACHE_DIR, DRAMAFLOW_SAMPLE_RATE and the layout settings."""

from __future__ import annotations

import os

from nodes.ambience.core import AmbienceConfig, SceneRender
from nodes.common import contract as C
from nodes.common.layout import LayoutConfig
from nodes.common.reports import tts_summary
from nodes.common.runtime import Runner, Stream, json_from, json_value
from nodes.common.settings import config_from_env
from nodes.common.transfer import send_clips
from nodes.common.types import Plan


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
        done, cues = [0], max(1, sum(1 for c in plan.cues if c.kind in ("ambience", "sfx")))

        def progress(finished: int, total: int, message: str) -> None:
            done[0] = finished
            runner.poll_stop()
            runner.progress(finished, total, message)

        def step(prompt: str, i: int, steps: int) -> None:  # a generated clip takes seconds to minutes
            progress(done[0], cues, f"generating {prompt[:40]}: step {i}/{steps}")

        scene = SceneRender(plan, frames, layout_config, config_from_env(AmbienceConfig, os.environ),
                            on_progress=progress, on_step=step)
        laid_out = [*scene.notes]
        runner.send(C.TIMELINE, json_value({"timeline": scene.timeline.to_dict(), "seed": seed, "warnings": [
            *plan.warnings, *laid_out], "tts": tts_summary(metadata for _, metadata in durations.items.values())}))
        send_clips(runner, C.CUES, scene.clips(), layout_config.sample_rate)
        for note in scene.notes:
            runner.warn(note)
        runner.send(C.SCENE, json_value({"warnings": scene.notes[len(laid_out):], "ambience": scene.stats}))
        closing = max(count := sum(1 for c in scene.timeline.cues if c.kind in ("ambience", "sfx")), 1)
        runner.progress(closing, closing, "done" if count else "no cues")  # a stage closes at done == total > 0
        runner.linger()


if __name__ == "__main__":
    main()
