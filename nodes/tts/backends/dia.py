"""Dia (Nari Labs, Apache-2.0 code and weights) through ``transformers``: a local voice that clones a
speaker from a reference clip and its transcript.

Why Dia: of the voice-cloning models ``transformers`` implements, Dia-1.6B's weights are Apache-2.0 and
its text tokenizer is byte-level (no gated tokenizer to fetch); Sesame CSM-1B needs the Llama-3.2
tokenizer. Dia speaks English only.

Model folder (``DRAMAFLOW_DIA_DIR``), nothing downloaded at run time:

- the transformers checkpoint of Dia (``nari-labs/Dia-1.6B-0626``): ``config.json``,
  ``model.safetensors``, ``preprocessor_config.json``, ``tokenizer_config.json``;
- its audio codec in ``dac/`` (``descript/dac_44khz``: ``config.json``, ``model.safetensors``).

A voice in voices.yaml: ``provider: dia``, ``provider_voice`` the reference clip (a path relative to
voices.yaml), ``params.reference_text`` what the clip says. The clip's text and the line are given to
the model as one speaker (``[S1] clip text [S1] line``) with the clip's audio codes as the start of the
answer; what it generates after them is the line in the clip's voice.

Device: ``DRAMAFLOW_DIA_DEVICE`` (``cuda``, ``cuda:N`` or ``cpu``; default the first GPU when torch sees
one), bf16 on CUDA, float32 on the CPU. The backend holds the device's lock (``nodes.common.gpulock``)
from load to ``aclose``, as TangoFlux does; the TTS stage closes its voices before its last message, so
the ambience stage finds the GPU free. Sampling is seeded per segment: the same line and seed give the
same audio on the same machine.
"""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from nodes.common.errors import ConfigError, PermanentBackendError, warn
from nodes.common.gpulock import gpu_lock, timeout_from_env
from nodes.tts.backends.base import Speech, SynthesisRequest

SAMPLE_RATE = 44_100
FRAMES_PER_S = SAMPLE_RATE / 512  # DAC codes per second
SECONDS_PER_CHAR = 0.09  # an upper bound of speech per character, for the token budget
MAX_NEW_TOKENS = 3072  # about 35 s of audio: the segmenter keeps a Dia segment far below it
DEFAULT_SAMPLING = {"temperature": 1.2, "top_p": 0.95, "top_k": 45, "guidance_scale": 3.0}

HOW_TO = ("Dia needs its weights on this machine: put the transformers checkpoint of nari-labs/Dia-1.6B-0626 in a "
          "folder, the descript/dac_44khz codec in its dac/ subfolder, and set DRAMAFLOW_DIA_DIR to the folder. "
          "Install the model code with: pip install -c constraints.txt 'dramaflow[tangoflux]' (torch, transformers).")


def model_dir(env: Mapping[str, str]) -> Path:
    raw = (env.get("DRAMAFLOW_DIA_DIR") or "").strip()
    if not raw:
        raise ConfigError(f"DRAMAFLOW_DIA_DIR is not set. {HOW_TO}")
    root = Path(raw)
    missing = [p for p in ("config.json", "dac/config.json") if not (root / p).is_file()]
    if missing:
        raise ConfigError(f"DRAMAFLOW_DIA_DIR={root} lacks {', '.join(missing)}. {HOW_TO}")
    return root


def dia_device(env: Mapping[str, str]) -> str:
    import torch

    raw = (env.get("DRAMAFLOW_DIA_DEVICE") or "").strip().lower()
    if not raw:
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if raw == "cuda":
        raw = "cuda:0"
    if raw != "cpu" and not (raw.startswith("cuda:") and raw[5:].isdigit()):
        raise ConfigError(f"DRAMAFLOW_DIA_DEVICE must be cpu, cuda or cuda:N, got {raw!r}")
    if raw != "cpu" and not torch.cuda.is_available():
        raise ConfigError(f"DRAMAFLOW_DIA_DEVICE={raw}, but torch sees no GPU here (a CPU build of torch?)")
    return raw


def prompt_text(reference_text: str, line: str) -> str:
    """One speaker throughout: the clip's words, then the line."""
    clean = lambda t: " ".join(t.replace("[", "(").replace("]", ")").split())  # noqa: E731 (no stray speaker tags)
    return f"[S1] {clean(reference_text)} [S1] {clean(line)}"


def token_budget(text: str) -> int:
    return min(MAX_NEW_TOKENS, int(len(text) * SECONDS_PER_CHAR * FRAMES_PER_S) + 64)


class DiaSynthesizer:
    """One segment at a time (one model on one device)."""

    name = "dia"
    max_in_flight = 1

    @classmethod
    def create(cls, *, env: Mapping[str, str] = os.environ, device: str = "cpu", **_machine: object) -> DiaSynthesizer:
        return cls(model_dir(env), device=dia_device(env), env=env, held_device=device)

    def __init__(self, root: Path, *, device: str = "cpu", env: Mapping[str, str] = os.environ,
                 held_device: str | None = None) -> None:
        self.device = device
        self._stack = ExitStack()
        if held_device != device:  # the TTS stage already holds its own device's lock
            self._stack.enter_context(gpu_lock(device, holder=f"dia voice, task {env.get('DRAMAFLOW_TASK_ID', '-')}",
                                               timeout_s=timeout_from_env(env), env=env))
        try:
            self._load(root)
        except BaseException:
            self._stack.close()
            raise
        self._lock = threading.Lock()
        self._references: dict[tuple[str, str], np.ndarray] = {}

    def _load(self, root: Path) -> None:
        import torch
        from transformers import (
            DacModel,
            DiaFeatureExtractor,
            DiaForConditionalGeneration,
            DiaProcessor,
            DiaTokenizer,
        )

        if self.device == "cpu":
            warn("the Dia voice runs on the CPU: minutes per line at full size; set DRAMAFLOW_DIA_DEVICE=cuda "
                 "where there is a GPU")
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        self._model = DiaForConditionalGeneration.from_pretrained(root, dtype=dtype, local_files_only=True)
        self._model.to(self.device).eval()
        codec = DacModel.from_pretrained(root / "dac", local_files_only=True).to(self.device).eval()
        self._processor = DiaProcessor(DiaFeatureExtractor.from_pretrained(root, local_files_only=True),
                                       DiaTokenizer.from_pretrained(root, local_files_only=True), codec)

    def _reference(self, request: SynthesisRequest) -> np.ndarray:
        import soundfile

        from nodes.common.audio import resample

        path = request.voice.provider_voice or ""
        key = (path, str(request.voice.option("reference_text", "")))
        if key not in self._references:
            try:
                audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
            except (OSError, RuntimeError) as exc:
                raise PermanentBackendError(f"voice {request.voice.voice_id}: cannot read its reference clip "
                                            f"{path}: {exc}", backend=self.name, line=request.line) from None
            self._references[key] = resample(audio.mean(axis=1, keepdims=True), rate, SAMPLE_RATE)[:, 0]
        return self._references[key]

    def synthesize_sync(self, request: SynthesisRequest) -> Speech:
        import torch

        voice = request.voice
        reference_text = str(voice.option("reference_text", "")).strip()
        if not reference_text:
            raise PermanentBackendError(f"voice {voice.voice_id}: params.reference_text (what the reference clip "
                                        "says) is missing in voices.yaml", backend=self.name, line=request.line)
        clip = self._reference(request)
        with self._lock, torch.inference_mode(), warnings.catch_warnings():
            # transformers' tokenizer warns that the processor's padding=True ignores max_length: harmless here
            warnings.filterwarnings("ignore", message=".max_length. is ignored when .padding.=.True.")
            inputs = self._processor(text=[prompt_text(reference_text, request.text)], audio=[clip], padding=True,
                                     return_tensors="pt").to(self.device)
            prompt_len = self._processor.get_audio_prompt_len(inputs["decoder_attention_mask"])
            generator_seed = request.seed & 0x7FFF_FFFF
            torch.manual_seed(generator_seed)
            sampling = {k: float(voice.option(k, v)) for k, v in DEFAULT_SAMPLING.items()}
            sampling["top_k"] = int(sampling["top_k"])
            out = self._model.generate(**inputs, max_new_tokens=token_budget(request.text), do_sample=True, **sampling)
            audio = self._processor.batch_decode(out, audio_prompt_len=prompt_len)[0]
        samples = np.asarray(audio.float().cpu().numpy(), dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise PermanentBackendError("Dia produced no audio after the reference clip", backend=self.name,
                                        line=request.line)
        return Speech(seq=request.seq, audio=np.clip(samples, -1.0, 1.0)[:, None], sample_rate=SAMPLE_RATE,
                      backend=self.name)

    async def synthesize(self, request: SynthesisRequest) -> Speech:
        return await asyncio.to_thread(self.synthesize_sync, request)

    async def aclose(self) -> None:
        """Free the model and its device memory, then the device's lock."""
        self._model = self._processor = None  # type: ignore[assignment]
        import gc

        gc.collect()
        try:
            import torch

            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
        finally:
            self._stack.close()
