"""Auditioning a script's cast: each speaker's first lines in the voice the script gives them, one file per
speaker and one with every speaker in turn, so that a writer hears the cast side by side before a render.

Speech goes through the TTS stage's own code (``nodes.tts.core.speak``: the same voices, retries,
pitch, formant and gain as a render), with no ambience, effects or mastering.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nodes.common.audio import MIX_SAMPLE_RATE
from nodes.common.files import atomic_write
from nodes.common.planning import requests_for
from nodes.common.types import Plan
from nodes.common.voices import VoiceLibrary

GAP_S = 0.4  # between one speaker's lines
SPEAKER_GAP_S = 1.0  # between speakers in the combined file


@dataclass(frozen=True)
class AuditionRow:
    speaker: str
    voice_id: str
    provider: str
    tags: str  # gender, age, accent, style of the voice
    first_line: int
    text: str  # what is spoken (the lines, joined)
    path: Path
    duration_s: float


def file_stem(index: int, speaker: str) -> str:
    """A safe file name for a speaker: its position and the ASCII letters and digits of its name."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", speaker).strip("-")[:40]
    return f"{index:02d}-{slug or 'speaker'}"


def _tags(library: VoiceLibrary, voice_id: str) -> str:
    entry = library.entries.get(voice_id)
    if entry is None:
        return ""
    parts = [entry.gender or "", f"{entry.age[0]}-{entry.age[1]}" if entry.age else "", entry.accent or "",
             ", ".join(entry.style)]
    return "; ".join(p for p in parts if p)


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    import soundfile

    atomic_write(path, lambda f: soundfile.write(f, audio, sample_rate, format="WAV", subtype="PCM_16"))


def audition(plan: Plan, library: VoiceLibrary, out_dir: Path, *, lines: int = 2, seed: int = 0,
             env: Mapping[str, str] = os.environ, on_warning: Callable[[str], None] = lambda _m: None,
             sample_rate: int = MIX_SAMPLE_RATE) -> tuple[list[AuditionRow], Path]:
    """Speak each speaker's first ``lines`` utterances; write ``NN-Name.wav`` per speaker and ``all.wav``."""
    from nodes.tts import core

    chosen: dict[str, list[int]] = {}
    for utterance in plan.utterances:
        picked = chosen.setdefault(utterance.speaker, [])
        if len(picked) < lines:
            picked.append(utterance.index)
    wanted = {i for indices in chosen.values() for i in indices}
    requests = [r for r in requests_for(plan, seed) if r.utterance in wanted]
    clips: dict[int, np.ndarray] = {}

    def keep(clip: object, request: object) -> None:
        clips[clip.seq] = clip.audio  # type: ignore[attr-defined]

    policy = core.RetryPolicy()
    for note in core.speak(requests, sample_rate=sample_rate, policy=policy, budget=core.RetryBudget(policy),
                           cache=core.speech_cache(env), on_clip=keep, on_retry=lambda *_a: None, env=env):
        on_warning(note)
    by_utterance: dict[int, list[int]] = {}
    for r in requests:
        by_utterance.setdefault(r.utterance, []).append(r.seq)
    utterances = {u.index: u for u in plan.utterances}
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[AuditionRow] = []
    combined: list[np.ndarray] = []
    gap = np.zeros((int(GAP_S * sample_rate), 1), np.float32)
    for number, (speaker, indices) in enumerate(chosen.items(), start=1):
        pieces: list[np.ndarray] = []
        for k, index in enumerate(indices):
            if k:
                pieces.append(gap)
            pieces += [clips[seq] for seq in sorted(by_utterance[index])]
        audio = np.concatenate(pieces).astype(np.float32)
        path = out_dir / f"{file_stem(number, speaker)}.wav"
        _write_wav(path, audio, sample_rate)
        first = utterances[indices[0]]
        rows.append(AuditionRow(speaker=speaker, voice_id=first.voice.voice_id, provider=first.voice.provider,
                                tags=_tags(library, first.voice.voice_id), first_line=first.line,
                                text=" / ".join(utterances[i].text for i in indices), path=path,
                                duration_s=audio.shape[0] / sample_rate))
        if combined:
            combined.append(np.zeros((int(SPEAKER_GAP_S * sample_rate), 1), np.float32))
        combined.append(audio)
    together = out_dir / "all.wav"
    _write_wav(together, np.concatenate(combined), sample_rate)
    return rows, together
