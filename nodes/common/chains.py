"""Plugin chains on pedalboard, and the cue EQ two stages share (the ambience stage EQs its beds and
one-shots; the effects stage builds its dialogue chains on the same runner).

- audio is float32 shaped ``(samples, channels)`` at ``sample_rate``; nothing shifts in time;
- the same input gives bit-identical output (a fresh board per call, reset before use).
"""

from __future__ import annotations

import numpy as np
from pedalboard import HighpassFilter, HighShelfFilter, PeakFilter, Pedalboard, Plugin

from nodes.common.audio import to_stereo

AMBIENCE_HIGHPASS_HZ = 40.0
AMBIENCE_HIGHPASS_STAGES = 2
SFX_HIGHPASS_HZ = 30.0
SFX_HIGHPASS_STAGES = 2

# pedalboard guesses the channel layout from the smaller dimension, so buffers shorter than their
# channel count would be read transposed; pad tiny inputs up to this many samples.
MIN_PROCESS_SAMPLES = 64


def process_ambience(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Ambience EQ (rumble cut, speech-band dip near 2.5 kHz, soft top): stereo in, stereo out, same length."""
    x = to_stereo(audio)
    plugins = highpass(AMBIENCE_HIGHPASS_HZ, AMBIENCE_HIGHPASS_STAGES) + [
        PeakFilter(cutoff_frequency_hz=2500.0, gain_db=-3.0, q=0.9),
        HighShelfFilter(cutoff_frequency_hz=8000.0, gain_db=-3.0, q=0.707),
    ]
    return run_chain(plugins, x, sample_rate)


def process_sfx(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Sound effects: a ~30 Hz high-pass only. Stereo in, stereo out, same length."""
    x = to_stereo(audio)
    return run_chain(highpass(SFX_HIGHPASS_HZ, SFX_HIGHPASS_STAGES), x, sample_rate)


def highpass(cutoff_hz: float, stages: int) -> list[Plugin]:
    return [HighpassFilter(cutoff_frequency_hz=cutoff_hz) for _ in range(stages)]


def run_chain(plugins: list[Plugin], x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Process ``(n, channels)`` through a fresh board; returns exactly ``n`` samples, float32."""
    n, channels = x.shape
    if n == 0:
        return x.copy()
    padded = x
    if n < MIN_PROCESS_SAMPLES:
        padded = np.concatenate([x, np.zeros((MIN_PROCESS_SAMPLES - n, channels), np.float32)])
    board = Pedalboard(plugins)
    # Channels-first, contiguous: the layout pedalboard documents; reset=True clears any state.
    y = board.process(np.ascontiguousarray(padded.T), float(sample_rate), reset=True)
    y = np.asarray(y, dtype=np.float32).T[:n]
    if y.shape != (n, channels):
        raise RuntimeError(f"pedalboard returned shape {y.shape}, expected {(n, channels)}")
    return np.ascontiguousarray(y)
