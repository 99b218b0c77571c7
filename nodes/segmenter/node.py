"""dora node ``segmenter``: script → ``plan`` (one JSON message) and ``requests`` (one per segment + EOS).

Env: DRAMAFLOW_SCRIPT, DRAMAFLOW_VOICE_CONFIG (JSON file, optional), DRAMAFLOW_VOICES (optional),
DRAMAFLOW_SEED (optional), DRAMAFLOW_MAX_CHARS, DRAMAFLOW_PACK.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from nodes.common import contract as C
from nodes.common.planning import requests_for, utterance_effects
from nodes.common.runtime import Runner, json_value
from nodes.common.settings import config_from_env
from nodes.common.voices import load_voices, providers_from_env
from nodes.segmenter.core import SegmenterConfig, parse_script, plan_seed


def main() -> None:
    runner = Runner(C.SEGMENTER)
    with runner.failing_loudly():
        env = os.environ
        config = config_from_env(SegmenterConfig, env)
        voices_path = env.get(C.ENV_VOICES)
        library = load_voices(Path(voices_path) if voices_path else None)
        voice_config_path = env.get(C.ENV_VOICE_CONFIG)
        voice_config = json.loads(Path(voice_config_path).read_text(encoding="utf-8")) if voice_config_path else {}
        seed_override = env.get("DRAMAFLOW_SEED")
        runner.progress(0, 1, "parsing")
        plan = parse_script(Path(env[C.ENV_SCRIPT]).read_text(encoding="utf-8"), library,
                            voice_config=voice_config, config=config, provider_available=providers_from_env(env))
        seed = plan_seed(plan, int(seed_override) if seed_override not in (None, "") else None)
        for note in plan.warnings:
            runner.warn(note)
        runner.send(C.PLAN, json_value(plan.to_dict()), {C.SEED: seed})
        effects = utterance_effects(plan)
        requests = requests_for(plan, seed)
        for request in requests:
            runner.send(C.REQUESTS, json_value(request.to_dict()), {
                C.SEQ: request.seq, C.UTTERANCE: request.utterance,
                C.EFFECT: effects[request.utterance] or "", C.PAN: float(request.voice.pan),
            })
        runner.send_eos(C.REQUESTS, len(requests))
        runner.progress(1, 1, f"{len(plan.utterances)} utterances, {len(requests)} segments, {len(plan.cues)} cues")
        runner.linger()


if __name__ == "__main__":
    main()
