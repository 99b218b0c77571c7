"""dora node ``mixer``: ``timeline`` + ``dialogue`` + ``cues`` → ``mix``, the mastered programme in
``MIX_CHUNK_S`` chunks by seq + EOS carrying the measured loudness.

Env: the mix settings (DRAMAFLOW_SPEECH_LUFS, _AMBIENCE_BELOW_SPEECH_DB, _SFX_BELOW_SPEECH_DB,
_DUCK_DB, _DUCK_PRE_ROLL_S, _DUCK_ATTACK_S, _DUCK_RELEASE_S, _DUCK_BRIDGE_S, _TARGET_LUFS,
_TRUE_PEAK_CEILING_DBTP, …).
"""

from __future__ import annotations

import os

from nodes.common import contract as C
from nodes.common.runtime import Runner, Stream, audio_from, json_from, release_memory
from nodes.common.settings import config_from_env
from nodes.common.transfer import join_clips, send_programme
from nodes.common.types import Timeline
from nodes.mixer.core import MixConfig, master, mix_bus


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
        clips = join_clips(cues.ordered())
        bus = mix_bus(timeline, speech, clips.get("ambience", {}), clips.get("sfx", {}), config)
        del speech, clips, dialogue, cues  # on the bus now: free the clips before mastering adds its arrays
        release_memory()
        result = master(bus, timeline.sample_rate, config)
        send_programme(runner, C.MIX, result.master, result.sample_rate, lufs=float(result.lufs),
                       true_peak_dbtp=float(result.true_peak_dbtp))
        runner.progress(1, 1, f"{result.lufs:.2f} LUFS, {result.true_peak_dbtp:.2f} dBTP")
        del bus, result  # the programme is sent: free it while the output works
        runner.linger()


if __name__ == "__main__":
    main()
