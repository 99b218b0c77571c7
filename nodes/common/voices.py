"""The voice library (voices.yaml): loading, validation, and resolution of a speaker's voice.

A voice id names an entry; an entry names a provider (the TTS backend), its language, default
prosody, and, for paid providers, an offline ``fallback``. Resolution applies script/task overrides and
follows fallbacks when a provider is unavailable, saying so in a warning string (never silently).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nodes.common.casting import CASTING_KEYS, Description, parse_age, parse_gender, parse_style
from nodes.common.errors import ConfigError
from nodes.common.providers import OFFLINE_PROVIDERS, PROVIDER_KEYS, PROVIDERS
from nodes.common.types import VoiceSettings

VOICE_EFFECTS: tuple[str, ...] = ("telephone", "radio", "room", "hall")
CLIP_PROVIDERS = frozenset({"dia"})  # whose provider_voice is a reference clip (a path)
EMOTIONS: tuple[str, ...] = (
    "happy", "sad", "angry", "fearful", "disgusted", "surprised", "calm", "fluent", "whisper",
)
# Keys a script or task may override per speaker, with their allowed ranges.
OVERRIDE_RANGES: dict[str, tuple[float, float]] = {
    "speed": (0.5, 2.0),
    "pitch": (-12.0, 12.0),
    "gain_db": (-24.0, 12.0),
    "pan": (-1.0, 1.0),
}
OVERRIDE_KEYS: tuple[str, ...] = ("voice", *OVERRIDE_RANGES, "effect", *CASTING_KEYS)


def default_voices_path() -> Path:
    """voices.yaml at the project root, or ``$DRAMAFLOW_VOICES`` when a caller sets it."""
    import os

    env = os.environ.get("DRAMAFLOW_VOICES")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "voices.yaml"


class VoiceParams(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    speed: float = Field(1.0, ge=OVERRIDE_RANGES["speed"][0], le=OVERRIDE_RANGES["speed"][1])
    pitch: float = Field(0.0, ge=OVERRIDE_RANGES["pitch"][0], le=OVERRIDE_RANGES["pitch"][1])
    gain_db: float = Field(0.0, ge=OVERRIDE_RANGES["gain_db"][0], le=OVERRIDE_RANGES["gain_db"][1])
    pan: float = Field(0.0, ge=-1.0, le=1.0)
    effect: str | None = None
    formant_shift: float | None = Field(None, ge=0.75, le=1.35)  # WORLD conversion (nodes/tts/voiceconv.py)
    breathiness: float | None = Field(None, ge=0.0, le=1.0)  # WORLD: more aperiodic energy (older, airier)
    pronunciation: tuple[str, ...] | None = None  # MiniMax pronunciation_dict entries, "word/(replacement)"

    @field_validator("pronunciation")
    @classmethod
    def _pronunciation_entries(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for entry in value or ():
            if "/" not in entry or not entry.split("/", 1)[0].strip() or not entry.split("/", 1)[1].strip():
                raise ValueError(f"pronunciation entry {entry!r} is not 'word/replacement'")
        return value

    @field_validator("effect")
    @classmethod
    def _known_effect(cls, value: str | None) -> str | None:
        if value is not None and value not in VOICE_EFFECTS:
            raise ValueError(f"unknown effect {value!r}; known: {', '.join(VOICE_EFFECTS)}")
        return value


class VoiceEntry(BaseModel):
    """One voices.yaml entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    display_name: str
    provider: str
    language: str
    category: str = "general"
    description: str = ""
    gender: str | None = None  # female | male | neutral
    age: tuple[int, int] | None = None  # the ages it sounds, in years: a word (young, old, …) or [from, to]
    accent: str | None = None  # e.g. "General American", "British RP", "Beijing Mandarin"
    style: tuple[str, ...] = ()  # free tags a script may ask for: warm, gravelly, bright, calm, …
    licence: str = ""  # of the model and the corpus it was trained on
    provider_voice: str | None = None
    aliases: tuple[str, ...] = ()
    fallback: str | None = None
    params: VoiceParams = VoiceParams()

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"unknown provider {value!r}; known: {', '.join(PROVIDERS)}")
        return value

    @field_validator("gender", mode="before")
    @classmethod
    def _gender(cls, value: Any) -> str | None:
        return None if value is None else parse_gender(value)

    @field_validator("age", mode="before")
    @classmethod
    def _age(cls, value: Any) -> tuple[int, int] | None:
        return None if value is None else parse_age(value)

    @field_validator("style", mode="before")
    @classmethod
    def _style(cls, value: Any) -> tuple[str, ...]:
        return () if value is None else parse_style(value)

    @field_validator("provider_voice")
    @classmethod
    def _voice_id_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("provider_voice is empty")
        return value

    def model_post_init(self, _context: Any) -> None:
        if self.provider not in OFFLINE_PROVIDERS and not self.provider_voice:
            raise ValueError(f"provider {self.provider} needs provider_voice (the provider's voice id)")


@dataclass(frozen=True)
class VoiceLibrary:
    entries: Mapping[str, VoiceEntry]
    path: Path | None = None

    def __contains__(self, voice_id: str) -> bool:
        return voice_id in self.entries

    def get(self, voice_id: str) -> VoiceEntry:
        try:
            return self.entries[voice_id]
        except KeyError:
            raise ConfigError(self.unknown_voice_message(voice_id)) from None

    def unknown_voice_message(self, voice_id: str) -> str:
        import difflib

        close = difflib.get_close_matches(voice_id, list(self.entries), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"unknown voice {voice_id!r}{hint} (known: {', '.join(sorted(self.entries))})"

    def by_alias(self, name: str) -> str | None:
        """The voice whose alias or display name is ``name`` (e.g. 大牛 → zh-daniu), if exactly one."""
        hits = [vid for vid, e in self.entries.items() if name in e.aliases or name == e.display_name]
        return hits[0] if len(hits) == 1 else None

    def as_rows(self) -> list[dict[str, Any]]:
        """Plain rows for listings (CLI ``voices list``, REST ``GET /voices``)."""
        return [
            {
                "id": vid,
                "display_name": e.display_name,
                "provider": e.provider,
                "provider_voice": e.provider_voice,
                "language": e.language,
                "category": e.category,
                "gender": e.gender,
                "age": list(e.age) if e.age else None,
                "accent": e.accent,
                "style": list(e.style),
                "licence": e.licence,
                "fallback": e.fallback,
                "aliases": list(e.aliases),
                "params": e.params.model_dump(exclude_none=True),
                "description": e.description,
            }
            for vid, e in sorted(self.entries.items())
        ]


def load_voices(path: Path | None = None) -> VoiceLibrary:
    """Load and validate voices.yaml. Every problem is a ``ConfigError`` naming the voice and field."""
    path = path or default_voices_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read voice library {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return parse_voices(raw, source=str(path), path=path)


def parse_voices(raw: Any, *, source: str = "voices.yaml", path: Path | None = None) -> VoiceLibrary:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{source}: expected a mapping of voice id → voice entry")
    entries: dict[str, VoiceEntry] = {}
    for voice_id, body in raw.items():
        try:
            entries[str(voice_id)] = VoiceEntry.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"{source}: voice {voice_id!r}: {problems}") from None
    _check_fallbacks(entries, source)
    if path is not None:  # reference clips of cloning voices: relative to voices.yaml
        for voice_id, entry in entries.items():
            if entry.provider in CLIP_PROVIDERS and entry.provider_voice and not Path(entry.provider_voice).is_absolute():
                clip = (path.parent / entry.provider_voice).resolve()
                entries[voice_id] = entry.model_copy(update={"provider_voice": str(clip)})
    return VoiceLibrary(entries=entries, path=path)


def _check_fallbacks(entries: Mapping[str, VoiceEntry], source: str) -> None:
    for voice_id, entry in entries.items():
        seen = {voice_id}
        current = entry
        while current.fallback is not None:
            if current.fallback not in entries:
                raise ConfigError(f"{source}: voice {voice_id!r}: fallback {current.fallback!r} is not a voice")
            if current.fallback in seen:
                raise ConfigError(f"{source}: voice {voice_id!r}: fallback chain loops at {current.fallback!r}")
            seen.add(current.fallback)
            current = entries[current.fallback]
        if current.provider not in OFFLINE_PROVIDERS:
            raise ConfigError(
                f"{source}: voice {voice_id!r} ({entry.provider}) needs an offline fallback "
                f"({', '.join(sorted(OFFLINE_PROVIDERS))}) so that runs without keys still work"
            )


def parse_override(value: Any) -> dict[str, Any]:
    """A speaker's voice config: a voice id string or a mapping ``{voice, speed, pitch, …}``.

    Raises ``ValueError`` with a readable message; callers add the line number.
    """
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("voice id is empty")
        return {"voice": value.strip()}
    if not isinstance(value, Mapping):
        raise ValueError("expected a voice id or a mapping like {voice: en-joe, speed: 1.05}")
    unknown = sorted(set(map(str, value)) - set(OVERRIDE_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(OVERRIDE_KEYS)}")
    out: dict[str, Any] = {}
    wanted = {k: v for k, v in value.items() if k in CASTING_KEYS}
    if wanted:  # a described speaker: casting picks the voice (nodes.common.casting)
        out["describe"] = Description.parse(wanted)
    for key, raw in value.items():
        if key in CASTING_KEYS:
            continue
        if key == "voice":
            if not isinstance(raw, str) or not raw.strip():
                raise ValueError("'voice' must be a voice id")
            out["voice"] = raw.strip()
        elif key == "effect":
            if raw is not None and raw not in VOICE_EFFECTS and raw != "none":
                raise ValueError(f"unknown effect {raw!r}; known: {', '.join(VOICE_EFFECTS)}")
            out["effect"] = None if raw in (None, "none") else raw
        else:
            out[key] = _in_range(key, raw)
    return out


def _in_range(key: str, raw: Any) -> float:
    lo, hi = OVERRIDE_RANGES[key]
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{key} must be a number between {lo:g} and {hi:g}")
    if not lo <= float(raw) <= hi:
        raise ValueError(f"{key}={raw} is out of range [{lo:g}, {hi:g}]")
    return float(raw)


def resolve_voice(
    library: VoiceLibrary,
    override: Mapping[str, Any],
    *,
    provider_available: Callable[[str], bool],
) -> tuple[VoiceSettings, list[str]]:
    """The settings a speaker is rendered with, plus notes about any fallback taken.

    ``override`` is a parsed override (``parse_override``) that names ``voice``. Overrides replace the
    voice's defaults. When the provider is unavailable the fallback chain is followed; the returned
    note says which voice was asked for, why it was unavailable and what is used instead.
    """
    requested = override["voice"]
    entry = library.get(requested)
    chosen_id, chosen = requested, entry
    notes: list[str] = []
    while not provider_available(chosen.provider):
        if chosen.fallback is None:  # unreachable for validated libraries: every chain ends offline
            raise ConfigError(f"voice {requested!r}: provider {chosen.provider} unavailable and no fallback")
        key = PROVIDER_KEYS.get(chosen.provider)
        notes.append(
            f"voice {chosen_id!r} needs provider {chosen.provider}, which is not configured"
            f"{f' (set {key})' if key else ''}; using fallback {chosen.fallback!r}"
        )
        chosen_id, chosen = chosen.fallback, library.get(chosen.fallback)
    params = chosen.params
    extras = tuple(sorted((k, v) for k, v in params.model_dump(exclude_none=True).items()
                          if k not in {*OVERRIDE_RANGES, "effect"}))
    settings = VoiceSettings(
        voice_id=chosen_id,
        provider=chosen.provider,
        language=chosen.language,
        provider_voice=chosen.provider_voice,
        speed=float(override.get("speed", params.speed)),
        pitch=float(override.get("pitch", params.pitch)),
        gain_db=float(override.get("gain_db", params.gain_db)),
        pan=float(override.get("pan", params.pan)),
        effect=override.get("effect", params.effect),
        options=extras,
        requested_voice=requested,
    )
    return settings, notes


def offline_only(provider: str) -> bool:
    """Provider check for runs without any paid-API configuration."""
    return provider in OFFLINE_PROVIDERS


def providers_from_env(env: Mapping[str, str]) -> Callable[[str], bool]:
    """Provider check for a process environment: offline providers, plus paid ones whose key is set."""
    configured = {p for p, key in PROVIDER_KEYS.items() if (env.get(key) or "").strip()}
    return lambda provider: provider in OFFLINE_PROVIDERS or provider in configured


def voice_ids(library: VoiceLibrary, provider: str | None = None) -> Iterable[str]:
    return (vid for vid, e in library.entries.items() if provider is None or e.provider == provider)
