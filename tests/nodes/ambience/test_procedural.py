"""Procedural ambience beds and one-shots: matching, levels, determinism, stereo, continuity, spectra."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.ambience.backends.base import AmbienceBackend, Sound
from nodes.ambience.backends.procedural import (
    BED_LUFS,
    PEAK_CEILING,
    SCENE_KEYWORDS,
    SFX_KEYWORDS,
    SFX_MAX_MOMENTARY_LUFS,
    SFX_MAX_S,
    SFX_MIN_S,
    SFX_NOMINAL_S,
    ProceduralBackend,
)
from nodes.ambience.backends.registry import backend_names, get_backend, register_backend
from nodes.common.audio import integrated_lufs, max_momentary_lufs, seconds_to_samples
from nodes.common.errors import ConfigError, DramaflowWarning

SR = 22050  # the tests run at a low rate to stay fast; rates are covered separately
BED_S = 3.0
SEED = 11
BED_LUFS_TOLERANCE_DB = 1.0
SFX_LUFS_TOLERANCE_DB = 1.0
SHORT_SFX_LUFS_TOLERANCE_DB = 3.0  # ≤ 0.15 s sounds are peak-limited before they reach the target
MAX_WINDOW_DROP_DB = 30.0  # no 1 s window of a bed may be this far under the median window
MAX_STEREO_CORRELATION = 0.95
FADE_EDGE_MAX = 1e-3  # first/last sample of a bed after its 50 ms fade

SCENE_PROMPTS = {
    "rain": "light rain on a tin roof",
    "thunderstorm": "a thunderstorm at night",
    "wind": "howling wind",
    "ocean": "ocean waves on the beach",
    "river": "a babbling brook",
    "fire": "crackling campfire",
    "forest": "forest birds in the morning",
    "insects": "crickets chirping",
    "traffic": "busy city traffic",
    "cafe": "a crowded café",
    "room_tone": "quiet office",
    "train": "inside a train",
    "car": "car interior, engine humming",
}

SFX_PROMPTS = {
    "door_knock": "a knock at the door",
    "door_creak": "creaking door opens slowly",
    "footsteps": "footsteps in the hall",
    "phone_ring": "old phone ringing",
    "bell": "church bell",
    "thunder_clap": "a loud thunder clap",
    "glass_clink": "two wine glasses clink",
    "glass_shatter": "glass shatters on the floor",
    "click": "light switch click",
    "whoosh": "a fast whoosh",
    "alarm": "alarm beeping",
    "siren": "police siren",
    "gunshot": "a single gunshot",
    "splash": "a splash into the pool",
    "typing": "typing on a keyboard",
    "impact": "a heavy thud",
}

CHINESE_BEDS = {
    "下着大雨": ("rain",),
    "远处的雷声": ("thunderstorm",),
    "海边的风": ("ocean", "wind"),
    "小河流水": ("river",),
    "壁炉里的火": ("fire",),
    "森林里的鸟鸣": ("forest",),
    "夏夜虫鸣": ("insects",),
    "热闹的街道": ("traffic",),
    "咖啡馆": ("cafe",),
    "办公室": ("room_tone",),
    "火车车厢": ("train",),
    "坐在车里": ("car",),
}

CHINESE_SFX = {
    "有人敲门": "door_knock",
    "门吱呀一声开了": "door_creak",
    "脚步声": "footsteps",
    "电话铃响了": "phone_ring",
    "门铃": "bell",
    "打雷": "thunder_clap",
    "玻璃杯": "glass_clink",
    "玻璃碎了": "glass_shatter",
    "咔嚓": "click",
    "嗖的一声": "whoosh",
    "警报响起": "alarm",
    "警笛": "siren",
    "枪声": "gunshot",
    "扑通一声落水": "splash",
    "打字声": "typing",
    "砰": "impact",
}


@pytest.fixture(scope="session")
def backend() -> ProceduralBackend:
    return ProceduralBackend()


def _window_rms_db(audio: np.ndarray, sample_rate: int, window_s: float = 1.0) -> np.ndarray:
    """RMS in dB of each whole ``window_s`` window (hop half a window)."""
    size, hop = int(window_s * sample_rate), int(window_s * sample_rate) // 2
    starts = range(0, audio.shape[0] - size + 1, hop)
    rms = np.array([np.sqrt(np.mean(audio[s : s + size].astype(np.float64) ** 2)) for s in starts])
    return 20.0 * np.log10(np.maximum(rms, 1e-12))


def _power_spectrum(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    mono = audio.astype(np.float64).mean(axis=1)
    return np.fft.rfftfreq(mono.shape[0], 1.0 / sample_rate), np.abs(np.fft.rfft(mono)) ** 2


def _fraction(audio: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> float:
    """Share of the signal's power between ``low_hz`` and ``high_hz``."""
    freqs, power = _power_spectrum(audio, sample_rate)
    return float(power[(freqs >= low_hz) & (freqs < high_hz)].sum() / power.sum())


def _onsets(audio: np.ndarray, sample_rate: int, threshold_db: float = -20.0) -> int:
    """Count rises of the 10 ms envelope above ``threshold_db`` under its maximum."""
    frame = int(0.01 * sample_rate)
    mono = np.abs(audio).max(axis=1)
    env = mono[: mono.shape[0] // frame * frame].reshape(-1, frame).max(axis=1)
    above = env > env.max() * 10 ** (threshold_db / 20.0)
    return int(np.count_nonzero(above[1:] & ~above[:-1]) + int(above[0]))


def _digest(sound: Sound) -> str:
    return hashlib.sha256(sound.audio.tobytes()).hexdigest()


# ---------------------------------------------------------------------------------------------------
# Registry and catalogue


def test_registry_builds_procedural_and_rejects_unknown_names():
    backend = get_backend("procedural")
    assert isinstance(backend, ProceduralBackend)
    assert isinstance(backend, AmbienceBackend)
    assert backend.name == "procedural"
    assert "procedural" in backend_names()
    with pytest.raises(ConfigError, match="procedural"):
        get_backend("no-such-backend")
    with pytest.raises(ConfigError, match="no options"):
        get_backend("procedural", quality="high")


def test_register_backend_adds_a_name():
    register_backend("test-alias", lambda **options: ProceduralBackend(**options))
    assert "test-alias" in backend_names()
    assert isinstance(get_backend("test-alias"), ProceduralBackend)


def test_catalogue_has_every_required_scene_and_one_shot(backend):
    assert set(SCENE_PROMPTS) == set(SCENE_KEYWORDS)
    assert len(SCENE_KEYWORDS) >= 13
    assert set(SFX_PROMPTS) == set(SFX_KEYWORDS)
    assert len(SFX_KEYWORDS) >= 11
    listing = backend.describe()
    assert [line.split(":")[0] for line in listing["scenes"]] == list(SCENE_KEYWORDS)
    assert [line.split(":")[0] for line in listing["sfx"]] == list(SFX_KEYWORDS)
    assert "rain: rain, " in listing["scenes"][0]
    assert all(", " in line for line in listing["scenes"] + listing["sfx"])


@pytest.mark.parametrize("table", [SCENE_KEYWORDS, SFX_KEYWORDS], ids=["scenes", "sfx"])
def test_keywords_are_unique_and_cover_chinese(table):
    everything = [kw for keywords in table.values() for kw in keywords]
    assert len(everything) == len(set(everything))
    for name, keywords in table.items():
        assert any(not kw.isascii() for kw in keywords), f"{name} has no Chinese keyword"


def test_every_scene_keyword_alone_matches_its_scene(backend):
    for name, keywords in SCENE_KEYWORDS.items():
        for keyword in keywords:
            assert backend.match_bed(keyword) == (name,), keyword
            assert backend.match_bed(f"Some {keyword.upper()} here") == (name,), keyword


def test_every_sfx_keyword_alone_matches_its_one_shot(backend):
    for name, keywords in SFX_KEYWORDS.items():
        for keyword in keywords:
            assert backend.match_sfx(keyword) == name, keyword


def test_keywords_match_whole_words_only(backend):
    assert backend.match_bed("a scary carpet in a seasonal strain") == ()
    assert backend.match_sfx("unlockable") is None


# ---------------------------------------------------------------------------------------------------
# Beds


@pytest.mark.parametrize("scene", list(SCENE_PROMPTS))
def test_every_scene_renders_a_continuous_stereo_bed_at_the_target_level(backend, scene):
    sound = backend.render_bed(SCENE_PROMPTS[scene], BED_S, SR, SEED)
    audio = sound.audio
    assert sound.matched == (scene,)
    assert sound.fallback is False
    assert sound.sample_rate == SR
    assert audio.dtype == np.float32
    assert audio.shape == (seconds_to_samples(BED_S, SR), 2)
    assert abs(integrated_lufs(audio, SR) - BED_LUFS) <= BED_LUFS_TOLERANCE_DB
    assert np.max(np.abs(audio)) < PEAK_CEILING
    assert not np.array_equal(audio[:, 0], audio[:, 1])
    assert np.corrcoef(audio[:, 0], audio[:, 1])[0, 1] < MAX_STEREO_CORRELATION
    windows_db = _window_rms_db(audio, SR)
    assert windows_db.min() > np.median(windows_db) - MAX_WINDOW_DROP_DB
    assert np.max(np.abs(audio[0])) < FADE_EDGE_MAX and np.max(np.abs(audio[-1])) < FADE_EDGE_MAX


def test_long_bed_is_rebuilt_from_texture_without_gaps_or_repeats(backend):
    duration_s = 45.0  # longer than one texture and than the calibration probe
    audio = backend.render_bed("heavy rain, distant thunder", duration_s, SR, SEED).audio
    assert audio.shape == (seconds_to_samples(duration_s, SR), 2)
    assert abs(integrated_lufs(audio, SR) - BED_LUFS) <= BED_LUFS_TOLERANCE_DB
    windows_db = _window_rms_db(audio, SR)
    assert windows_db.min() > np.median(windows_db) - MAX_WINDOW_DROP_DB
    second = SR
    first_second = audio[5 * second : 6 * second]
    later = [audio[s : s + second] for s in range(6 * second, audio.shape[0] - second, second // 2)]
    assert not any(np.array_equal(first_second, chunk) for chunk in later)


def test_bed_is_bit_identical_for_a_seed_and_differs_for_another(backend):
    first = backend.render_bed("rain with distant thunder", 2.0, SR, 1)
    again = backend.render_bed("rain with distant thunder", 2.0, SR, 1)
    other = backend.render_bed("rain with distant thunder", 2.0, SR, 2)
    assert np.array_equal(first.audio, again.audio)
    assert not np.allclose(first.audio, other.audio)


def test_randomness_does_not_depend_on_python_hash_seed(backend):
    code = (
        "import hashlib; from nodes.ambience.backends.procedural import ProceduralBackend as B;"
        "b = B(); print(hashlib.sha256(b.render_bed('wind', 0.5, 8000, 3).audio.tobytes()"
        "+ b.render_sfx('knock', 8000, 3).audio.tobytes()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        digests.add(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
    local = hashlib.sha256(
        backend.render_bed("wind", 0.5, 8000, 3).audio.tobytes()
        + backend.render_sfx("knock", 8000, 3).audio.tobytes()
    ).hexdigest()
    assert digests == {local + "\n"}


def test_two_scenes_layer_in_prompt_order(backend):
    sound = backend.render_bed("rain with distant thunder", BED_S, SR, SEED)
    assert sound.matched == ("rain", "thunderstorm")
    assert sound.fallback is False
    assert backend.match_bed("distant thunder and rain") == ("thunderstorm", "rain")
    assert abs(integrated_lufs(sound.audio, SR) - BED_LUFS) <= BED_LUFS_TOLERANCE_DB


def test_at_most_three_scenes_are_layered(backend):
    sound = backend.render_bed("wind, rain, fire, river and a train", BED_S, SR, SEED)
    assert sound.matched == ("wind", "rain", "fire")


def test_adjectives_change_the_sound(backend):
    rain = backend.render_bed("rain", BED_S, SR, SEED).audio
    distant = backend.render_bed("distant rain", BED_S, SR, SEED).audio
    heavy = backend.render_bed("heavy rain", BED_S, SR, SEED).audio
    light = backend.render_bed("light rain", BED_S, SR, SEED).audio
    assert _fraction(distant, SR, 2000, SR / 2) < 0.5 * _fraction(rain, SR, 2000, SR / 2)
    assert _fraction(heavy, SR, 0, 500) > 1.5 * _fraction(light, SR, 0, 500)


def test_adjectives_apply_to_their_own_clause(backend):
    both = backend.render_bed("heavy rain, distant thunder", 20.0, SR, SEED).audio
    only_rain = backend.render_bed("heavy rain", 20.0, SR, SEED).audio
    # the thunder layer adds low rumble, but the rain itself is not darkened by "distant"
    assert _fraction(both, SR, 2000, SR / 2) > 0.5 * _fraction(only_rain, SR, 2000, SR / 2)
    assert _fraction(both, SR, 0, 200) > _fraction(only_rain, SR, 0, 200)


@pytest.mark.parametrize("prompt, expected", list(CHINESE_BEDS.items()))
def test_chinese_bed_prompts_match(backend, prompt, expected):
    assert backend.match_bed(prompt) == expected


def test_chinese_bed_renders(backend):
    sound = backend.render_bed("下着大雨，远处有雷声", BED_S, SR, SEED)
    assert sound.matched == ("rain", "thunderstorm")
    assert sound.fallback is False


def test_unmatched_bed_prompt_warns_and_falls_back_to_audible_room_tone(backend):
    with pytest.warns(
        DramaflowWarning, match="no procedural ambience matches 'the surface of mars'; using room tone"
    ):
        sound = backend.render_bed("the surface of mars", BED_S, SR, SEED)
    assert sound.fallback is True
    assert sound.matched == ("room_tone",)
    assert abs(integrated_lufs(sound.audio, SR) - BED_LUFS) <= BED_LUFS_TOLERANCE_DB


def test_rain_is_brighter_than_room_tone(backend):
    rain = backend.render_bed("rain", BED_S, SR, SEED).audio
    room = backend.render_bed("room tone", BED_S, SR, SEED).audio
    assert _fraction(rain, SR, 2000, SR / 2) > 3 * _fraction(room, SR, 2000, SR / 2)


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
def test_beds_and_sfx_work_at_any_rate(backend, sample_rate):
    bed = backend.render_bed("ocean waves", 1.0, sample_rate, SEED)
    sfx = backend.render_sfx("glass clink", sample_rate, SEED)
    assert bed.audio.shape == (sample_rate, 2) and bed.sample_rate == sample_rate
    assert sfx.audio.shape == (seconds_to_samples(backend.sfx_duration_s("glass clink"), sample_rate), 2)
    assert abs(integrated_lufs(bed.audio, sample_rate) - BED_LUFS) <= BED_LUFS_TOLERANCE_DB


@pytest.mark.parametrize("duration_s", [0.01, 0.3, 1.7])
def test_short_beds_have_exact_length_and_sound(backend, duration_s):
    audio = backend.render_bed("fire", duration_s, SR, SEED).audio
    assert audio.shape == (seconds_to_samples(duration_s, SR), 2)
    assert np.max(np.abs(audio)) > 0


@pytest.mark.parametrize("duration_s", [0.0, -1.0, math.nan, math.inf])
def test_bad_bed_durations_are_config_errors(backend, duration_s):
    with pytest.raises(ConfigError):
        backend.render_bed("rain", duration_s, SR, SEED)


def test_bad_sample_rate_is_a_config_error(backend):
    with pytest.raises(ConfigError):
        backend.render_bed("rain", 1.0, 1000, SEED)
    with pytest.raises(ConfigError):
        backend.render_sfx("knock", 1000, SEED)


# ---------------------------------------------------------------------------------------------------
# One-shots


@pytest.mark.parametrize("name", list(SFX_PROMPTS))
def test_every_one_shot_renders_at_its_nominal_length_and_level(backend, name):
    prompt = SFX_PROMPTS[name]
    sound = backend.render_sfx(prompt, SR, SEED)
    assert sound.matched == (name,)
    assert sound.fallback is False
    assert backend.sfx_duration_s(prompt) == SFX_NOMINAL_S[name]
    assert sound.audio.shape == (seconds_to_samples(backend.sfx_duration_s(prompt), SR), 2)
    assert sound.audio.dtype == np.float32
    assert abs(max_momentary_lufs(sound.audio, SR) - SFX_MAX_MOMENTARY_LUFS) <= SFX_LUFS_TOLERANCE_DB
    assert np.max(np.abs(sound.audio)) < PEAK_CEILING


@pytest.mark.parametrize("name", list(SFX_PROMPTS))
@pytest.mark.parametrize("duration_s", [0.01, 0.05, 0.4, 6.0, 120.0])
def test_explicit_sfx_durations_are_clamped_and_exact(backend, name, duration_s):
    prompt = SFX_PROMPTS[name]
    expected_s = min(max(duration_s, SFX_MIN_S), SFX_MAX_S)
    assert backend.sfx_duration_s(prompt, duration_s) == expected_s
    if duration_s > 6.0:
        return  # 30 s renders are covered below for a few one-shots; keep this test fast
    sound = backend.render_sfx(prompt, SR, SEED, duration_s)
    assert sound.audio.shape == (seconds_to_samples(expected_s, SR), 2)
    tolerance = SHORT_SFX_LUFS_TOLERANCE_DB if expected_s <= 0.15 else SFX_LUFS_TOLERANCE_DB
    assert abs(max_momentary_lufs(sound.audio, SR) - SFX_MAX_MOMENTARY_LUFS) <= tolerance
    assert np.max(np.abs(sound.audio)) < PEAK_CEILING


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(sorted(SFX_PROMPTS)),
    duration_s=st.one_of(st.none(), st.floats(min_value=0.0, max_value=4.0)),
    sample_rate=st.sampled_from([8000, 11025, 22050]),
)
def test_sfx_duration_s_always_equals_the_rendered_length(name, duration_s, sample_rate):
    backend = ProceduralBackend()
    prompt = SFX_PROMPTS[name]
    sound = backend.render_sfx(prompt, sample_rate, SEED, duration_s)
    assert sound.audio.shape == (
        seconds_to_samples(backend.sfx_duration_s(prompt, duration_s), sample_rate),
        2,
    )
    assert 0 < np.max(np.abs(sound.audio)) < PEAK_CEILING


@pytest.mark.parametrize("prompt", ["footsteps", "alarm", "bell"])
def test_maximum_sfx_duration_renders(backend, prompt):
    sound = backend.render_sfx(prompt, 8000, SEED, 1000.0)
    assert sound.audio.shape == (seconds_to_samples(SFX_MAX_S, 8000), 2)


@pytest.mark.parametrize(
    "prompt, short_s, long_s",
    [
        ("knock", 0.9, 3.0),
        ("footsteps", 2.5, 6.0),
        ("typing", 1.0, 4.0),
        ("alarm", 1.0, 4.0),
        ("phone ringing", 3.0, 9.0),
    ],
)
def test_longer_requests_repeat_the_pattern(backend, prompt, short_s, long_s):
    short = _onsets(backend.render_sfx(prompt, SR, SEED, short_s).audio, SR)
    long = _onsets(backend.render_sfx(prompt, SR, SEED, long_s).audio, SR)
    assert short >= 1
    assert long >= 2 * short - 1


def test_knock_pattern_has_two_or_three_knocks_by_default(backend):
    assert 2 <= _onsets(backend.render_sfx("door knock", SR, SEED).audio, SR) <= 3


def test_sfx_is_bit_identical_for_a_seed_and_differs_for_another(backend):
    first = backend.render_sfx("glass shatter", SR, 1)
    assert _digest(first) == _digest(backend.render_sfx("glass shatter", SR, 1))
    assert _digest(first) != _digest(backend.render_sfx("glass shatter", SR, 2))


def test_unmatched_sfx_prompt_warns_and_falls_back_to_a_soft_impact(backend):
    with pytest.warns(DramaflowWarning, match="'a quantum flux'"):
        sound = backend.render_sfx("a quantum flux", SR, SEED)
    assert sound.fallback is True
    assert sound.matched == ("impact",)
    assert sound.audio.shape[0] == seconds_to_samples(backend.sfx_duration_s("a quantum flux"), SR)
    assert abs(max_momentary_lufs(sound.audio, SR) - SFX_MAX_MOMENTARY_LUFS) <= SFX_LUFS_TOLERANCE_DB


def test_bad_sfx_duration_is_a_config_error(backend):
    with pytest.raises(ConfigError):
        backend.sfx_duration_s("knock", math.nan)


def test_specific_keywords_beat_generic_ones(backend):
    assert backend.match_sfx("door knock") == "door_knock"
    assert backend.match_sfx("door") == "door_creak"
    assert backend.match_sfx("glass break") == "glass_shatter"
    assert backend.match_sfx("smash the glass") == "glass_shatter"
    assert backend.match_sfx("a wine glass") == "glass_clink"
    assert backend.match_sfx("phone ring") == "phone_ring"
    assert backend.match_sfx("ring the bell") == "bell"


@pytest.mark.parametrize("prompt, expected", list(CHINESE_SFX.items()))
def test_chinese_sfx_prompts_match(backend, prompt, expected):
    assert backend.match_sfx(prompt) == expected


def test_chinese_sfx_renders(backend):
    sound = backend.render_sfx("有人敲门", SR, SEED)
    assert sound.matched == ("door_knock",) and sound.fallback is False


def test_thunder_clap_is_mostly_low(backend):
    audio = backend.render_sfx("thunder clap", SR, SEED).audio
    assert _fraction(audio, SR, 0, 500) > 0.8


def test_phone_ring_is_tonal(backend):
    audio = backend.render_sfx("phone ring", SR, SEED).audio
    freqs, power = _power_spectrum(audio, SR)
    assert power.max() > 1e4 * np.median(power)  # a clear peak, 40 dB over the floor
    assert 380 <= freqs[np.argmax(power)] <= 470


def test_whoosh_sweeps_through_the_mid_band(backend):
    audio = backend.render_sfx("whoosh", SR, SEED).audio
    assert _fraction(audio, SR, 300, 4000) > 0.6
    assert not np.array_equal(audio[:, 0], audio[:, 1])


def test_bell_rings_on(backend):
    audio = backend.render_sfx("bell", SR, SEED).audio
    windows_db = _window_rms_db(audio, SR, 0.5)
    assert windows_db[0] > windows_db[-1] > windows_db[0] - 40  # decays, but still rings at the end


def test_distant_sfx_is_darker(backend):
    near = backend.render_sfx("gunshot", SR, SEED).audio
    far = backend.render_sfx("distant gunshot", SR, SEED).audio
    assert _fraction(far, SR, 2000, SR / 2) < 0.5 * _fraction(near, SR, 2000, SR / 2)
