"""Library ambience backend: licensed loops and one-shots from a folder, chosen by tags.

The folder holds audio files (anything libsndfile reads: WAV, FLAC, OGG) and a ``library.yaml``::

    scenes:
      rain-on-roof:
        file: rain_roof.flac          # relative to library.yaml
        tags: [rain, roof, "tin roof", storm]
        license: "CC0 1.0, recorded by …"
    sfx:
      door-knock:
        file: knock.wav
        tags: [door, knock]
        license: "Sound Ideas, licence #1234"

A prompt picks the entry with the most matching tags (a tag matches when all its words are in the
prompt); ties between scenes are broken by the cue's seed (a script renders the same every time),
between one-shots by the order of the file. A bed loops its
file with equal-power crossfades to the scene's length; a one-shot plays its file (or ``| duration_s=``
of it). A prompt that matches nothing falls back to the procedural backend with a warning. Every entry
must name its licence: the library is where a production keeps sounds it may publish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nodes.ambience.backends.base import BackendUnavailable, Sound
from nodes.ambience.loop import loop_to_length
from nodes.common.audio import equal_power_fade_out, resample, seconds_to_samples, to_stereo
from nodes.common.errors import ConfigError, warn

INDEX = "library.yaml"
SFX_FADE_OUT_S = 0.01  # a one-shot cut short of its file ends without a click
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(text))


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # "scenes" or "sfx"
    path: Path
    tags: tuple[tuple[str, ...], ...]  # each tag as its words
    license: str
    duration_s: float

    def score(self, prompt_words: frozenset[str]) -> int:
        return sum(1 for tag in self.tags if set(tag) <= prompt_words)


def load_index(root: Path) -> dict[str, list[Entry]]:
    """Read and check ``root/library.yaml``; a problem raises ``ConfigError`` naming the entry and the fix."""
    index = root / INDEX
    if not index.is_file():
        raise BackendUnavailable(f"ambience library {root} has no {INDEX} (see README: Ambience library)")
    try:
        doc = yaml.safe_load(index.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{index}: not valid YAML: {exc}") from None
    unknown = sorted(set(doc) - {"scenes", "sfx"})
    if unknown or not isinstance(doc, dict):
        raise ConfigError(f"{index}: top-level keys must be scenes and sfx, got {unknown or type(doc).__name__}")
    out: dict[str, list[Entry]] = {"scenes": [], "sfx": []}
    for kind in ("scenes", "sfx"):
        for name, spec in (doc.get(kind) or {}).items():
            out[kind].append(_entry(index, kind, str(name), spec))
    if not out["scenes"] and not out["sfx"]:
        raise ConfigError(f"{index}: no entries under scenes or sfx")
    return out


def _entry(index: Path, kind: str, name: str, spec: Any) -> Entry:
    import soundfile as sf

    where = f"{index}: {kind}.{name}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping with file, tags and license")
    extra = sorted(set(spec) - {"file", "tags", "license"})
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)} (allowed: file, tags, license)")
    tags = spec.get("tags") or []
    if not isinstance(tags, list) or not tags or not all(words(str(t)) for t in tags):
        raise ConfigError(f"{where}: tags must be a non-empty list of words, e.g. tags: [rain, roof]")
    if not str(spec.get("license") or "").strip():
        raise ConfigError(f"{where}: say under which licence the file may be used, e.g. license: \"CC0 1.0\"")
    path = (index.parent / str(spec.get("file") or "")).resolve()
    if not spec.get("file") or not path.is_file():
        raise ConfigError(f"{where}: file {spec.get('file')!r} not found next to {index.name}")
    try:
        info = sf.info(str(path))
    except RuntimeError as exc:
        raise ConfigError(f"{where}: {path.name} is not readable audio: {exc}") from None
    if info.frames == 0:
        raise ConfigError(f"{where}: {path.name} is empty")
    return Entry(name, kind, path, tuple(words(str(t)) for t in tags), str(spec["license"]).strip(),
                 info.frames / info.samplerate)


class LibraryBackend:
    """``AmbienceBackend`` over a folder of licensed files; unmatched prompts use the procedural backend."""

    name = "library"

    def __init__(self, root: str | Path | None = None, *, loop_crossfade_s: float = 1.5) -> None:
        if not root:
            raise BackendUnavailable("the library ambience backend needs a folder: set ambience.library in the "
                                     "template or task settings")
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise BackendUnavailable(f"ambience library folder {self.root} does not exist")
        self.entries = load_index(self.root)
        self.loop_crossfade_s = loop_crossfade_s
        self._audio: dict[tuple[Path, int], np.ndarray] = {}

    def _pick(self, kind: str, prompt: str, seed: int | None = None) -> Entry | None:
        prompt_words = frozenset(words(prompt))
        scored = [(e.score(prompt_words), e) for e in self.entries[kind]]
        best = max((s for s, _ in scored), default=0)
        if best == 0:
            return None
        tied = [e for s, e in scored if s == best]
        return tied[int(np.random.default_rng(seed).integers(len(tied)))] if seed is not None else tied[0]

    def _load(self, entry: Entry, sample_rate: int) -> np.ndarray:
        import soundfile as sf

        key = (entry.path, sample_rate)
        if key not in self._audio:
            audio, rate = sf.read(str(entry.path), dtype="float32", always_2d=True)
            stereo = audio[:, :2] if audio.shape[1] >= 2 else to_stereo(audio)
            self._audio[key] = resample(np.ascontiguousarray(stereo), rate, sample_rate)
        return self._audio[key]

    def _procedural(self):  # imported late: most libraries cover their scripts
        from nodes.ambience.backends.procedural import ProceduralBackend

        return ProceduralBackend()

    def render_bed(self, prompt: str, duration_s: float, sample_rate: int, seed: int) -> Sound:
        entry = self._pick("scenes", prompt, seed)
        if entry is None:
            warn(f"no library scene matches {prompt!r}; using the procedural backend")
            sound = self._procedural().render_bed(prompt, duration_s, sample_rate, seed)
            return Sound(sound.audio, sample_rate, sound.matched, True)
        audio = loop_to_length(self._load(entry, sample_rate), seconds_to_samples(duration_s, sample_rate),
                               sample_rate, self.loop_crossfade_s)
        return Sound(audio, sample_rate, (entry.name,), False)

    def sfx_duration_s(self, prompt: str, duration_s: float | None = None) -> float:
        if duration_s:
            return float(duration_s)
        entry = self._pick("sfx", prompt)
        return entry.duration_s if entry else self._procedural().sfx_duration_s(prompt)

    def render_sfx(self, prompt: str, sample_rate: int, seed: int, duration_s: float | None = None) -> Sound:
        entry = self._pick("sfx", prompt)
        if entry is None:
            warn(f"no library sound effect matches {prompt!r}; using the procedural backend")
            sound = self._procedural().render_sfx(prompt, sample_rate, seed, self.sfx_duration_s(prompt, duration_s))
            return Sound(sound.audio, sample_rate, sound.matched, True)
        n = seconds_to_samples(self.sfx_duration_s(prompt, duration_s), sample_rate)
        audio = self._load(entry, sample_rate)
        out = np.zeros((n, 2), dtype=np.float32)
        out[: min(n, len(audio))] = audio[:n]
        if n < len(audio):
            k = min(seconds_to_samples(SFX_FADE_OUT_S, sample_rate), n)
            out[n - k:] *= equal_power_fade_out(k)[:, None]
        return Sound(out, sample_rate, (entry.name,), False)

    def describe(self) -> dict[str, list[str]]:
        return {kind: [f"{e.name}: {', '.join(' '.join(t) for t in e.tags)} ({e.path.name}; {e.license})"
                       for e in entries] for kind, entries in self.entries.items()}
