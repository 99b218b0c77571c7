"""Casting: tags on voices, descriptions of speakers, and the choice of an unused fitting voice."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from nodes.common.casting import AGE_WORDS, Description, choose, fits, parse_age, rank
from nodes.common.errors import ConfigError, ScriptError
from nodes.common.voices import parse_voices
from nodes.segmenter.core import parse_script


@dataclass(frozen=True)
class V:
    language: str = "en"
    provider: str = "piper"
    gender: str | None = None
    age: tuple[int, int] | None = None
    accent: str | None = None
    style: tuple[str, ...] = ()


def test_ages_are_words_or_ranges():
    assert parse_age("old") == AGE_WORDS["old"]
    assert parse_age([20, 30]) == parse_age("20-30") == (20, 30)
    assert parse_age(45) == (45, 45)
    for bad in ("ancient", [30, 20], [1, 2, 3], True, "x-y"):
        with pytest.raises(ValueError, match="is not a range"):
            parse_age(bad)
    with pytest.raises(ValueError, match="gender 'woman' is not one of female, male, neutral"):
        Description.parse({"gender": "woman"})


def test_a_voice_fits_when_every_given_tag_agrees():
    old_woman = V(gender="female", age=(60, 85), accent="British RP")
    assert fits(old_woman, Description(gender="female", age=(70, 95)))
    assert fits(old_woman, Description(accent="british"), "en")
    assert not fits(old_woman, Description(gender="male"))
    assert not fits(old_woman, Description(age=(18, 32)))
    assert not fits(old_woman, Description(accent="american"))
    assert not fits(old_woman, Description(), "zh")
    assert not fits(V(gender="female"), Description(age=(20, 30)))  # no age on the voice: not a fit for an age


def test_ranking_prefers_style_then_working_providers_then_neural_then_library_order():
    entries = {
        "robot": V(provider="espeak", style=("warm",)),
        "paid": V(provider="minimax", style=("warm",)),
        "plain": V(),
        "warm": V(style=("warm",)),
    }
    offline = lambda p: p != "minimax"  # noqa: E731
    assert rank(entries, entries, Description(style=("warm",)), offline) == ["warm", "robot", "paid", "plain"]
    assert rank(entries, entries, Description(), offline) == ["plain", "warm", "robot", "paid"]


def test_choose_skips_voices_other_speakers_have_and_says_which():
    entries = {"a": V(gender="female"), "b": V(gender="female"), "c": V(gender="male")}
    want = Description(gender="female")
    assert choose(want, entries, language="en", taken={"a"}, provider_available=lambda p: True) == ("b", ["a"])
    assert choose(want, entries, language="en", taken={"a", "b"}, provider_available=lambda p: True) == (None, ["a", "b"])


def test_the_library_refuses_bad_tags_naming_the_voice():
    base = {"display_name": "X", "provider": "piper", "language": "en"}
    with pytest.raises(ConfigError, match="voice 'x': age: .*is not a range"):
        parse_voices({"x": {**base, "age": "ancient"}})
    with pytest.raises(ConfigError, match="voice 'x': provider: .*unknown provider 'nope'"):
        parse_voices({"x": {**base, "provider": "nope"}})
    entry = parse_voices({"x": {**base, "age": "young", "style": "Warm, clear"}}).entries["x"]
    assert entry.age == AGE_WORDS["young"] and entry.style == ("clear", "warm")


SCRIPT = """---
language: en
voices:
  Narrator: en-joe
  Mara: {{gender: female, age: old, pan: -0.2}}
  Tom: {{gender: male, age: young, style: calm}}
  Ivy: {{gender: female}}
{extra}---
Narrator: It was late.

Mara: Who's there?

Tom: Only me.

Ivy: And me.
"""


def test_described_speakers_get_distinct_fitting_voices_and_keep_their_settings(library):
    plan = parse_script(SCRIPT.format(extra=""), library)
    voices = dict(plan.speakers)
    assert voices["Mara"].voice_id == "en-mara" and voices["Mara"].pan == -0.2
    assert voices["Tom"].voice_id == "en-ken"  # young, male, calm
    ivy = library.entries[voices["Ivy"].voice_id]
    assert ivy.gender == "female" and voices["Ivy"].voice_id != "en-mara"
    assert len({v.voice_id for v in voices.values()}) == len(voices)
    assert voices["Narrator"].voice_id == "en-joe"


def test_a_named_voice_is_never_given_to_a_described_speaker(library):
    plan = parse_script(SCRIPT.format(extra="  Bea: en-ken\n") + "\nBea: Hush.\n", library)
    voices = dict(plan.speakers)
    assert voices["Bea"].voice_id == "en-ken"
    tom = library.entries[voices["Tom"].voice_id]
    assert voices["Tom"].voice_id != "en-ken" and tom.gender == "male" and tom.age[0] <= 32


def test_a_description_nothing_fits_is_an_error_at_its_line_with_a_way_out(library):
    text = SCRIPT.format(extra="  Kid: {gender: male, age: child}\n") + "\nKid: Hi.\n"
    with pytest.raises(ScriptError) as err:
        parse_script(text, library)
    assert err.value.line == 8 and "no en voice in the library fits" in err.value.message
    assert "voices list --language en" in err.value.hint
    taken = SCRIPT.format(extra="  Gran: {gender: female, age: old}\n") + "\nGran: Tea?\n"
    with pytest.raises(ScriptError, match=r"line 8: speaker 'Gran' .*\(en-mara\) are taken"):
        parse_script(taken, library)


def test_a_bad_tag_in_a_script_names_its_line(library):
    text = SCRIPT.format(extra="  Kid: {gender: male, age: ancient}\n") + "\nKid: Hi.\n"
    with pytest.raises(ScriptError, match="line 8: voice for speaker 'Kid': age 'ancient' is not a range"):
        parse_script(text, library)


def test_the_tasks_voice_config_overrides_a_description(library):
    plan = parse_script(SCRIPT.format(extra=""), library, voice_config={"Mara": "en-grace"})
    assert dict(plan.speakers)["Mara"].voice_id == "en-grace"
