"""Mixer DSP on synthetic signals: levels, ducking, crossfades, loudness and true peak."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nodes.common.audio import db_to_gain, integrated_lufs, true_peak_dbtp
from nodes.common.types import PlacedCue
from nodes.mixer.core import MixConfig, duck_envelope, master, merged_regions, mix, true_peak_limit
from tests.factories import SR, noise, speechlike, timeline, tone

LUFS_TOLERANCE = 0.5  # the issue's ±0.5 LU
TRUE_PEAK_MARGIN_DB = 0.05  # oversampled measurement vs the limiter's own estimate
DUCK_TOLERANCE_DB = 0.05


def test_master_hits_loudness_and_true_peak():
    rng_mix = np.concatenate([speechlike(20, seed=s) for s in range(3)])
    stereo = np.repeat(rng_mix, 2, axis=1) * 0.3
    result = master(stereo, SR, MixConfig(target_lufs=-16.0, true_peak_ceiling_dbtp=-1.5))
    assert abs(integrated_lufs(result.master, SR) - (-16.0)) <= 0.1
    assert true_peak_dbtp(result.master, SR) <= -1.5 + TRUE_PEAK_MARGIN_DB
    assert result.limiter_max_reduction_db > 0  # the peaks really needed limiting


@pytest.mark.parametrize("target", [-16.0, -19.0, -23.0])
def test_master_presets(target):
    stereo = np.repeat(speechlike(15, seed=9), 2, axis=1)
    result = master(stereo, SR, MixConfig(target_lufs=target))
    assert abs(result.lufs - target) <= LUFS_TOLERANCE
    assert result.true_peak_dbtp <= -1.5 + TRUE_PEAK_MARGIN_DB


def test_limiter_holds_the_ceiling_on_intersample_peaks():
    # a near-Nyquist tone at 0 dBFS sample peak has inter-sample peaks above 0 dBTP
    x = tone(2.0, freq_hz=SR / 4 + 17, amplitude=1.0, channels=2)
    assert true_peak_dbtp(x, SR) > -0.5
    limited = true_peak_limit(x, SR, -1.0)
    assert true_peak_dbtp(limited, SR) <= -1.0 + TRUE_PEAK_MARGIN_DB


def test_limiter_leaves_quiet_audio_untouched():
    x = tone(1.0, amplitude=0.1, channels=2)
    assert np.array_equal(true_peak_limit(x, SR, -1.0), x)


def test_duck_envelope_depth_preroll_release_and_bridging():
    cfg = MixConfig(duck_db=8.0, duck_pre_roll_s=0.1, duck_attack_s=0.1, duck_release_s=0.5, duck_bridge_s=0.5)
    regions = [(2.0, 4.0), (4.3, 5.0), (8.0, 9.0)]  # 0.3 s gap is bridged, 3 s gap is not
    env = duck_envelope(regions, 12 * SR, SR, cfg)
    db = 20 * np.log10(env)
    at = lambda t: db[int(t * SR)]  # noqa: E731
    assert at(1.0) == pytest.approx(0.0, abs=DUCK_TOLERANCE_DB)
    assert at(1.85) == pytest.approx(0.0, abs=DUCK_TOLERANCE_DB)  # before the pre-roll
    assert -8.0 < at(1.95) < 0.0  # ramping during the pre-roll
    assert at(2.0) == pytest.approx(-8.0, abs=DUCK_TOLERANCE_DB)  # full depth when speech starts
    assert at(3.0) == pytest.approx(-8.0, abs=DUCK_TOLERANCE_DB)
    assert at(4.15) == pytest.approx(-8.0, abs=DUCK_TOLERANCE_DB)  # bridged gap stays down
    assert -8.0 < at(5.25) < 0.0  # releasing
    assert at(5.6) == pytest.approx(0.0, abs=DUCK_TOLERANCE_DB)
    assert at(6.5) == pytest.approx(0.0, abs=DUCK_TOLERANCE_DB)  # the long gap recovers
    assert at(8.5) == pytest.approx(-8.0, abs=DUCK_TOLERANCE_DB)
    assert np.max(np.abs(np.diff(db))) < 0.01  # smooth: no step larger than 0.01 dB per sample


def test_merged_regions():
    assert merged_regions([(5, 6), (0, 1), (1.2, 2)], 0.5) == [(0, 2), (5, 6)]


def test_duck_depth_measured_in_the_mix():
    """A steady bed is 8 dB lower (relative) while speech plays than in the clear."""
    bed = tone(10.0, freq_hz=200.0, amplitude=0.05, channels=2)
    t = timeline([("A", 4.0, 6.0)], cues=(PlacedCue(0, "ambience", "hum", 1, 0.0, 10.0, ()),), duration_s=10.0)
    cfg = MixConfig(target_lufs=-30.0, duck_db=8.0)
    silent = np.zeros((int(2.0 * SR), 1), np.float32) + 1e-9
    result = mix(t, {0: silent}, {0: bed}, {}, cfg)
    def rms(a, b):
        seg = result.master[int(a * SR):int(b * SR)]
        return 20 * math.log10(np.sqrt(np.mean(seg**2)))
    assert rms(4.5, 5.5) - rms(2.5, 3.5) == pytest.approx(-8.0, abs=0.1)


def test_ambience_crossfade_has_no_clicks_and_keeps_level():
    a, b = noise(8.0, 0.1, seed=1), noise(8.0, 0.1, seed=2)
    cues = (PlacedCue(0, "ambience", "a", 1, 0.0, 8.0, (("fade_s", 2.0),)),
            PlacedCue(1, "ambience", "b", 2, 6.0, 14.0, (("fade_s", 2.0),)))
    t = timeline([], cues=cues, duration_s=14.0)
    cfg = MixConfig(target_lufs=-30.0)
    out = mix(t, {}, {0: a, 1: b}, {}, cfg).master
    def rms(a0, b0):
        return 20 * math.log10(np.sqrt(np.mean(out[int(a0 * SR):int(b0 * SR)] ** 2)))
    steady = rms(3.0, 5.0)
    assert rms(6.8, 7.2) == pytest.approx(steady, abs=1.0)  # equal-power: no dip in the middle
    diffs = np.abs(np.diff(out[:, 0]))
    assert diffs[int(5.9 * SR):int(8.1 * SR)].max() < 1.5 * diffs[int(3 * SR):int(5 * SR)].max()


def test_output_length_is_the_timeline_end_and_tails_are_cut():
    t = timeline([("A", 0.5, 1.5)], duration_s=2.0)
    long_clip = tone(3.0, channels=1)  # runs past the end (a reverb tail, say)
    out = mix(t, {0: long_clip}, {}, {}, MixConfig()).master
    assert out.shape == (2 * SR, 2)
    assert abs(out[-1]).max() < 1e-3  # faded, not chopped


def test_each_utterance_is_levelled_to_the_speech_anchor():
    quiet, loud = speechlike(3.0, seed=1) * 0.1, speechlike(3.0, seed=2) * 3.0
    t = timeline([("A", 0.0, 3.0), ("B", 4.0, 7.0)], duration_s=8.0)
    cfg = MixConfig(target_lufs=-18.0)
    out = mix(t, {0: quiet, 1: np.clip(loud, -1, 1)}, {}, {}, cfg).master
    first, second = integrated_lufs(out[: 3 * SR], SR), integrated_lufs(out[4 * SR: 7 * SR], SR)
    assert abs(first - second) < 1.0


def test_sfx_sit_below_speech_and_honour_gain_and_pan():
    t = timeline([("A", 0.0, 2.0)], duration_s=6.0,
                 cues=(PlacedCue(0, "sfx", "boom", 1, 3.0, 4.0, (("pan", -1.0),)),))
    sfx = noise(1.0, 0.5, channels=1)
    out = mix(t, {0: speechlike(2.0)}, {}, {0: sfx}, MixConfig(target_lufs=-20)).master
    region = out[3 * SR: 4 * SR]
    assert np.sqrt(np.mean(region[:, 0] ** 2)) > 10 * np.sqrt(np.mean(region[:, 1] ** 2))  # hard left
    assert db_to_gain(0) == 1.0


def test_clips_given_as_they_arrive_mix_to_the_same_bits():
    """The dora mixer places each line and cue clip as soon as the ones before it are placed; in whatever
    order they arrive (beds before the dialogue, the second line first, the last sfx first), the bus is the one ``mix_bus`` sums, bit
    for bit, with overlapping beds, sfx on beds and mono dialogue panned on placement."""
    from nodes.common.audio import to_stereo
    from nodes.mixer.core import Bus, mix_bus

    cues = (PlacedCue(0, "ambience", "a", 1, 0.0, 5.0, (("fade_s", 1.0),)),
            PlacedCue(1, "sfx", "x", 2, 1.0, 2.0, (("pan", 0.5),)),
            PlacedCue(2, "ambience", "b", 3, 4.0, 8.0, (("fade_s", 1.0),)),
            PlacedCue(3, "sfx", "y", 4, 4.5, 5.5, ()))
    t = timeline([("A", 0.5, 2.5), ("B", 3.0, 6.0)], cues=cues, duration_s=8.0)
    speech = {0: speechlike(2.0, seed=3), 1: speechlike(3.0, seed=4)}
    pans = {0: -0.3, 1: 0.4}
    clips = {0: noise(5.0, 0.1, seed=5), 1: noise(1.0, 0.3, seed=6, channels=1), 2: noise(4.0, 0.1, seed=7),
             3: noise(1.0, 0.3, seed=8)}
    whole = mix_bus(t, {k: to_stereo(v, pans[k]) for k, v in speech.items()}, {0: clips[0], 2: clips[2]},
                    {1: clips[1], 3: clips[3]}, MixConfig())
    bus = Bus(t, MixConfig())
    for index in (3, 2):
        bus.add_cue(index, clips[index])
    assert not bus.complete and bus.missing() == ["segment 0", "segment 1", "cue 0", "cue 1"]
    bus.add_segment(1, speech[1], pans[1])  # the second line first: it waits for the first
    assert not bus.dialogue_placed and bus.missing()[0] == "segment 0"
    bus.add_segment(0, speech[0], pans[0])
    assert bus.dialogue_placed
    bus.add_cue(1, clips[1])
    assert bus.missing() == ["cue 0"] and not bus.complete
    bus.add_cue(0, clips[0])
    assert bus.complete and bus.missing() == []
    assert bus.audio.tobytes() == whole.tobytes()
    at_once = Bus(t, MixConfig())
    at_once.add_dialogue(speech, pans)
    for index in range(4):
        at_once.add_cue(index, clips[index])
    assert at_once.audio.tobytes() == whole.tobytes()
