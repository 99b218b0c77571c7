"""The TangoFlux network and its sampler, written over diffusers and transformers (imports torch).

Architecture (facts from the published model, reference/tangoflux.md): a FLAN-T5 encoder reads the
prompt; its masked mean, through ``fc`` (Linear + ReLU), is the pooled conditioning; a duration
embedding (Fourier features + Linear, seconds clamped to 0..max_duration) is appended to the text tokens
as one more token; a ``FluxTransformer2DModel`` (no guidance embedding) predicts the flow velocity of
``audio_seq_len`` latent frames of 64 channels; rectified-flow Euler steps with sigmas
``linspace(1, 1/N, N)``, classifier-free guidance against the empty prompt; the Oobleck VAE decodes
44.1 kHz stereo. Submodule names match the published checkpoint's keys (``duration_emebdder`` is
spelled as it is there), so ``tangoflux.safetensors`` loads as it is.

Only ``nodes.ambience.backends.tangoflux`` imports this module, and only when that backend is used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import diffusers
import numpy as np
import torch
import transformers
from diffusers import AutoencoderOobleck, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
from torch import nn
from transformers import T5EncoderModel, T5TokenizerFast

for _library in (transformers, diffusers):  # no progress bars or dtype-casting notes in node logs
    _library.utils.logging.set_verbosity_error()
    _library.utils.logging.disable_progress_bar()

LATENT_CHANNELS = 64
# The one key the published checkpoint leaves out: T5 ties it to ``text_encoder.shared.weight``.
TIED_KEYS = frozenset({"text_encoder.encoder.embed_tokens.weight"})


@dataclass(frozen=True)
class TangoFluxConfig:
    """``config.json`` of a TangoFlux model folder (defaults: the published model)."""

    num_layers: int = 6
    num_single_layers: int = 18
    in_channels: int = LATENT_CHANNELS
    attention_head_dim: int = 128
    joint_attention_dim: int = 1024
    num_attention_heads: int = 8
    audio_seq_len: int = 645
    max_duration: float = 30.0
    text_encoder_name: str = "google/flan-t5-large"
    vae: Mapping[str, Any] | None = None  # AutoencoderOobleck arguments; None: its defaults (Stable Audio Open)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TangoFluxConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class _FourierFeatures(nn.Module):
    """``t`` → ``[t, sin(2π t w), cos(2π t w)]`` with learned frequencies ``w``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.randn(dim // 2))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t = t[..., None]
        angles = t * self.weights[None] * (2 * math.pi)
        return torch.cat((t, angles.sin(), angles.cos()), dim=-1)


class DurationEmbedder(nn.Module):
    """Seconds ``(batch,)`` → one conditioning token ``(batch, 1, dim)``."""

    def __init__(self, dim: int, max_duration: float, internal_dim: int = 256) -> None:
        super().__init__()
        self.max_duration = float(max_duration)
        self.dim = dim
        self.time_positional_embedding = nn.Sequential(_FourierFeatures(internal_dim), nn.Linear(internal_dim + 1, dim))

    def forward(self, seconds: torch.Tensor) -> torch.Tensor:
        dtype = self.time_positional_embedding[1].weight.dtype
        fraction = (seconds.clamp(0.0, self.max_duration) / self.max_duration).to(dtype)
        return self.time_positional_embedding(fraction).view(-1, 1, self.dim)


class TangoFluxModel(nn.Module):
    """The conditioning and the flow transformer (the VAE and tokenizer live beside it)."""

    def __init__(self, config: TangoFluxConfig, text_encoder: T5EncoderModel) -> None:
        super().__init__()
        self.config = config
        width = text_encoder.config.d_model
        if width != config.joint_attention_dim:
            raise ValueError(f"text encoder width {width} != joint_attention_dim {config.joint_attention_dim}")
        self.text_encoder = text_encoder
        self.fc = nn.Sequential(nn.Linear(width, config.joint_attention_dim), nn.ReLU())
        self.duration_emebdder = DurationEmbedder(width, config.max_duration)
        self.transformer = FluxTransformer2DModel(
            in_channels=config.in_channels,
            num_layers=config.num_layers,
            num_single_layers=config.num_single_layers,
            attention_head_dim=config.attention_head_dim,
            num_attention_heads=config.num_attention_heads,
            joint_attention_dim=config.joint_attention_dim,
            pooled_projection_dim=width,
            guidance_embeds=False,
        )


@dataclass
class TangoFluxPipeline:
    """Everything one generation needs, on one device. ``dtype`` is the transformer's and the VAE's;
    the text encoder and the small conditioning layers stay float32 (T5 overflows in float16)."""

    model: TangoFluxModel
    vae: AutoencoderOobleck
    tokenizer: T5TokenizerFast
    device: torch.device
    dtype: torch.dtype

    @property
    def sample_rate(self) -> int:
        return int(self.vae.config.sampling_rate)

    @property
    def clip_s(self) -> float:
        """What one generation covers: ``audio_seq_len`` latent frames (about 29.95 s for the published model)."""
        hop = int(np.prod(self.vae.config.downsampling_ratios))
        return self.model.config.audio_seq_len * hop / self.sample_rate

    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters()) + sum(p.numel() for p in self.vae.parameters())

    def to(self, device: torch.device, dtype: torch.dtype) -> TangoFluxPipeline:
        self.model.to(device)
        self.model.transformer.to(dtype)
        self.vae.to(device, dtype)
        self.device, self.dtype = device, dtype
        return self

    def _encode(self, texts: list[str], max_length: int, padding: str | bool) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.tokenizer(texts, max_length=max_length, padding=padding, truncation=True, return_tensors="pt")
        ids, mask = batch.input_ids.to(self.device), batch.attention_mask.to(self.device)
        return self.model.text_encoder(input_ids=ids, attention_mask=mask)[0], mask

    @torch.inference_mode()
    def latents(self, prompt: str, *, duration_s: float, seed: int, steps: int, guidance_scale: float,
                on_step: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """Sample ``(1, audio_seq_len, 64)`` latents. The noise comes from a CPU generator seeded with
        ``seed`` (no global RNG is touched), so a seed gives the same audio on every device."""
        cond, cond_mask = self._encode([prompt], self.tokenizer.model_max_length, True)
        uncond, uncond_mask = self._encode([""], cond.shape[1], "max_length")
        text = torch.cat([uncond, cond])
        mask = torch.cat([uncond_mask, cond_mask]).to(text.dtype)[..., None]
        pooled = self.model.fc((text * mask).sum(dim=1) / mask.sum(dim=1))  # mean over real tokens
        duration = self.model.duration_emebdder(torch.full((2,), float(duration_s), device=self.device))
        context = torch.cat([text, duration], dim=1).to(self.dtype)
        pooled = pooled.to(self.dtype)

        frames = self.model.config.audio_seq_len
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        latents = torch.randn((1, frames, LATENT_CHANNELS), generator=generator, dtype=torch.float32).to(self.device)
        scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000)
        scheduler.set_timesteps(sigmas=list(np.linspace(1.0, 1.0 / steps, steps)), device=self.device)
        # 2-D position ids (the 3-D form is deprecated in diffusers): text all zeros, audio frame index.
        text_ids = torch.zeros(context.shape[1], 3, device=self.device, dtype=self.dtype)
        audio_ids = torch.arange(frames, device=self.device, dtype=self.dtype)[:, None].repeat(1, 3)
        for i, t in enumerate(scheduler.timesteps):
            velocity = self.model.transformer(
                hidden_states=torch.cat([latents, latents]).to(self.dtype),
                timestep=(t / 1000).expand(2).to(self.dtype),
                pooled_projections=pooled,
                encoder_hidden_states=context,
                txt_ids=text_ids,
                img_ids=audio_ids,
                return_dict=False,
            )[0].float()
            unguided, guided = velocity.chunk(2)
            latents = scheduler.step(unguided + guidance_scale * (guided - unguided), t, latents).prev_sample
            if on_step:
                on_step(i + 1, steps)
        return latents

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor, duration_s: float) -> np.ndarray:
        """Latents → float32 ``(samples, 2)`` at ``sample_rate``, cut to ``duration_s``."""
        wave = self.vae.decode(latents.transpose(1, 2).to(self.dtype)).sample[0]
        wave = wave[:, : int(round(duration_s * self.sample_rate))]
        return np.ascontiguousarray(wave.float().cpu().numpy().T, dtype=np.float32)


def build_pipeline(config: TangoFluxConfig, text_encoder: T5EncoderModel, tokenizer: T5TokenizerFast) -> TangoFluxPipeline:
    """A pipeline with freshly initialised weights (load a checkpoint into it, or use it as is for benchmarks)."""
    with warnings.catch_warnings():
        # diffusers builds the Oobleck VAE with torch's old weight_norm, whose parameter names
        # (weight_g/weight_v) are the ones in vae.safetensors: keep it, silence its deprecation notice.
        warnings.filterwarnings("ignore", r".*torch\.nn\.utils\.weight_norm.* is deprecated", FutureWarning)
        vae = AutoencoderOobleck(**dict(config.vae or {}))
    model = TangoFluxModel(config, text_encoder)
    return TangoFluxPipeline(model.eval(), vae.eval(), tokenizer, torch.device("cpu"), torch.float32)


def load_state(pipeline: TangoFluxPipeline, weights: Mapping[str, torch.Tensor],
               vae_weights: Mapping[str, torch.Tensor]) -> None:
    """Load checkpoint tensors; raises ``ValueError`` listing keys that do not fit the architecture."""
    missing, unexpected = pipeline.model.load_state_dict(dict(weights), strict=False)
    missing = [k for k in missing if k not in TIED_KEYS]
    if missing or unexpected:
        raise ValueError(f"tangoflux.safetensors does not fit config.json: {len(missing)} missing "
                         f"({', '.join(missing[:3])}), {len(unexpected)} unexpected ({', '.join(unexpected[:3])})")
    try:
        pipeline.vae.load_state_dict(dict(vae_weights))
    except RuntimeError as exc:  # torch lists every mismatch; the first lines say enough
        raise ValueError(f"vae.safetensors does not fit the VAE config: {str(exc).splitlines()[0]}") from None
