"""dora node ``mixer``: ``timeline`` + ``dialogue`` + ``cues`` → ``mix``, the mastered programme in
``MIX_CHUNK_S`` chunks by seq + EOS carrying the measured loudness.

Env: the mix settings (DRAMAFLOW_SPEECH_LUFS, _AMBIENCE_BELOW_SPEECH_DB, _SFX_BELOW_SPEECH_DB,
_DUCK_DB, _DUCK_PRE_ROLL_S, _DUCK_ATTACK_S, _DUCK_RELEASE_S, _DUCK_BRIDGE_S, _TARGET_LUFS,
_TRUE_PEAK_CEILING_DBTP, …).
"""

from __future__ import annotations

import os

import numpy as np

from nodes.common import contract as C
from nodes.common.audio import seconds_to_samples
from nodes.common.runtime import Runner, Stream, audio_from, audio_value, json_from
from nodes.common.settings import config_from_env
from nodes.common.types import Timeline
from nodes.mixer.core import MixConfig, mix


def join_cue_parts(items: list[tuple[np.ndarray, dict]]) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Beds and one-shots by cue index from their chunks (sent in order, each cue's parts together)."""
    parts: dict[int, list[np.ndarray]] = {}
    kinds: dict[int, str] = {}
    for audio, metadata in items:
        index = int(metadata["index"])
        parts.setdefault(index, []).append(audio)
        kinds[index] = metadata[C.KIND]
        if len(parts[index]) != int(metadata["part"]) + 1:
            raise RuntimeError(f"cue {index}: part {metadata['part']} out of order")
    joined = {i: np.concatenate(p) for i, p in parts.items()}
    return ({i: a for i, a in joined.items() if kinds[i] == "ambience"},
            {i: a for i, a in joined.items() if kinds[i] == "sfx"})


def main() -> None:
    runner = Runner(C.MIXER)
    with runner.failing_loudly():
        config = config_from_env(MixConfig, os.environ)
        timeline = None
        dialogue, cues = Stream(C.DIALOGUE), Stream(C.CUES)
        for event in runner.events((C.TIMELINE, C.DIALOGUE, C.CUES)):
            if event["id"] == C.TIMELINE:
                timeline = Timeline.from_dict(json_from(event)["timeline"])
            else:
                (dialogue if event["id"] == C.DIALOGUE else cues).add(event, audio_from)
            if timeline is not None and dialogue.complete and cues.complete:
                break
        runner.progress(0, 1, "mixing")
        speech = {seq: audio for seq, (audio, _) in dialogue.items.items()}
        beds, sfx = join_cue_parts(cues.ordered())
        result = mix(timeline, speech, beds, sfx, config)
        chunk = seconds_to_samples(C.MIX_CHUNK_S, result.sample_rate)
        starts = range(0, len(result.master), chunk)
        for seq, start in enumerate(starts):
            runner.send(C.MIX, audio_value(result.master[start:start + chunk]),
                        {C.SEQ: seq, C.CHANNELS: 2, C.SAMPLE_RATE: result.sample_rate})
        runner.send_eos(C.MIX, len(starts), lufs=float(result.lufs), true_peak_dbtp=float(result.true_peak_dbtp))
        runner.progress(1, 1, f"{result.lufs:.2f} LUFS, {result.true_peak_dbtp:.2f} dBTP")
        runner.linger()


if __name__ == "__main__":
    main()
