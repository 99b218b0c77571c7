"""Factories for plans, timelines and synthetic signals used across tests."""

from __future__ import annotations

import numpy as np

from nodes.common.types import PlacedChapter, PlacedCue, PlacedSegment, PlacedUtterance, Timeline

SR = 44100


def tone(duration_s: float, freq_hz: float = 440.0, amplitude: float = 0.3, sample_rate: int = SR,
         channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(duration_s * sample_rate))) / sample_rate
    x = (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def noise(duration_s: float, amplitude: float = 0.1, seed: int = 0, sample_rate: int = SR,
          channels: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amplitude * rng.standard_normal((int(round(duration_s * sample_rate)), channels))).astype(np.float32)


def speechlike(duration_s: float, seed: int = 0, sample_rate: int = SR) -> np.ndarray:
    """Noise with a 4 Hz syllable envelope and sharp peaks: a crest factor like speech, mono."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    envelope = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None) ** 2
    x = rng.standard_normal(n) * envelope * 0.2
    x[rng.integers(0, n, size=max(1, n // 20000))] += 0.9
    return x.astype(np.float32)[:, None]


def timeline(utterances: list[tuple[str, float, float]], cues: tuple[PlacedCue, ...] = (),
             duration_s: float | None = None, chapters: tuple[PlacedChapter, ...] = ()) -> Timeline:
    """A timeline with one segment per utterance: [(speaker, start_s, end_s), …]."""
    placed = []
    for i, (speaker, start, end) in enumerate(utterances):
        seg = PlacedSegment(seq=i, utterance=i, text=f"line {i}", start_s=start, end_s=end)
        placed.append(PlacedUtterance(index=i, speaker=speaker, voice="en-joe", text=f"line {i}", line=i + 1,
                                      start_s=start, end_s=end, segments=(seg,)))
    end = duration_s if duration_s is not None else max([u[2] for u in utterances] + [0.0]) + 1.0
    return Timeline(duration_s=end, sample_rate=SR, utterances=tuple(placed), cues=cues, chapters=chapters,
                    title="test", speech_regions=tuple((u[1], u[2]) for u in utterances))
