"""Layout: gaps, pauses, scenes, sfx and chapters placed from actual durations."""

from __future__ import annotations

import pytest

from nodes.common.layout import LayoutConfig, layout
from nodes.segmenter.core import SegmenterConfig, parse_script

FRONT = "---\nvoices: {A: en-joe, B: en-joe-deep}\n---\n"
EPS = 1e-6


def plan_of(body: str, library, **config):
    return parse_script(FRONT + body, library, config=SegmenterConfig(**config) if config else None)


def durations(plan, seconds: float = 1.0) -> dict[int, float]:
    return {s.seq: seconds for s in plan.segments}


def test_speaker_change_gap_is_seeded_uniform_in_range(library):
    plan = plan_of("\n".join(f"{'AB'[i % 2]}: line {i}." for i in range(40)), library)
    cfg = LayoutConfig(seed=3)
    t = layout(plan, durations(plan), {}, cfg)
    gaps = [b.start_s - a.end_s for a, b in zip(t.utterances, t.utterances[1:], strict=False)]
    assert all(0.3 - EPS <= g <= 1.2 + EPS for g in gaps)
    assert max(gaps) - min(gaps) > 0.3  # actually random, not constant
    again = layout(plan, durations(plan), {}, cfg)
    other = layout(plan, durations(plan), {}, LayoutConfig(seed=4))
    assert again == t and other != t


def test_same_speaker_and_segment_gaps(library):
    plan = plan_of("A: One. Two.\n\nA: Three.\n", library, max_chars={"default": 5}, pack=False)
    t = layout(plan, durations(plan, 0.5), {}, LayoutConfig(segment_gap_s=0.2, paragraph_gap_s=0.6))
    first, second = t.utterances
    assert first.segments[1].start_s - first.segments[0].end_s == pytest.approx(0.2, abs=EPS)
    assert second.start_s - first.end_s == pytest.approx(0.6, abs=EPS)


def test_pause_replaces_the_gap_exactly(library):
    plan = plan_of("A: One.\n[pause: 1.5]\n[pause: 0.5]\nB: Two.\n", library)
    t = layout(plan, durations(plan), {}, LayoutConfig())
    assert t.utterances[1].start_s - t.utterances[0].end_s == pytest.approx(2.0, abs=EPS)


def test_scene_lead_and_bed_span_with_crossfade(library):
    plan = plan_of("[ambience: rain]\nA: One.\n[ambience: fire | fade_s=3]\nB: Two.\n[ambience: none]\nA: Three.\n",
                   library)
    cfg = LayoutConfig(scene_lead_s=1.5, tail_s=2.0)
    t = layout(plan, durations(plan), {}, cfg)
    rain, fire, stop = t.cues
    assert t.utterances[0].start_s == pytest.approx(1.5, abs=EPS)
    assert fire.start_s == pytest.approx(t.utterances[0].end_s, abs=EPS)
    assert rain.end_s == pytest.approx(fire.start_s + 3.0, abs=EPS)  # overlap = the crossfade
    assert t.utterances[1].start_s >= fire.start_s + 1.5 - EPS
    assert fire.end_s == pytest.approx(stop.start_s + 2.0, abs=EPS)
    assert t.duration_s == pytest.approx(t.utterances[2].end_s + 2.0, abs=EPS)


def test_sfx_waits_by_default_and_overlaps_when_asked(library):
    plan = plan_of("A: One.\n[sfx: door knock]\nB: Two.\n[sfx: bell | wait=false]\nA: Three.\n", library)
    cfg = LayoutConfig(sfx_gap_s=0.3)
    t = layout(plan, durations(plan), {0: 2.0, 1: 5.0}, cfg)
    knock, bell = t.cues
    assert knock.start_s == pytest.approx(t.utterances[0].end_s + 0.3, abs=EPS)
    assert knock.end_s - knock.start_s == pytest.approx(2.0, abs=EPS)
    assert t.utterances[1].start_s == pytest.approx(knock.end_s + 0.3, abs=EPS)
    assert t.utterances[2].start_s < bell.end_s  # dialogue ran over the bell
    assert t.duration_s >= bell.end_s


def test_chapters_start_at_their_first_event_and_empty_ones_warn(library):
    from nodes.common.errors import DramaflowWarning

    plan = plan_of("## One\nA: a.\n## Empty\n## Two\n[ambience: rain]\nB: b.\n## Trailing\n", library)
    with pytest.warns(DramaflowWarning, match="no content"):
        t = layout(plan, durations(plan), {}, LayoutConfig())
    assert [c.title for c in t.chapters] == ["One", "Two"]
    assert t.chapters[0].start_s == t.utterances[0].start_s == 0.0
    assert t.chapters[1].start_s == t.cues[0].start_s
    assert t.chapters[0].end_s == t.chapters[1].start_s and t.chapters[1].end_s == t.duration_s


def test_missing_segment_duration_is_an_error_not_a_skip(library):
    plan = plan_of("A: One.\nB: Two.\n", library)
    with pytest.raises(KeyError, match="seq"):
        layout(plan, {0: 1.0}, {}, LayoutConfig())


def test_times_are_whole_samples(library):
    plan = plan_of("A: One.\nB: Two.\n[sfx: click]\n", library)
    t = layout(plan, {0: 0.123456789, 1: 0.98765}, {0: 0.33333}, LayoutConfig(seed=1))
    for value in [t.duration_s, *(u.start_s for u in t.utterances), *(c.end_s for c in t.cues)]:
        assert abs(value * 44100 - round(value * 44100)) < 1e-6


def test_inline_pause_sets_the_gap_between_segments_exactly(library):
    plan = plan_of("A: One. [pause: 1.25] Two. Three.\n", library, max_chars={"default": 6}, pack=False)
    t = layout(plan, durations(plan, 0.5), {}, LayoutConfig(segment_gap_s=0.2))
    one, two, three = t.utterances[0].segments
    assert two.start_s - one.end_s == pytest.approx(1.25, abs=EPS)  # the pause, not segment_gap_s
    assert three.start_s - two.end_s == pytest.approx(0.2, abs=EPS)
