"""The library backend: tag matching, looped beds, one-shots at their file's length, licences required,
procedural fallback with a warning."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import yaml

from nodes.ambience.backends.base import BackendUnavailable
from nodes.ambience.backends.library import LibraryBackend
from nodes.common.errors import ConfigError, DramaflowWarning

SR = 48000


def tone(path, freq_hz: float, seconds: float, rate: int = 44100, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    audio = (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    audio = np.stack([audio] * channels, axis=1) if channels > 1 else audio
    sf.write(path, audio, rate)
    return audio


@pytest.fixture
def library(tmp_path):
    tone(tmp_path / "rain.wav", 220, 2.0)
    tone(tmp_path / "roof.flac", 330, 2.0)
    tone(tmp_path / "knock.wav", 880, 0.8, rate=22050, channels=1)
    tone(tmp_path / "knock2.wav", 990, 1.2)
    index = {
        "scenes": {
            "rain": {"file": "rain.wav", "tags": ["rain"], "license": "CC0 1.0"},
            "rain-on-roof": {"file": "roof.flac", "tags": ["rain", "tin roof"], "license": "CC0 1.0"},
        },
        "sfx": {
            "knock": {"file": "knock.wav", "tags": ["door", "knock"], "license": "own recording"},
            "knock-2": {"file": "knock2.wav", "tags": ["knock"], "license": "own recording"},
        },
    }
    (tmp_path / "library.yaml").write_text(yaml.safe_dump(index))
    return tmp_path


def test_the_entry_with_most_matching_tags_wins_and_a_multi_word_tag_needs_all_its_words(library):
    b = LibraryBackend(library)
    assert b.render_bed("heavy rain on a tin roof", 3.0, SR, 1).matched == ("rain-on-roof",)
    assert b.render_bed("rain on a roof", 3.0, SR, 1).matched == ("rain",)  # "tin roof" is not all there
    assert b.render_sfx("a knock at the door", SR, 1).matched == ("knock",)
    assert b.render_sfx("knock", SR, 1).matched == ("knock",)  # a tie goes to the first in the file


def test_ties_between_scenes_follow_the_seed(library):
    (library / "library.yaml").write_text(yaml.safe_dump({"scenes": {
        "a": {"file": "rain.wav", "tags": ["rain"], "license": "x"},
        "b": {"file": "roof.flac", "tags": ["rain"], "license": "x"}}}))
    b = LibraryBackend(library)
    picks = {seed: b.render_bed("rain", 1.0, SR, seed).matched for seed in range(12)}
    assert set(picks.values()) == {("a",), ("b",)}
    assert all(b.render_bed("rain", 1.0, SR, seed).matched == picks[seed] for seed in range(12))


def test_a_bed_is_its_file_resampled_and_looped_to_the_exact_length(library):
    b = LibraryBackend(library, loop_crossfade_s=0.5)
    sound = b.render_bed("rain on a tin roof", 5.0, SR, 0)
    assert sound.audio.shape == (5 * SR, 2) and sound.audio.dtype == np.float32 and not sound.fallback
    for second in range(5):  # the 330 Hz file all through, across the seams
        spectrum = np.abs(np.fft.rfft(sound.audio[second * SR:(second + 1) * SR, 0]))
        assert abs(int(np.argmax(spectrum)) - 330) <= 1  # 1 s windows: 1 Hz bins


def test_a_one_shot_lasts_as_long_as_its_file_unless_the_cue_says(library):
    b = LibraryBackend(library)
    assert b.sfx_duration_s("door knock") == pytest.approx(0.8)
    mono = b.render_sfx("door knock", SR, 0)
    assert mono.audio.shape == (round(0.8 * SR), 2)  # mono file → both channels
    assert np.allclose(mono.audio[:, 0], mono.audio[:, 1])
    short = b.render_sfx("door knock", SR, 0, 0.5)
    longer = b.render_sfx("door knock", SR, 0, 2.0)
    assert short.audio.shape == (SR // 2, 2) and abs(short.audio[-1]).max() < 1e-3  # faded at the cut
    assert longer.audio.shape == (2 * SR, 2) and not longer.audio[round(0.81 * SR):].any()  # silence after


def test_unmatched_prompts_fall_back_to_procedural_with_a_warning(library):
    b = LibraryBackend(library)
    with pytest.warns(DramaflowWarning, match="no library scene matches 'crackling fire'"):
        bed = b.render_bed("crackling fire", 2.0, SR, 0)
    with pytest.warns(DramaflowWarning, match="no library sound effect matches 'gunshot'"):
        shot = b.render_sfx("gunshot", SR, 0)
    assert bed.fallback and bed.audio.shape == (2 * SR, 2) and np.abs(bed.audio).max() > 0
    assert shot.fallback and shot.audio.shape[0] > 0


@pytest.mark.parametrize("entry, message", [
    ({"file": "rain.wav", "tags": ["rain"]}, "say under which licence"),
    ({"file": "missing.wav", "tags": ["rain"], "license": "x"}, "'missing.wav' not found"),
    ({"file": "rain.wav", "tags": [], "license": "x"}, "tags must be a non-empty list"),
    ({"file": "rain.wav", "tags": ["rain"], "license": "x", "gain": 3}, "unknown key"),
    ({"file": "library.yaml", "tags": ["rain"], "license": "x"}, "not readable audio"),
])
def test_bad_entries_are_named_with_the_fix(library, entry, message):
    (library / "library.yaml").write_text(yaml.safe_dump({"scenes": {"storm": entry}}))
    with pytest.raises(ConfigError, match=f"scenes.storm: .*{message}"):
        LibraryBackend(library)


def test_no_folder_or_no_index_means_unavailable(tmp_path):
    with pytest.raises(BackendUnavailable, match="needs a folder"):
        LibraryBackend("")
    with pytest.raises(BackendUnavailable, match="has no library.yaml"):
        LibraryBackend(tmp_path)
