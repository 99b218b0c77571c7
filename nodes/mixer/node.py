"""dora node ``mixer``: ``timeline`` + ``dialogue`` + ``cues`` → ``mix``: where the mastered programme was
written (``mix.wav`` in the task folder) and its measured loudness. Once the timeline is here, each utterance, bed and
one-shot is placed (and let go) as soon as it and those before it are here.

Env: the mix settings (DRAMAFLOW_SPEECH_LUFS, _AMBIENCE_BELOW_SPEECH_DB, _SFX_BELOW_SPEECH_DB,
_DUCK_DB, _DUCK_PRE_ROLL_S, _DUCK_ATTACK_S, _DUCK_RELEASE_S, _DUCK_BRIDGE_S, _TARGET_LUFS,
_TRUE_PEAK_CEILING_DBTP, …).
"""

from __future__ import annotations

import os

from nodes.common import contract as C
from nodes.common.runtime import HeapTrimmer, Runner, Stream, audio_from, json_from, release_memory
from nodes.common.settings import config_from_env
from nodes.common.transfer import Clips, send_programme
from nodes.common.types import Timeline
from nodes.mixer.core import Bus, MixConfig, master


def main() -> None:
    runner = Runner(C.MIXER)
    with runner.failing_loudly():
        config = config_from_env(MixConfig, os.environ)
        bus, dialogue, cues, early, trimmer = None, Stream(C.DIALOGUE), Clips(C.CUES), [], HeapTrimmer()
        for event in runner.events((C.TIMELINE, C.DIALOGUE, C.CUES)):
            if event["id"] == C.TIMELINE:
                bus = Bus(Timeline.from_dict(json_from(event)["timeline"]), config)
            elif event["id"] == C.DIALOGUE:
                dialogue.add(event, audio_from)
            elif (clip := cues.add(event)) is not None:
                early.append(clip)
            if bus is None:
                continue
            for seq in list(dialogue.items):  # placed (and let go) as soon as its utterance is whole
                audio, metadata = dialogue.items.pop(seq)
                bus.add_segment(seq, audio, float(metadata.get(C.PAN, 0.0)))
                trimmer.let_go(audio.nbytes)
            while early:
                _, index, audio = early.pop(0)
                bus.add_cue(index, audio)
                trimmer.let_go(audio.nbytes)
            if dialogue.complete and cues.complete:
                break
        if bus.missing():
            raise RuntimeError(f"no audio arrived for {', '.join(bus.missing())}")
        runner.progress(0, 1, "mastering")
        release_memory()  # the clips are on the bus: free them before mastering adds its arrays
        result = master(bus.audio, bus.timeline.sample_rate, config)
        send_programme(runner, C.MIX, result.master, result.sample_rate, lufs=float(result.lufs),
                       true_peak_dbtp=float(result.true_peak_dbtp))
        runner.progress(1, 1, f"{result.lufs:.2f} LUFS, {result.true_peak_dbtp:.2f} dBTP")
        del bus, result  # the programme is sent: free it while the output works
        runner.linger()


if __name__ == "__main__":
    main()
