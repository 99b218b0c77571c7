"""dora node ``effects``: ``speech`` → ``dialogue`` (mono, dialogue chain + voice effect; its pan travels
along for the mixer to apply) per seq.

The effect and pan of each segment travel in its metadata from the segmenter, so this node needs
no other input. Items are processed as they arrive; the EOS is forwarded once all are sent.
"""

from __future__ import annotations

from nodes.common import contract as C
from nodes.common.runtime import Runner, audio_from, audio_value
from nodes.effects.core import process_dialogue_mono


def main() -> None:
    runner = Runner(C.EFFECTS)
    with runner.failing_loudly():
        sent, total = 0, None
        for event in runner.events((C.SPEECH,)):
            metadata = event["metadata"]
            if metadata.get(C.EOS):
                total = int(metadata[C.N_TOTAL])
            else:
                sample_rate = int(metadata[C.SAMPLE_RATE])
                out = process_dialogue_mono(audio_from(event), sample_rate, effect=metadata[C.EFFECT] or None)
                runner.send(C.DIALOGUE, audio_value(out), {
                    C.SEQ: int(metadata[C.SEQ]), C.UTTERANCE: int(metadata[C.UTTERANCE]),
                    C.SAMPLE_RATE: sample_rate, C.CHANNELS: 1, C.PAN: float(metadata[C.PAN]),
                })
                sent += 1
                runner.progress(sent, int(metadata.get(C.COUNT, 0)), seq=int(metadata[C.SEQ]))
            if total is not None and sent == total:
                break
        runner.send_eos(C.DIALOGUE, sent)
        runner.progress(sent, sent, "done")
        runner.linger()


if __name__ == "__main__":
    main()
