"""Assembling the plan: ``SegmenterConfig`` (characters per TTS request, per language and provider), each
speaker resolved to a voice, each paragraph made an ``Utterance`` whose text is cut at pauses and
sentence bounds and packed into ``Segment`` requests, and the ``Plan`` with its cues and chapters."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nodes.common.errors import ScriptError
from nodes.common.types import Chapter, Cue, Event, Plan, Segment, Utterance, VoiceSettings
from nodes.common.voices import VoiceLibrary, resolve_voice
from nodes.segmenter.body import _Paragraph, _split_pauses, _State
from nodes.segmenter.speakers import _unknown_speaker
from nodes.segmenter.text import split_spans

# Segment limits in characters, per language; "default" for the rest. CJK packs more per character.
DEFAULT_MAX_CHARS: dict[str, int] = {"zh": 80, "ja": 80, "ko": 120, "default": 240}
# Per provider, winning over the language limits: a paid API counts requests, not characters, so whole
# utterances go in one request up to this length. MiniMax accepts < 10,000, but one segment's audio must
# fit in one dora message (64 MiB: 380 s of 44.1 kHz float32): 1000 Chinese characters are about 250 s.
# Dia's clips are made whole (no streaming); its quality drops past about 20 s, so short segments.
DEFAULT_PROVIDER_MAX_CHARS: dict[str, int] = {"minimax": 1000, "dia": 200}
# Providers that pause inside one request (MiniMax ``<#s#>``); others get one segment per side of a pause.
INLINE_PAUSE_PROVIDERS = frozenset({"minimax"})


@dataclass(frozen=True)
class SegmenterConfig:
    """How text is cut into TTS requests. ``max_chars`` per language (``default`` for the rest)."""

    max_chars: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MAX_CHARS))
    pack: bool = True
    provider_max_chars: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PROVIDER_MAX_CHARS))

    def __post_init__(self) -> None:
        for name in ("max_chars", "provider_max_chars"):
            for key, value in getattr(self, name).items():
                if not _SETTING_KEY.fullmatch(str(key)):
                    raise ValueError(f"{name}: {key!r} is not a language or provider name")
                if not 1 <= int(value) <= 9999:
                    raise ValueError(f"{name}: {key}={value} must be between 1 and 9999 characters")

    def limit(self, language: str, provider: str | None = None) -> int:
        if provider is not None and provider in self.provider_max_chars:
            return int(self.provider_max_chars[provider])
        return int(self.max_chars.get(language, self.max_chars.get("default", 240)))


_SETTING_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


# --- assembling the plan ----------------------------------------------------------------------


def _build_plan(
    state: _State, front: dict[str, Any], declared: Mapping[str, dict[str, Any]], declared_lines: Mapping[str, int],
    library: VoiceLibrary, provider_available: Callable[[str], bool], config: SegmenterConfig, body_start: int,
) -> Plan:
    paragraphs = [p for kind, p in state.events if kind == "utterance"]
    if not paragraphs:
        raise ScriptError("the script has no spoken text", body_start + 1,
                          "add at least one line like 'Narrator: Once upon a time…'")
    language = str(front.get("language") or "").strip() or None
    speakers, notes = _resolve_speakers(paragraphs, declared, declared_lines, library, provider_available)
    language = language or speakers[paragraphs[0].speaker].language
    utterances: list[Utterance] = []
    cues: list[Cue] = []
    chapters: list[Chapter] = []
    events: list[Event] = []
    seq = 0
    for kind, item in state.events:
        if kind == "utterance":
            utterance = _utterance(len(utterances), item, speakers[item.speaker], seq, config)
            seq += len(utterance.segments)
            utterances.append(utterance)
            events.append(Event("utterance", utterance.index))
        elif kind == "cue":
            cues.append(Cue(**{**item.__dict__, "index": len(cues)}))
            events.append(Event("cue", len(cues) - 1))
        elif kind == "chapter":
            chapters.append(Chapter(index=len(chapters), title=item.title, line=item.line, level=item.level))
            events.append(Event("chapter", len(chapters) - 1))
    title = str(front.get("title") or state.title or "Untitled")
    fm = {k: v for k, v in front.items() if k not in ("_end", "voices", "pronunciation")}
    return Plan(
        title=title, language=str(language), speakers=tuple(sorted(speakers.items())),
        utterances=tuple(utterances), cues=tuple(cues), chapters=tuple(chapters), events=tuple(events),
        warnings=tuple(notes), front_matter=tuple(sorted((k, _plain(v)) for k, v in fm.items())),
        pronunciation=tuple(front.get("pronunciation", ())),
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _resolve_speakers(
    paragraphs: list[_Paragraph], declared: Mapping[str, dict[str, Any]], declared_lines: Mapping[str, int],
    library: VoiceLibrary, provider_available: Callable[[str], bool],
) -> tuple[dict[str, VoiceSettings], list[str]]:
    first_line: dict[str, int] = {}
    for p in paragraphs:
        first_line.setdefault(p.speaker, p.line)
    speakers: dict[str, VoiceSettings] = {}
    notes: list[str] = []
    for name, line in first_line.items():
        override = declared.get(name)
        if override is None:
            voice_id = library.by_alias(name) or (name if name in library else None)
            if voice_id is None:
                raise _unknown_speaker(name, line, declared)
            override = {"voice": voice_id}
        if override["voice"] not in library:
            where = declared_lines.get(name) or line
            raise ScriptError(f"speaker {name!r}: {library.unknown_voice_message(override['voice'])}", where,
                              "pick a voice id from 'dramaflow voices list'")
        settings, fallback_notes = resolve_voice(library, override, provider_available=provider_available)
        speakers[name] = settings
        notes += [f"speaker {name}: {n}" for n in fallback_notes]
    return speakers, notes


def _utterance(index: int, p: _Paragraph, voice: VoiceSettings, first_seq: int, config: SegmenterConfig) -> Utterance:
    params = dict(p.params)
    effect = params.pop("effect", voice.effect)
    effect = None if effect == "none" else effect
    overrides = {k: float(v) for k, v in params.items() if k in ("gain_db", "speed", "pitch", "pan")}
    if overrides:
        voice = voice.replace(**overrides)
    text, pauses = _split_pauses(p.text, p.line)
    pieces = _pieces(text, pauses, config.limit(voice.language, voice.provider))
    packed = _pack(pieces, config.limit(voice.language, voice.provider), config.pack,
                   inline_pauses=voice.provider in INLINE_PAUSE_PROVIDERS)
    segments = tuple(
        Segment(seq=first_seq + k, utterance=index, index=k, text=text[s:e], line=p.line,
                pauses=tuple((offset - s, seconds) for offset, seconds in inside), pause_after_s=after)
        for k, (s, e, inside, after) in enumerate(packed)
    )
    return Utterance(index=index, speaker=p.speaker, voice=voice, text=text, line=p.line,
                     emotion=p.emotion, effect=effect, segments=segments)


def _pieces(text: str, pauses: list[tuple[int, float]], limit: int) -> list[tuple[int, int, float]]:
    """Unpacked spans (start, end, pause after) of ``text``: split between pauses, then by ``split_spans``."""
    bounds = [0, *(offset for offset, _ in pauses), len(text)]
    out: list[tuple[int, int, float]] = []
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        spans = split_spans(text[a:b], limit, pack=False)
        for j, (s, e) in enumerate(spans):
            last = j == len(spans) - 1 and k < len(pauses)
            out.append((a + s, a + e, pauses[k][1] if last else 0.0))
    return out


def _pack(
    pieces: list[tuple[int, int, float]], limit: int, pack: bool, *, inline_pauses: bool
) -> list[tuple[int, int, list[tuple[int, float]], float]]:
    """Merge consecutive pieces while they fit in ``limit`` (a short utterance stays one request).

    A pause between pieces is kept inside the merged segment only for providers that pause in-request;
    for the others a pause always ends a segment (its ``pause_after_s``)."""
    out: list[tuple[int, int, list[tuple[int, float]], float]] = []
    for s, e, pause in pieces:
        if pack and out:
            first, last_end, inside, after = out[-1]
            if e - first <= limit and (after == 0.0 or inline_pauses):
                out[-1] = (first, e, inside + ([(last_end, after)] if after else []), pause)
                continue
        out.append((s, e, [], pause))
    return out


def plan_seed(plan: Plan, override: int | None = None) -> int:
    """The task's seed: an explicit override, else the front matter's ``seed:``, else 0."""
    return int(override) if override is not None else int(dict(plan.front_matter).get("seed", 0))
