"""A TangoFlux model folder with random weights, in the published layout, built with the real classes.

``write_model(dir)`` writes ``config.json``, ``tangoflux.safetensors``, ``vae.safetensors`` and
``text_encoder/`` (T5 encoder + tokenizer), exactly what ``find_model`` expects of the real weights. The
tiny size (about 1 M parameters, reference/tangoflux.md §7) runs the real sampler on a CPU in well
under a second; ``FULL`` is the published architecture (about 1 B parameters) for the benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WORDS = "rain on a tin roof with distant thunder wind birds sea waves fire crackling door knock".split()

TINY: dict[str, Any] = {
    "model": {"num_layers": 1, "num_single_layers": 1, "in_channels": 64, "attention_head_dim": 128,
              "num_attention_heads": 1, "joint_attention_dim": 32, "audio_seq_len": 88, "max_duration": 30,
              "text_encoder_name": "google/flan-t5-large"},
    # 88 latent frames × hop 512 = 45056 samples: the tiny model's whole window is 1.02 s.
    "vae": {"encoder_hidden_size": 8, "channel_multiples": [1, 2, 2], "downsampling_ratios": [8, 8, 8],
            "decoder_channels": 8, "decoder_input_channels": 64, "audio_channels": 2, "sampling_rate": 44100},
    "t5": {"vocab_size": 64, "d_model": 32, "d_kv": 16, "d_ff": 64, "num_layers": 1, "num_heads": 2},
}

FULL: dict[str, Any] = {
    "model": {"num_layers": 6, "num_single_layers": 18, "in_channels": 64, "attention_head_dim": 128,
              "num_attention_heads": 8, "joint_attention_dim": 1024, "audio_seq_len": 645, "max_duration": 30,
              "text_encoder_name": "google/flan-t5-large"},
    "vae": None,  # AutoencoderOobleck defaults, as upstream
    # google/flan-t5-large's encoder
    "t5": {"vocab_size": 32128, "d_model": 1024, "d_kv": 64, "d_ff": 2816, "num_layers": 24, "num_heads": 16,
           "feed_forward_proj": "gated-gelu", "is_gated_act": True},
}


def tokenizer(max_length: int = 64):
    """A T5 fast tokenizer over a small vocabulary: a Unigram model with a Metaspace pre-tokenizer (a
    WordLevel one does not survive transformers 5's reload), ``model_max_length`` set (the guided path
    truncates to it)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import T5TokenizerFast

    pieces = ["<pad>", "</s>", "<unk>"] + [f"\u2581{w}" for w in WORDS]
    vocab = [(p, -1.0) for p in pieces] + [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    tok = Tokenizer(models.Unigram(vocab[:64], unk_id=2))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    return T5TokenizerFast(tokenizer_object=tok, model_max_length=max_length, pad_token="<pad>", eos_token="</s>",
                           unk_token="<unk>", extra_ids=0)


def pipeline(size: dict[str, Any] = TINY, seed: int = 0):
    """A random-weight ``TangoFluxPipeline`` of ``size`` on the CPU (seeded: the same weights each time)."""
    import torch
    from transformers import T5Config, T5EncoderModel

    from nodes.ambience.backends.tangoflux_model import TangoFluxConfig, build_pipeline

    torch.manual_seed(seed)
    t5 = T5EncoderModel(T5Config(pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **size["t5"]))
    return build_pipeline(TangoFluxConfig.from_dict({**size["model"], "vae": size["vae"]}), t5, tokenizer())


def write_model(root: Path, size: dict[str, Any] = TINY, seed: int = 0) -> Path:
    """Write a model folder in the published layout; returns ``root``."""
    from safetensors.torch import save_file

    from nodes.ambience.backends.tangoflux_model import TIED_KEYS

    p = pipeline(size, seed)
    root.mkdir(parents=True, exist_ok=True)
    config = dict(size["model"])
    if size["vae"]:
        config["vae"] = size["vae"]
    (root / "config.json").write_text(json.dumps(config, indent=2))
    weights = {k: v.contiguous() for k, v in p.model.state_dict().items() if k not in TIED_KEYS}
    save_file(weights, str(root / "tangoflux.safetensors"))
    save_file({k: v.contiguous() for k, v in p.vae.state_dict().items()}, str(root / "vae.safetensors"))
    p.model.text_encoder.save_pretrained(root / "text_encoder")
    p.tokenizer.save_pretrained(root / "text_encoder")
    return root
