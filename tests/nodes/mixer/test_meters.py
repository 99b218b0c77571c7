"""Mastering with ``ProgrammeMeters`` gives the bits of mastering with the whole per-sample energy and
peak held (the algorithm before issue 17, kept here as the oracle): with every block's energy kept,
with every block's energy computed again, and when a gain's threshold falls near the peak floor."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.common import audio
from nodes.common.audio import CHUNK_SAMPLES, db_to_gain, gated_loudness
from nodes.mixer import core, meters
from nodes.mixer.core import MixConfig, _patched_hops, limiter_patches, master
from tests.factories import SR, speechlike

CONFIG = MixConfig()


def dense_master(x: np.ndarray, sample_rate: int, config: MixConfig) -> tuple[np.ndarray, float]:
    energy = audio.k_weighted_energy(x, sample_rate)
    hops = audio.hop_energies(energy, sample_rate)
    peak = audio.oversampled_peak(x, sample_rate)
    gain_db = config.target_lufs - gated_loudness(hops, sample_rate)
    for _ in range(config.master_iterations):
        gain = db_to_gain(gain_db)
        patches = limiter_patches(peak, gain, sample_rate, config.true_peak_ceiling_dbtp, config)
        loudness = gated_loudness(_patched_hops(hops, lambda lo, hi: energy[lo:hi], patches, gain**2, sample_rate),
                                  sample_rate)
        if abs(loudness - config.target_lufs) <= config.lufs_tolerance / 2:
            break
        gain_db += config.target_lufs - loudness
    out = x * np.float32(db_to_gain(gain_db))
    for patch in patches:
        out[patch.start:patch.start + len(patch.gain)] *= patch.gain[:, None]
    return out, gain_db


@pytest.fixture(scope="module")
def programme() -> np.ndarray:
    """Three and a bit blocks of speech-like sound with loud bursts that the limiter must catch."""
    x = np.repeat(np.concatenate([speechlike(13, seed=s) for s in range(3)]), 2, axis=1) * np.float32(0.4)
    assert len(x) > 3 * CHUNK_SAMPLES
    x[::SR // 3] *= np.float32(3.0)
    return x


def assert_same_master(x: np.ndarray, config: MixConfig = CONFIG) -> None:
    expected, expected_gain_db = dense_master(x.copy(), SR, config)
    result = master(x.copy(), SR, config)
    assert result.limiter_max_reduction_db > 1.0  # the limiter really worked, in several blocks
    assert result.master_gain_db == expected_gain_db
    assert result.master.tobytes() == expected.tobytes()


def test_sparse_meters_master_to_the_same_bits(programme):
    assert_same_master(programme)


def test_energy_computed_again_from_each_blocks_state_gives_the_same_bits(programme, monkeypatch):
    monkeypatch.setattr(meters, "ENERGY_CACHE_BYTES", CHUNK_SAMPLES * 4)  # one block kept, the rest recomputed
    assert_same_master(programme)


def test_a_threshold_near_the_floor_measures_the_peak_again(programme, monkeypatch):
    monkeypatch.setattr(core, "PEAK_FLOOR_DB", -6.0)  # the floor starts above every threshold
    scans = []
    original = meters.ProgrammeMeters._keep_peaks
    monkeypatch.setattr(meters.ProgrammeMeters, "_keep_peaks", lambda self, start: (scans.append(start),
                                                                                    original(self, start)))
    assert_same_master(programme)
    assert len(scans) == 2 * len(range(0, len(programme), CHUNK_SAMPLES))


def test_the_meters_keep_a_small_part_of_the_peak(programme):
    kept = meters.ProgrammeMeters(programme, SR, floor=db_to_gain(-1.5 - core.PEAK_FLOOR_DB))
    stored = sum(where.size for where, _ in kept._peaks)
    assert stored < 0.5 * len(programme)
    assert kept.max_peak == float(audio.oversampled_peak(programme, SR).max())
