"""The mastered programme between the mixer and the output: a 32-bit float WAV in the task folder.

An hour of stereo at 44.1 kHz is 1.3 GB. Sent through dora in chunks, it was held by the mixer, by the
daemon (chunks in flight) and by the output at once. As a file, the mixer writes it and lets it go, and
the output reads it a block at a time, as often as it needs (a re-encode reads it again). The samples
are the float32 values the mixer made, to the bit; an engineer can open the file in any audio editor.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PROGRAMME_FILE = "mix.wav"
WAV_MAX_BYTES = (1 << 32) - 1024  # past a RIFF size field, the file is RF64


@dataclass(frozen=True)
class ProgrammeFile:
    path: Path
    sample_rate: int
    samples: int
    channels: int

    @classmethod
    def write(cls, path: Path, audio: np.ndarray, sample_rate: int) -> ProgrammeFile:
        """Write ``audio`` ``(samples, channels)`` float32 to ``path`` (via a hidden partial file)."""
        import soundfile

        path = Path(path)
        partial = path.with_name(f".{path.name}.partial")
        container = "RF64" if audio.nbytes > WAV_MAX_BYTES else "WAV"
        soundfile.write(partial, audio, sample_rate, format=container, subtype="FLOAT")
        os.replace(partial, path)
        return cls(path, int(sample_rate), int(audio.shape[0]), int(audio.shape[1]))

    def facts(self) -> dict[str, Any]:
        return {"path": str(self.path), "sample_rate": self.sample_rate, "samples": self.samples,
                "channels": self.channels}

    @classmethod
    def from_facts(cls, facts: dict[str, Any]) -> ProgrammeFile:
        return cls(Path(facts["path"]), int(facts["sample_rate"]), int(facts["samples"]), int(facts["channels"]))

    @property
    def shape(self) -> tuple[int, int]:
        return self.samples, self.channels

    def blocks(self, rows: int) -> Iterator[np.ndarray]:
        """Consecutive float32 ``(rows, channels)`` blocks (the last may be shorter); a file that holds
        fewer samples than it should raises."""
        import soundfile

        read = 0
        with soundfile.SoundFile(self.path) as f:
            while len(block := f.read(rows, dtype="float32", always_2d=True)):
                read += len(block)
                yield block
        if read != self.samples:
            raise RuntimeError(f"{self.path} holds {read} samples, not {self.samples}")


def programme_blocks(master: np.ndarray | ProgrammeFile, rows: int) -> Iterator[np.ndarray]:
    """Blocks of ``rows`` rows of a programme in memory or in a file."""
    if isinstance(master, ProgrammeFile):
        yield from master.blocks(rows)
    else:
        for start in range(0, len(master), rows):
            yield master[start:start + rows]
