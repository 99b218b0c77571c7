"""Audio between nodes in chunks: dora caps a message at 64 MiB, so long audio travels in
``MIX_CHUNK_S`` pieces, numbered by seq, and is joined again in order on the other side.

- ``send_clips``/``Clips``: numbered clips (the ambience stage's beds and one-shots), each split
  into parts that travel together, and handed over one by one as their last parts arrive;
- ``send_programme``: the mixer's master, which is written to a file in the task folder and not sent
  through dora at all (``nodes.common.programme``); one message says where it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from nodes.common import contract as C
from nodes.common.audio import seconds_to_samples
from nodes.common.programme import PROGRAMME_FILE, ProgrammeFile
from nodes.common.runtime import Arrivals, Runner, audio_from, audio_value, json_value


def send_clips(runner: Runner, output: str, clips: Iterable[tuple[str, int, np.ndarray]], sample_rate: int) -> None:
    """Send ``(kind, index, audio)`` clips in chunks (each clip's parts together, in order), then EOS."""
    chunk = seconds_to_samples(C.MIX_CHUNK_S, sample_rate)
    seq = 0
    for kind, index, audio in clips:
        parts = max(1, -(-len(audio) // chunk))
        for part in range(parts):
            runner.send(output, audio_value(audio[part * chunk:(part + 1) * chunk]), {
                C.SEQ: seq, "index": index, "part": part, "parts": parts, C.KIND: kind,
                C.CHANNELS: audio.shape[1], C.SAMPLE_RATE: sample_rate})
            seq += 1
    runner.send_eos(output, seq)


class Clips(Arrivals):
    """The receiving side of ``send_clips``: each clip is handed over (``add`` returns it) as soon as its
    last part arrives, its parts joined in order, so a receiver can use and free clips one by one."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._parts: dict[int, list[np.ndarray]] = {}

    def add(self, event: Any) -> tuple[str, int, np.ndarray] | None:
        """``(kind, index, audio)`` when ``event`` completes a clip, else None. A part out of order raises."""
        arrived = self.arrive(event)
        if arrived is None:
            return None
        metadata = arrived[0]
        index, part, parts = int(metadata["index"]), int(metadata["part"]), int(metadata["parts"])
        pieces = self._parts.setdefault(index, [])
        if len(pieces) != part:
            raise RuntimeError(f"cue {index}: part {part} out of order")
        pieces.append(audio_from(event))
        if len(pieces) < parts:
            return None
        del self._parts[index]
        return metadata[C.KIND], index, pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def send_programme(runner: Runner, output: str, audio: np.ndarray, sample_rate: int, **facts: Any) -> None:
    """Write the programme to ``PROGRAMME_FILE`` in the task folder, then send where it is and ``facts``."""
    written = ProgrammeFile.write(runner.context.task_dir / PROGRAMME_FILE, audio, sample_rate)
    runner.send(output, json_value({**written.facts(), **facts}))
