"""Looping a finite clip to a scene's length: exact length, seamless equal-power joins."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.ambience.loop import crossfade_samples, loop_to_length

SR = 8000
SEAM_LEVEL_TOLERANCE_DB = 1.0  # uncorrelated noise through an equal-power seam keeps its level within this


def noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 2)).astype(np.float32)


@pytest.mark.parametrize("samples", [1, 799, 800, 801, 5000, 12345])
def test_exact_length_for_any_target(samples):
    assert loop_to_length(noise(800), samples, SR, 0.01).shape == (samples, 2)


def test_a_long_clip_is_trimmed_not_looped():
    clip = noise(1000)
    assert np.array_equal(loop_to_length(clip, 600, SR, 0.05), clip[:600])


def test_repeats_start_every_clip_minus_overlap_and_carry_the_clip_between_seams():
    clip = noise(1000)
    overlap = crossfade_samples(1000, 0.02, SR)  # 160 samples
    out = loop_to_length(clip, 3500, SR, 0.02)
    period = 1000 - overlap
    assert overlap == 160
    assert np.array_equal(out[:period], clip[:period])
    # between seams, repeat k is the clip itself, sample for sample
    for k in (1, 2):
        start = k * period
        assert np.array_equal(out[start + overlap:start + period], clip[overlap:period])


def test_equal_power_seams_keep_the_level_of_uncorrelated_material():
    clip = noise(SR * 2)
    out = loop_to_length(clip, SR * 10, SR, 0.5)
    overlap = crossfade_samples(len(clip), 0.5, SR)
    period = len(clip) - overlap
    body = 10 * np.log10(np.mean(clip[overlap:period] ** 2))
    for start in range(period, SR * 10 - overlap, period):
        seam = 10 * np.log10(np.mean(out[start:start + overlap] ** 2))
        assert abs(seam - body) < SEAM_LEVEL_TOLERANCE_DB


def test_overlap_is_at_most_half_the_clip_and_zero_means_plain_tiling():
    assert crossfade_samples(100, 10.0, SR) == 50
    clip = noise(100)
    assert np.array_equal(loop_to_length(clip, 300, SR, 0.0), np.concatenate([clip, clip, clip]))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        loop_to_length(np.zeros((0, 2), np.float32), 10, SR, 0.1)
    with pytest.raises(ValueError):
        loop_to_length(np.zeros(10, np.float32), 10, SR, 0.1)
