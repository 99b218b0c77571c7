"""Typed values that travel between stages.

Everything here is a frozen dataclass that round-trips through ``to_dict``/``from_dict`` as plain JSON,
so the same values can cross a dora edge (issue 3) or stay in process (DirectEngine).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

CueKind = Literal["ambience", "ambience_stop", "sfx", "pause"]
EventKind = Literal["utterance", "cue", "chapter"]


def _frozen_params(params: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((params or {}).items()))


@dataclass(frozen=True)
class VoiceSettings:
    """One speaker's resolved voice: the voices.yaml entry plus script / task overrides.

    ``provider`` is the backend that will really synthesize it (after any offline fallback);
    ``requested_voice`` is what the author asked for, kept for the report.
    """

    voice_id: str
    provider: str
    language: str
    provider_voice: str | None = None
    speed: float = 1.0
    pitch: float = 0.0  # semitones
    gain_db: float = 0.0
    pan: float = 0.0  # -1 left … +1 right
    effect: str | None = None  # telephone | radio | room | hall
    options: tuple[tuple[str, Any], ...] = ()  # backend-specific extras from voices.yaml
    requested_voice: str | None = None

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)

    def replace(self, **changes: Any) -> VoiceSettings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Segment:
    """A piece of one utterance small enough for one TTS request. ``seq`` is global and dense."""

    seq: int
    utterance: int
    index: int  # position inside its utterance
    text: str
    line: int
    # Inline ``[pause: s]`` marks: (character offset into ``text``, seconds) inside this segment (only for
    # providers that pause within one request, e.g. MiniMax ``<#s#>``), and a pause after its end.
    pauses: tuple[tuple[int, float], ...] = ()
    pause_after_s: float = 0.0


@dataclass(frozen=True)
class Utterance:
    index: int
    speaker: str
    voice: VoiceSettings
    text: str
    line: int
    emotion: str | None = None
    effect: str | None = None  # per-line voice effect (line param or voice setting)
    segments: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class Cue:
    index: int
    kind: CueKind
    line: int
    prompt: str = ""
    duration_s: float | None = None  # pause length, or an sfx length asked for by the author
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)


@dataclass(frozen=True)
class Chapter:
    index: int
    title: str
    line: int
    level: int = 1


@dataclass(frozen=True)
class Event:
    """One step of the script in reading order: an utterance, a cue or a chapter heading."""

    kind: EventKind
    index: int


@dataclass(frozen=True)
class Plan:
    """The parsed script: what is said, by whom, and what happens around it, in order."""

    title: str
    language: str
    speakers: tuple[tuple[str, VoiceSettings], ...]
    utterances: tuple[Utterance, ...]
    cues: tuple[Cue, ...]
    chapters: tuple[Chapter, ...]
    events: tuple[Event, ...]
    warnings: tuple[str, ...] = ()
    front_matter: tuple[tuple[str, Any], ...] = ()
    pronunciation: tuple[str, ...] = ()  # front matter ``pronunciation:`` entries, "word/(replacement)"

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(s for u in self.utterances for s in u.segments)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        def voice(d: dict[str, Any]) -> VoiceSettings:
            return VoiceSettings(**{**d, "options": _tuples(d.get("options", ()))})

        def seg(d: dict[str, Any]) -> Segment:
            return Segment(**{**d, "pauses": tuple((int(o), float(s)) for o, s in d.get("pauses", ()))})

        return cls(
            title=data["title"],
            language=data["language"],
            speakers=tuple((name, voice(v)) for name, v in data["speakers"]),
            utterances=tuple(
                Utterance(**{**u, "voice": voice(u["voice"]), "segments": tuple(seg(s) for s in u["segments"])})
                for u in data["utterances"]
            ),
            cues=tuple(Cue(**{**c, "params": _tuples(c.get("params", ()))}) for c in data["cues"]),
            chapters=tuple(Chapter(**c) for c in data["chapters"]),
            events=tuple(Event(**e) for e in data["events"]),
            warnings=tuple(data.get("warnings", ())),
            front_matter=_tuples(data.get("front_matter", ())),
            pronunciation=tuple(data.get("pronunciation", ())),
        )


def _tuples(pairs: Any) -> tuple[tuple[str, Any], ...]:
    return tuple((k, v) for k, v in pairs)


# --- the timeline: where everything landed, in seconds ---------------------------------------


@dataclass(frozen=True)
class PlacedSegment:
    seq: int
    utterance: int
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class PlacedUtterance:
    index: int
    speaker: str
    voice: str
    text: str
    line: int
    start_s: float
    end_s: float
    segments: tuple[PlacedSegment, ...]


@dataclass(frozen=True)
class PlacedCue:
    index: int
    kind: CueKind
    prompt: str
    line: int
    start_s: float
    end_s: float
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class PlacedChapter:
    index: int
    title: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Timeline:
    """Output of the layout: every utterance, segment, cue and chapter with its time span."""

    duration_s: float
    sample_rate: int
    utterances: tuple[PlacedUtterance, ...]
    cues: tuple[PlacedCue, ...]
    chapters: tuple[PlacedChapter, ...]
    title: str = ""
    speech_regions: tuple[tuple[float, float], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timeline:
        return cls(
            duration_s=data["duration_s"],
            sample_rate=data["sample_rate"],
            utterances=tuple(
                PlacedUtterance(**{**u, "segments": tuple(PlacedSegment(**s) for s in u["segments"])})
                for u in data["utterances"]
            ),
            cues=tuple(PlacedCue(**{**c, "params": _tuples(c.get("params", ()))}) for c in data["cues"]),
            chapters=tuple(PlacedChapter(**c) for c in data["chapters"]),
            title=data.get("title", ""),
            speech_regions=tuple(tuple(r) for r in data.get("speech_regions", ())),
        )
