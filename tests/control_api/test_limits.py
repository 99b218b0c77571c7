"""What one task may ask for: estimated output length, lines and characters, checked with the line
that breaks them; the price by characters or by started minutes, whichever is more."""

from __future__ import annotations

import pytest

from control_api.limits import Limits, estimate_duration_s, minimax_characters, speech_seconds
from control_api.settings import ServiceSettings
from nodes.common.errors import ScriptError
from nodes.segmenter.core import parse_script

FRONT = "---\nvoices: {A: en-espeak-f}\n---\n"
GENEROUS = Limits(max_duration_s=10**9, max_lines=10**9, max_chars=10**9)


def plan(library, body: str):
    return parse_script(FRONT + body, library)


def test_pauses_count_toward_the_length_and_the_limit_names_the_line(library):
    body = "".join(f"A: line {i}.\n[pause: 50]\n" for i in range(100))  # 100 × 50 s of pauses
    assert estimate_duration_s(plan(library, body), GENEROUS) > 100 * 50
    with pytest.raises(ScriptError) as info:
        estimate_duration_s(plan(library, body), Limits(max_duration_s=3600, max_lines=10**6, max_chars=10**9))
    # 3600 s are passed at the 69th or 70th pause (50 s each, plus the speech and gaps): line 4 + 2 × 69 or so
    assert 4 + 2 * 66 <= info.value.line <= 4 + 2 * 72
    assert "1.0 h" in str(info.value) and "DRAMAFLOW_MAX_DURATION_S" in str(info.value)


def test_lines_and_characters_are_limited_at_the_line_that_passes_them(library):
    body = "".join(f"A: line number {i} is here.\n" for i in range(30))
    with pytest.raises(ScriptError, match="more than 10 lines") as info:
        estimate_duration_s(plan(library, body), Limits(10**9, max_lines=10, max_chars=10**9))
    assert info.value.line == 4 + 10  # the eleventh line
    with pytest.raises(ScriptError, match="more than 100 characters"):
        estimate_duration_s(plan(library, body), Limits(10**9, max_lines=10**9, max_chars=100))


# the example scripts' rendered lengths with the offline voices (README: 222.3 s and 166.7 s)
RENDERED_S = {"scripts/the-lighthouse.md": 222.3, "scripts/mofa-podcast-zh.md": 166.7}


@pytest.mark.parametrize("path", sorted(RENDERED_S))
def test_the_estimate_errs_long_on_the_example_scripts(library, path):
    from tests.conftest import ROOT

    estimate = estimate_duration_s(parse_script((ROOT / path).read_text(encoding="utf-8"), library))
    assert RENDERED_S[path] <= estimate <= 1.3 * RENDERED_S[path]


def test_speed_shortens_the_estimate():
    assert speech_seconds("a" * 100, speed=2.0) == pytest.approx(speech_seconds("a" * 100) / 2)


def test_the_price_is_the_larger_of_characters_and_started_minutes():
    settings = ServiceSettings(credits_per_1k_chars=10, credits_per_minute=2)
    assert settings.credit_cost(chars=5000, duration_s=300) == 50  # characters: 50, minutes: 10
    assert settings.credit_cost(chars=20, duration_s=3 * 3600) == 360  # three hours of pauses: 180 minutes
    assert settings.credit_cost(chars=20, duration_s=61) == 4  # a started minute counts
    assert settings.credit_cost(chars=0, duration_s=0) == 1


def test_minimax_characters_count_only_minimax_lines_and_chinese_twice(library):
    script = "---\nvoices: {A: zh-daniu, B: en-espeak-f}\n---\nA: 你好，world\nB: not billed\n"
    with_minimax = parse_script(script, library, provider_available=lambda provider: True)
    offline = parse_script(script, library)  # MiniMax not configured: the fallback voice speaks, nothing billed
    spoken = "".join(s.text for u in with_minimax.utterances if u.speaker == "A" for s in u.segments)
    assert minimax_characters(with_minimax) == len(spoken) + 3  # 你, 好 and the full-width comma count twice
    assert minimax_characters(offline) == 0
