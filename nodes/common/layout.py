"""Layout: where every utterance, segment, cue and chapter lands in time, from actual durations.

Rules (all gaps in seconds, configurable in ``LayoutConfig``):
- between utterances of different speakers: seeded uniform in ``speaker_gap_s`` (0.3–1.2, as MoFA);
- between utterances of the same speaker: ``paragraph_gap_s``; between segments of one utterance:
  ``segment_gap_s``, or exactly ``s`` after an inline ``[pause: s]`` that ends a segment;
- ``[pause: s]`` replaces the automatic gap with exactly ``s`` seconds of silence (pauses add up);
- a new scene (``[ambience: …]``) gets ``scene_lead_s`` before the next line so the bed is heard first;
- ``[sfx: …]`` starts ``sfx_gap_s`` after what precedes it; with ``wait`` (default) dialogue resumes
  ``sfx_gap_s`` after it ends, without it dialogue runs over it;
- a chapter starts where the first thing after its heading starts;
- the programme ends ``tail_s`` after the last event (or when the last sfx ends, if later).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nodes.common.audio import MIX_SAMPLE_RATE
from nodes.common.errors import warn
from nodes.common.settings import check_choice, check_ranges
from nodes.common.types import (
    PlacedChapter,
    PlacedCue,
    PlacedSegment,
    PlacedUtterance,
    Plan,
    Timeline,
)

SAMPLE_RATES = (22050, 24000, 32000, 44100, 48000)  # mix rates a template or task may choose
LAYOUT_RANGES = {"speaker_gap_s": (0.0, 10.0), "paragraph_gap_s": (0.0, 10.0), "segment_gap_s": (0.0, 10.0),
                 "scene_lead_s": (0.0, 30.0), "sfx_gap_s": (0.0, 10.0), "ambience_fade_s": (0.0, 30.0),
                 "tail_s": (0.0, 60.0), "seed": (0, 2**63 - 1)}


@dataclass(frozen=True)
class LayoutConfig:
    seed: int = 0
    speaker_gap_s: tuple[float, float] = (0.3, 1.2)
    paragraph_gap_s: float = 0.45
    segment_gap_s: float = 0.25
    scene_lead_s: float = 1.5
    sfx_gap_s: float = 0.3
    ambience_fade_s: float = 2.0
    tail_s: float = 2.0
    sample_rate: int = MIX_SAMPLE_RATE

    def __post_init__(self) -> None:
        lo, hi = self.speaker_gap_s
        if not 0 <= lo <= hi:
            raise ValueError(f"speaker_gap_s must be (min, max) with 0 <= min <= max, got {self.speaker_gap_s}")
        check_ranges(self, LAYOUT_RANGES)
        check_choice(self, "sample_rate", SAMPLE_RATES)


def _snap(t: float, sample_rate: int) -> float:
    """Round to a whole sample so that every stage converts times to the same sample index."""
    return round(t * sample_rate) / sample_rate


def layout(
    plan: Plan,
    speech_durations_s: Mapping[int, float],
    sfx_durations_s: Mapping[int, float],
    config: LayoutConfig = LayoutConfig(),
) -> Timeline:
    """Place everything. ``speech_durations_s`` is keyed by segment ``seq``; ``sfx_durations_s`` by cue index.

    Raises ``KeyError`` naming the seq when a segment has no duration: a missing segment is a bug
    upstream, never something to skip.
    """
    missing = [s.seq for s in plan.segments if s.seq not in speech_durations_s]
    if missing:
        raise KeyError(f"no speech for segment seq {missing[:10]}")
    sr = config.sample_rate
    rng = np.random.default_rng(config.seed)
    cursor = 0.0
    last_speaker: str | None = None
    gap_override: float | None = 0.0  # before the first line: no gap
    scene_started_at: float | None = None
    pending_chapters: list[int] = []
    chapter_starts: dict[int, float] = {}
    utterances: list[PlacedUtterance] = []
    cues: dict[int, PlacedCue] = {}
    open_bed: tuple[int, float] | None = None  # (cue index, start_s)
    bed_ends: dict[int, float] = {}
    last_end = 0.0

    def mark_chapters(at: float) -> None:
        for index in pending_chapters:
            chapter_starts[index] = at
        pending_chapters.clear()

    def close_bed(at: float, fade_s: float) -> None:
        nonlocal open_bed
        if open_bed is not None:
            bed_ends[open_bed[0]] = _snap(at + fade_s, sr)
            open_bed = None

    for event in plan.events:
        if event.kind == "chapter":
            pending_chapters.append(event.index)
            continue
        if event.kind == "utterance":
            u = plan.utterances[event.index]
            if gap_override is not None:
                gap = gap_override
            elif last_speaker is not None and u.speaker != last_speaker:
                gap = float(rng.uniform(*config.speaker_gap_s))
            else:
                gap = config.paragraph_gap_s
            start = cursor + gap
            if scene_started_at is not None:
                start = max(start, scene_started_at + config.scene_lead_s)
            start = _snap(start, sr)
            mark_chapters(start)
            placed: list[PlacedSegment] = []
            t = start
            for k, seg in enumerate(u.segments):
                if k:
                    before = u.segments[k - 1].pause_after_s  # an inline [pause: s] replaces the gap
                    t = _snap(t + (before or config.segment_gap_s), sr)
                end = _snap(t + speech_durations_s[seg.seq], sr)
                placed.append(PlacedSegment(seq=seg.seq, utterance=u.index, text=seg.text, start_s=t, end_s=end))
                t = end
            utterances.append(PlacedUtterance(
                index=u.index, speaker=u.speaker, voice=u.voice.voice_id, text=u.text, line=u.line,
                start_s=start, end_s=t, segments=tuple(placed),
            ))
            cursor, last_speaker, gap_override, scene_started_at = t, u.speaker, None, None
            last_end = max(last_end, t)
            continue
        cue = plan.cues[event.index]
        if cue.kind == "pause":
            start = _snap(cursor, sr)
            end = _snap(start + float(cue.duration_s or 0.0), sr)
            mark_chapters(start)
            cues[cue.index] = PlacedCue(cue.index, "pause", "", cue.line, start, end, cue.params)
            cursor = end
            gap_override = 0.0
            last_end = max(last_end, end)
        elif cue.kind == "sfx":
            start = _snap(cursor + (config.sfx_gap_s if utterances or cues else 0.0), sr)
            end = _snap(start + sfx_durations_s[cue.index], sr)
            mark_chapters(start)
            cues[cue.index] = PlacedCue(cue.index, "sfx", cue.prompt, cue.line, start, end, cue.params)
            if cue.param("wait", True):
                cursor = end
                gap_override = config.sfx_gap_s
            last_end = max(last_end, end)
        elif cue.kind == "ambience":
            start = _snap(cursor, sr)
            fade = float(cue.param("fade_s", config.ambience_fade_s))
            close_bed(start, fade)
            mark_chapters(start)
            open_bed = (cue.index, start)
            cues[cue.index] = PlacedCue(cue.index, "ambience", cue.prompt, cue.line, start, start, cue.params)
            scene_started_at = start
        else:  # ambience_stop
            start = _snap(cursor, sr)
            fade = float(cue.param("fade_s", config.ambience_fade_s))
            if open_bed is None:
                warn("[ambience: none] but no ambience is playing", line=cue.line)
            close_bed(start, fade)
            cues[cue.index] = PlacedCue(cue.index, "ambience_stop", "", cue.line, start, _snap(start + fade, sr),
                                        cue.params)
            last_end = max(last_end, start + fade)

    duration = _snap(max(cursor + config.tail_s, last_end), sr)
    close_bed(duration, 0.0)
    duration = max(duration, *bed_ends.values()) if bed_ends else duration
    for index, end in bed_ends.items():
        c = cues[index]
        cues[index] = PlacedCue(c.index, c.kind, c.prompt, c.line, c.start_s, min(end, duration), c.params)
    mark_chapters(duration)
    return Timeline(
        duration_s=duration,
        sample_rate=sr,
        utterances=tuple(utterances),
        cues=tuple(cues[i] for i in sorted(cues)),
        chapters=_chapters(plan, chapter_starts, duration),
        title=plan.title,
        speech_regions=tuple((s.start_s, s.end_s) for u in utterances for s in u.segments),
    )


def _chapters(plan: Plan, starts: Mapping[int, float], duration_s: float) -> tuple[PlacedChapter, ...]:
    """Chapters that cover some time; a heading with nothing after it is reported and left out."""
    ordered = sorted(((starts[c.index], c) for c in plan.chapters), key=lambda x: (x[0], x[1].index))
    placed: list[PlacedChapter] = []
    for k, (start, chapter) in enumerate(ordered):
        end = ordered[k + 1][0] if k + 1 < len(ordered) else duration_s
        if end <= start:
            warn(f"chapter {chapter.title!r} has no content and gets no chapter marker", line=chapter.line)
            continue
        placed.append(PlacedChapter(index=len(placed), title=chapter.title, start_s=start, end_s=end))
    return tuple(placed)
