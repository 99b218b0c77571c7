"""TangoFlux ambience backend: scene beds and one-shots generated from the prompt.

The weights are **non-commercial, research only** (Stability AI Community License, WavCaps); the
procedural backend stays the default and this one is chosen per template or task.

Model folder, as published (``declare-lab/TangoFlux``): ``config.json``, ``tangoflux.safetensors``,
``vae.safetensors``; the FLAN-T5 encoder with its tokenizer in ``text_encoder/`` (or at the path
``text_encoder_name`` in config.json names, or in the offline Hugging Face cache). Found through
``model_dir`` (``--model-dir``), else ``DRAMAFLOW_TANGOFLUX_DIR``, else the offline Hugging Face cache.
Nothing is ever downloaded: a missing model raises ``ModelNotAvailable`` saying how to provide it.
``config.json`` may carry ``"vae": {...}`` (AutoencoderOobleck arguments) for a non-default VAE.

Cost does not depend on duration (every call samples the model's whole ~30 s window), so a scene bed
is generated once per (prompt, seed, steps, guidance scale, model), cached on disk, and looped with
equal-power crossfades to the scene's length; a one-shot is generated for its own duration. The model
is loaded on the first cache miss, under the device's lock (``nodes.common.gpulock``), and freed by
``close()``, which releases the lock: a render whose clips are all cached never loads it.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nodes.ambience.backends.base import BackendUnavailable, Sound
from nodes.ambience.loop import loop_to_length
from nodes.common.audio import equal_power_fade_out, resample, seconds_to_samples
from nodes.common.diskcache import NpzStore
from nodes.common.errors import ConfigError, DramaflowWarning, PermanentBackendError
from nodes.common.gpulock import gpu_lock, timeout_from_env

HF_REPO = "declare-lab/TangoFlux"
TEXT_ENCODER_DIR = "text_encoder"
MIN_DURATION_S, MAX_DURATION_S = 1.0, 30.0
DEFAULT_SFX_S = 3.0  # a one-shot without `| duration_s=`
SFX_FADE_OUT_S = 0.01
CACHE_VERSION = 1
StepFn = Callable[[str, int, int], None]  # (prompt, step, steps)

HOW_TO = (
    "dramaflow never downloads weights at run time. Put config.json, tangoflux.safetensors and vae.safetensors "
    f"(Hugging Face repo {HF_REPO}) in a folder, the FLAN-T5 encoder and tokenizer (google/flan-t5-large) in its "
    f"{TEXT_ENCODER_DIR}/ subfolder, and set DRAMAFLOW_TANGOFLUX_DIR to the folder (or pass --model-dir). "
    f"Where there is network: `hf download {HF_REPO} --local-dir DIR` and "
    f"`hf download google/flan-t5-large --local-dir DIR/{TEXT_ENCODER_DIR}`. "
    "Install the model code with: pip install -c constraints.txt 'dramaflow[tangoflux]'. "
    "The weights are licensed for non-commercial research only."
)


class ModelNotAvailable(BackendUnavailable):
    """The TangoFlux weights or its Python packages are not on this machine (a render falls back)."""


@dataclass(frozen=True)
class ModelFiles:
    root: Path
    config: dict[str, Any]
    weights: Path
    vae: Path
    text_encoder: Path

    @property
    def fingerprint(self) -> str:
        """Identifies the weights in cache keys without reading gigabytes: config, sizes and mtimes."""
        parts = [json.dumps(self.config, sort_keys=True)]
        for path in (self.weights, self.vae, self.text_encoder / "config.json"):
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _offline_snapshot(repo: str) -> Path | None:
    """The folder of ``repo`` in the local Hugging Face cache; never touches the network."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=repo, local_files_only=True))
    except Exception:  # not cached, no huggingface_hub, a broken cache: all mean "not here"
        return None


def find_model(model_dir: str | os.PathLike | None = None, env: Mapping[str, str] = os.environ) -> ModelFiles:
    """Locate a complete model folder, or raise ``ModelNotAvailable`` naming what is missing and how to fix it."""
    given = model_dir or env.get("DRAMAFLOW_TANGOFLUX_DIR")
    root = Path(given).expanduser() if given else _offline_snapshot(HF_REPO)
    if root is None:
        raise ModelNotAvailable(f"TangoFlux model not found (no --model-dir, DRAMAFLOW_TANGOFLUX_DIR unset, "
                                f"{HF_REPO} not in the offline Hugging Face cache). {HOW_TO}")
    missing = [name for name in ("config.json", "tangoflux.safetensors", "vae.safetensors") if not (root / name).is_file()]
    if missing:
        raise ModelNotAvailable(f"TangoFlux model folder {root} lacks {', '.join(missing)}. {HOW_TO}")
    try:
        config = json.loads((root / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"{root / 'config.json'} is not readable JSON: {exc}") from None
    text_encoder = _text_encoder_dir(root, str(config.get("text_encoder_name", "google/flan-t5-large")))
    if text_encoder is None:
        raise ModelNotAvailable(f"TangoFlux model folder {root} has no {TEXT_ENCODER_DIR}/ with the T5 encoder and "
                                f"tokenizer, and {config.get('text_encoder_name')!r} is neither a folder nor in the "
                                f"offline Hugging Face cache. {HOW_TO}")
    return ModelFiles(root, config, root / "tangoflux.safetensors", root / "vae.safetensors", text_encoder)


def _text_encoder_dir(root: Path, name: str) -> Path | None:
    for candidate in (root / TEXT_ENCODER_DIR, Path(name).expanduser(), root / name):
        if (candidate / "config.json").is_file():
            return candidate
    return _offline_snapshot(name) if "/" in name and not name.startswith((".", "/")) else None


@dataclass(frozen=True)
class GenerationSettings:
    """How clips are sampled. Validated on construction."""

    steps: int = 25
    guidance_scale: float = 4.5
    loop_crossfade_s: float = 1.5

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 200:
            raise ConfigError(f"TangoFlux steps must be 1..200 (25 is fast, 50 the best quality), got {self.steps}")
        if not 1.0 < self.guidance_scale <= 20.0:
            raise ConfigError(f"TangoFlux guidance_scale must be above 1 and at most 20 (3.5–4.5 sound alike; "
                              f"1 or less breaks TangoFlux's sampler), got {self.guidance_scale}")
        if not 0.0 <= self.loop_crossfade_s <= 10.0:
            raise ConfigError(f"loop_crossfade_s must be 0..10 seconds, got {self.loop_crossfade_s}")


def check_duration(duration_s: float) -> float:
    if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise ConfigError(f"TangoFlux generates {MIN_DURATION_S:g}–{MAX_DURATION_S:g} s per clip, got {duration_s:g} s "
                          "(longer scenes are looped from one clip)")
    return float(duration_s)


def resolve_device(requested: str) -> str:
    """``auto`` → ``cuda:0`` when torch sees a GPU, else ``cpu``; ``cuda`` → ``cuda:0``; checked against torch."""
    import torch

    name = (requested or "auto").strip().lower()
    if name == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = "cuda:0"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"DRAMAFLOW_TANGOFLUX_DEVICE={requested} but torch sees no CUDA GPU (use auto or cpu)")
    if name != "cpu" and not name.startswith("cuda:"):
        raise ConfigError(f"DRAMAFLOW_TANGOFLUX_DEVICE must be auto, cpu, cuda or cuda:N, got {requested!r}")
    return name


def _import_model_code() -> Any:
    try:
        from nodes.ambience.backends import tangoflux_model
    except ImportError as exc:
        raise ModelNotAvailable(f"the TangoFlux backend needs torch, diffusers and transformers ({exc}). {HOW_TO}") from None
    return tangoflux_model


class TangoFluxBackend:
    """``AmbienceBackend`` over a local TangoFlux model. ``stats`` says what it cost (for the report)."""

    name = "tangoflux"

    def __init__(self, model_dir: str | os.PathLike | None = None, *, settings: GenerationSettings = GenerationSettings(),
                 device: str = "auto", cache_dir: Path | None = None, lock_timeout_s: float | None = None,
                 env: Mapping[str, str] = os.environ, on_step: StepFn | None = None) -> None:
        self.files = find_model(model_dir, env)
        self._model_code = _import_model_code()
        self.settings = settings
        self.device = resolve_device(device)
        self.on_step = on_step
        self._cache = NpzStore(Path(cache_dir) / "ambience", CACHE_VERSION) if cache_dir else None
        self._model_id = self.files.fingerprint
        self._lock_timeout_s = timeout_from_env(env) if lock_timeout_s is None else lock_timeout_s
        self._env = env
        self._holder = f"ambience/tangoflux task {env.get('DRAMAFLOW_TASK_ID', '-')}"
        self._resources = ExitStack()
        self._pipeline: Any = None
        self._clips: dict[str, tuple[np.ndarray, int]] = {}  # this render's clips, by key
        self.stats: dict[str, Any] = {"backend": self.name, "device": self.device, "generated": 0, "cache_hits": 0,
                                      "lock_wait_s": 0.0, "load_s": 0.0, "generate_s": 0.0, "peak_gpu_memory_mib": 0}

    # --- the model -------------------------------------------------------------------------------------
    def _load(self) -> Any:
        if self._pipeline is not None:
            return self._pipeline
        import torch
        from safetensors.torch import load_file
        from transformers import T5EncoderModel, T5TokenizerFast

        m = self._model_code
        self.stats["lock_wait_s"] = round(self._resources.enter_context(
            gpu_lock(self.device, holder=self._holder, timeout_s=self._lock_timeout_s, env=self._env)), 3)
        start = time.perf_counter()
        on_gpu = self.device.startswith("cuda")
        if not on_gpu:
            warnings.warn(DramaflowWarning(
                "TangoFlux runs on the CPU: minutes per clip for the full-size model (about 3.5 min at 25 steps on "
                "2 cores); use a GPU machine, the library backend, or render once and reuse the cache"), stacklevel=2)
        config = m.TangoFluxConfig.from_dict(self.files.config)
        text_encoder = T5EncoderModel.from_pretrained(self.files.text_encoder, local_files_only=True)
        tokenizer = T5TokenizerFast.from_pretrained(self.files.text_encoder, local_files_only=True)
        pipeline = m.build_pipeline(config, text_encoder, tokenizer)
        try:
            m.load_state(pipeline, load_file(self.files.weights), load_file(self.files.vae))
        except ValueError as exc:
            raise ModelNotAvailable(f"{self.files.root}: {exc}") from None
        self._pipeline = pipeline.to(torch.device(self.device), torch.float16 if on_gpu else torch.float32)
        if on_gpu:
            torch.cuda.reset_peak_memory_stats(self.device)
        self.stats["dtype"] = str(self._pipeline.dtype).removeprefix("torch.")
        self.stats["load_s"] = round(time.perf_counter() - start, 3)
        return self._pipeline

    def close(self) -> None:
        """Free the model (and the GPU's memory), then release the device lock. Safe to call twice."""
        if self._pipeline is not None:
            import torch

            if self.device.startswith("cuda"):
                self.stats["peak_gpu_memory_mib"] = round(torch.cuda.max_memory_allocated(self.device) / 2**20)
            self._pipeline = None
            gc.collect()
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
        self._resources.close()

    def __enter__(self) -> TangoFluxBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def clip_s(self) -> float:
        """Seconds one generation covers (the model's latent window, at most ``MAX_DURATION_S``). Read from
        config.json with AutoencoderOobleck's defaults (hop 2048 at 44.1 kHz), so a cache lookup needs no model."""
        config = self.files.config
        hop = int(np.prod((config.get("vae") or {}).get("downsampling_ratios", [2, 4, 4, 8, 8])))
        rate = int((config.get("vae") or {}).get("sampling_rate", 44100))
        return min(MAX_DURATION_S, int(config.get("audio_seq_len", 645)) * hop / rate)

    def generate(self, prompt: str, duration_s: float, seed: int) -> tuple[np.ndarray, int]:
        """One clip as the model makes it: float32 ``(samples, 2)`` and its rate (44.1 kHz). Cached by
        (model, prompt, seed, steps, guidance scale, duration); the cache holds it for every later render."""
        duration_s = check_duration(duration_s)
        key = {"model": self._model_id, "prompt": prompt, "seed": int(seed), "steps": self.settings.steps,
               "guidance_scale": self.settings.guidance_scale, "duration_s": round(duration_s, 4)}
        memo = json.dumps(key, sort_keys=True)
        if memo in self._clips:
            return self._clips[memo]
        found = self._cache.get(self._cache.digest(key)) if self._cache else None
        if found is not None:
            self.stats["cache_hits"] += 1
            audio, rate = found[0]["audio"].astype(np.float32), int(found[0]["sample_rate"])
        else:
            start = time.perf_counter()
            audio, rate = self._sample(prompt, duration_s, int(seed))
            self.stats["generated"] += 1
            self.stats["generate_s"] = round(self.stats["generate_s"] + time.perf_counter() - start, 3)
            if self._cache:
                self._cache.put(self._cache.digest(key), {"prompt": prompt, **key}, audio=audio,
                                sample_rate=np.int64(rate))
        self._clips[memo] = (audio, rate)
        return audio, rate

    def _sample(self, prompt: str, duration_s: float, seed: int) -> tuple[np.ndarray, int]:
        """Run the model. float16 can overflow where float32 does not: such a clip is made again in
        float32 (and the model stays float32 for the rest of the stage), with a warning."""
        import torch

        pipeline = self._load()
        step = (lambda i, n: self.on_step(prompt, i, n)) if self.on_step else None
        for _ in range(2):
            latents = pipeline.latents(prompt, duration_s=duration_s, seed=seed, steps=self.settings.steps,
                                       guidance_scale=self.settings.guidance_scale, on_step=step)
            audio = pipeline.decode(latents, duration_s)
            if np.isfinite(audio).all():
                return audio, pipeline.sample_rate
            if pipeline.dtype == torch.float32:
                break
            warnings.warn(DramaflowWarning(f"TangoFlux overflowed in {self.stats['dtype']} on {prompt!r}; "
                                           "generating again in float32"), stacklevel=2)
            pipeline.to(pipeline.device, torch.float32)
            self.stats["dtype"] = "float32"
        raise PermanentBackendError(f"TangoFlux produced non-finite samples for {prompt!r} in float32; "
                                    f"the weights in {self.files.root} may be damaged", backend=self.name)

    # --- AmbienceBackend -------------------------------------------------------------------------------
    def render_bed(self, prompt: str, duration_s: float, sample_rate: int, seed: int) -> Sound:
        clip, rate = self.generate(prompt, self.clip_s, seed)
        audio = loop_to_length(resample(clip, rate, sample_rate), seconds_to_samples(duration_s, sample_rate),
                               sample_rate, self.settings.loop_crossfade_s)
        return Sound(audio, sample_rate, (f"tangoflux: {prompt}",), False)

    def sfx_duration_s(self, prompt: str, duration_s: float | None = None) -> float:
        return min(float(duration_s), MAX_DURATION_S) if duration_s else DEFAULT_SFX_S

    def render_sfx(self, prompt: str, sample_rate: int, seed: int, duration_s: float | None = None) -> Sound:
        length_s = self.sfx_duration_s(prompt, duration_s)
        if duration_s and duration_s > MAX_DURATION_S:
            warnings.warn(DramaflowWarning(f"sfx {prompt!r}: {duration_s:g} s is longer than TangoFlux makes; "
                                           f"using {MAX_DURATION_S:g} s"), stacklevel=2)
        clip, rate = self.generate(prompt, max(length_s, MIN_DURATION_S), seed)
        audio = resample(clip, rate, sample_rate)
        n = seconds_to_samples(length_s, sample_rate)
        out = np.zeros((n, 2), dtype=np.float32)
        out[: min(n, len(audio))] = audio[:n]
        k = min(seconds_to_samples(SFX_FADE_OUT_S, sample_rate), n)  # the cut ends without a click
        out[n - k:] *= equal_power_fade_out(k)[:, None]
        return Sound(out, sample_rate, (f"tangoflux: {prompt}",), False)

    def describe(self) -> dict[str, list[str]]:
        where = f"TangoFlux at {self.files.root} on {self.device}"
        return {"scenes": [f"any prompt: generated by {where}, looped from one {self.clip_s:.1f} s clip"],
                "sfx": [f"any prompt: generated by {where} for its duration (default {DEFAULT_SFX_S:g} s)"]}
