"""Dialogue, ambience and sfx processing with pedalboard. Pure: no I/O, no state between calls.

Contracts shared by every function here:
- audio is float32 shaped ``(samples, channels)`` (a 1-D array counts as mono) at ``sample_rate``;
- nothing shifts in time: sample ``i`` of the output lines up with sample ``i`` of the input (the
  filters are causal IIRs and the compressors have no look-ahead, so no plugin reports latency);
- the same input gives bit-identical output (plugins are built per call and reset before use).
"""

from __future__ import annotations

import numpy as np
from pedalboard import (
    Compressor,
    Distortion,
    Gain,
    LowpassFilter,
    LowShelfFilter,
    PeakFilter,
    Plugin,
    Reverb,
)

from nodes.common.audio import as_2d, db_to_gain, seconds_to_samples, to_stereo
from nodes.common.chains import highpass, run_chain
from nodes.common.errors import ConfigError
from nodes.common.voices import VOICE_EFFECTS

__all__ = ["VOICE_EFFECTS", "process_dialogue", "process_dialogue_mono", "validate_effect"]

# pedalboard's HighpassFilter/LowpassFilter are first order (6 dB/octave); stacking identical stages
# gives the steeper slopes a band-limited voice or a rumble filter needs.
DIALOGUE_HIGHPASS_HZ = 80.0
DIALOGUE_HIGHPASS_STAGES = 2

TELEPHONE_BAND_HZ = (300.0, 3400.0)
TELEPHONE_BAND_STAGES = 3
TELEPHONE_DRIVE_DB = 8.0
RADIO_BAND_HZ = (400.0, 5000.0)
RADIO_BAND_STAGES = 2
RADIO_DRIVE_DB = 12.0

# Zero padding appended before a reverb so its tail has room to ring out: enough for a full-scale
# input to decay below TAIL_FLOOR_DBFS (measured 0.67 s for room, 1.92 s for hall).
REVERB_TAIL_S = {"room": 0.7, "hall": 2.2}
TAIL_FLOOR_DBFS = -70.0  # tail samples quieter than this after the original length are trimmed
TAIL_FADE_S = 0.05  # fade at the very end of the padding, in case a loud tail is still ringing there



def validate_effect(name: str | None) -> str | None:
    """Return ``name`` if it is a known voice effect (or None); otherwise raise ``ConfigError``."""
    if name is None or name in VOICE_EFFECTS:
        return name
    raise ConfigError(f"unknown voice effect {name!r}; known effects: {', '.join(VOICE_EFFECTS)}")


def process_dialogue(
    audio: np.ndarray, sample_rate: int, *, effect: str | None = None, pan: float = 0.0
) -> np.ndarray:
    """Dialogue chain plus an optional voice effect, then pan to stereo.

    Input: mono speech, ``(n, 1)`` or 1-D, at any ``sample_rate``. Output: ``(m, 2)`` float32 at the
    same rate with ``m == n``, except for the reverbs (``room``, ``hall``) whose tail extends it
    (``m >= n``; trailing tail below ``TAIL_FLOOR_DBFS`` is trimmed, never inside the first ``n``).
    Raises ``ConfigError`` for an unknown effect.
    """
    return to_stereo(process_dialogue_mono(audio, sample_rate, effect=effect), pan)


def process_dialogue_mono(audio: np.ndarray, sample_rate: int, *, effect: str | None = None) -> np.ndarray:
    """``process_dialogue`` before the pan: ``(m, 1)`` float32. The dora effects node sends this and the
    pan, and the mixer pans as it places the clip (the same samples; half the memory while it waits)."""
    effect = validate_effect(effect)
    x = _mono(audio)
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, 1), dtype=np.float32)
    plugins = _dialogue_plugins() + _effect_plugins(effect)
    tail_s = REVERB_TAIL_S.get(effect or "", 0.0)
    if tail_s:
        x = np.concatenate([x, np.zeros((seconds_to_samples(tail_s, sample_rate), 1), np.float32)])
    y = run_chain(plugins, x, sample_rate)
    if tail_s:
        y = _trim_tail(_fade_end(y, seconds_to_samples(TAIL_FADE_S, sample_rate), keep=n), keep=n)
    return as_2d(y)


# --- chains -----------------------------------------------------------------------------------


def _dialogue_plugins() -> list[Plugin]:
    return highpass(DIALOGUE_HIGHPASS_HZ, DIALOGUE_HIGHPASS_STAGES) + [
        LowShelfFilter(cutoff_frequency_hz=200.0, gain_db=-2.0, q=0.707),
        PeakFilter(cutoff_frequency_hz=3000.0, gain_db=2.0, q=1.0),
        Compressor(threshold_db=-18.0, ratio=3.0, attack_ms=5.0, release_ms=80.0),
    ]


def _effect_plugins(effect: str | None) -> list[Plugin]:
    if effect == "telephone":
        # Drive first, band-limit after, so the harmonics the drive adds are band-limited too.
        return _drive(TELEPHONE_DRIVE_DB) + _band(*TELEPHONE_BAND_HZ, TELEPHONE_BAND_STAGES)
    if effect == "radio":
        return (
            _drive(RADIO_DRIVE_DB)
            + _band(*RADIO_BAND_HZ, RADIO_BAND_STAGES)
            + [Compressor(threshold_db=-20.0, ratio=2.0, attack_ms=10.0, release_ms=150.0)]
        )
    if effect == "room":
        return [Reverb(room_size=0.15, damping=0.7, wet_level=0.18, dry_level=0.9, width=1.0)]
    if effect == "hall":
        return [Reverb(room_size=0.7, damping=0.5, wet_level=0.25, dry_level=0.85, width=1.0)]
    return []


def _band(low_hz: float, high_hz: float, stages: int) -> list[Plugin]:
    return highpass(low_hz, stages) + [LowpassFilter(cutoff_frequency_hz=high_hz) for _ in range(stages)]


def _drive(drive_db: float) -> list[Plugin]:
    # tanh(g·x) has small-signal gain g; undo it so only the loud parts saturate.
    return [Distortion(drive_db=drive_db), Gain(gain_db=-drive_db)]


# --- helpers ----------------------------------------------------------------------------------


def _mono(audio: np.ndarray) -> np.ndarray:
    x = as_2d(audio)
    if x.shape[1] != 1:
        raise ValueError(f"dialogue must be mono, got {x.shape[1]} channels")
    return x


def _fade_end(x: np.ndarray, fade_samples: int, *, keep: int) -> np.ndarray:
    """Linear fade over the last ``fade_samples`` samples, never reaching into the first ``keep``."""
    fade_samples = min(fade_samples, x.shape[0] - keep)
    if fade_samples <= 0:
        return x
    y = x.copy()
    y[-fade_samples:] *= np.linspace(1.0, 0.0, fade_samples, dtype=np.float32)[:, None]
    return y


def _trim_tail(x: np.ndarray, *, keep: int) -> np.ndarray:
    """Drop trailing samples after ``keep`` whose every channel is below ``TAIL_FLOOR_DBFS``."""
    floor = db_to_gain(TAIL_FLOOR_DBFS)
    loud = np.flatnonzero(np.max(np.abs(x[keep:]), axis=1) >= floor)
    end = keep + (int(loud[-1]) + 1 if loud.size else 0)
    return x[:end]
