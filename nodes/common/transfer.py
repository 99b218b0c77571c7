"""Audio between nodes in chunks: dora caps a message at 64 MiB, so long audio travels in
``MIX_CHUNK_S`` pieces, numbered by seq, and is joined again in order on the other side.

- ``send_clips``/``Clips``: numbered clips (the ambience stage's beds and one-shots), each split
  into parts that travel together, and handed over one by one as their last parts arrive;
- ``send_programme``/``Programme``: one long signal (the mixer's master), chunk by chunk, then EOS with
  its facts, copied into one array on arrival.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from nodes.common import contract as C
from nodes.common.audio import seconds_to_samples
from nodes.common.runtime import Arrivals, Runner, audio_from, audio_value


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


def send_programme(runner: Runner, output: str, audio: np.ndarray, sample_rate: int, **eos: Any) -> None:
    """Send one long ``(samples, channels)`` signal in chunks, then EOS carrying ``eos``. Every chunk
    says the whole length and where it starts, so the receiver fills one array as they arrive."""
    chunk = seconds_to_samples(C.MIX_CHUNK_S, sample_rate)
    starts = range(0, len(audio), chunk)
    for seq, start in enumerate(starts):
        runner.send(output, audio_value(audio[start:start + chunk]),
                    {C.SEQ: seq, C.CHANNELS: audio.shape[1], C.SAMPLE_RATE: sample_rate, "start": start,
                     "samples": len(audio)})
    runner.send_eos(output, len(starts), **eos)


class Programme(Arrivals):
    """The receiving side of ``send_programme``: each chunk is copied straight from dora's buffer into one
    programme-length array, so the programme is never held twice (chunks plus their concatenation)."""

    def __init__(self, name: str, channels: int = 2) -> None:
        super().__init__(name)
        self.audio = np.zeros((0, channels), dtype=np.float32)

    def add(self, event: Any) -> None:
        arrived = self.arrive(event)
        if arrived is None:
            return
        metadata, seq = arrived
        channels, samples, start = int(metadata[C.CHANNELS]), int(metadata["samples"]), int(metadata["start"])
        if len(self.received) == 1:
            self.audio = np.empty((samples, channels), dtype=np.float32)
        chunk = np.asarray(event["value"].to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, channels)
        if self.audio.shape != (samples, channels) or start + len(chunk) > samples:
            raise RuntimeError(f"input {self.name}: chunk {seq} does not fit a programme of {samples} samples")
        self.audio[start:start + len(chunk)] = chunk
