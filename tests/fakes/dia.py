"""A tiny Dia checkpoint with random weights, built with the real transformers classes and saved in the
published layout (the model, its preprocessor and tokenizer, the DAC codec in dac/)."""

from __future__ import annotations

from pathlib import Path

ENCODER = dict(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, num_key_value_heads=2, head_dim=16,
               intermediate_size=64, vocab_size=256, max_position_embeddings=512)
DECODER = dict(num_hidden_layers=1, hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1,
               head_dim=16, cross_num_attention_heads=2, cross_head_dim=16, cross_num_key_value_heads=2,
               cross_hidden_size=32, vocab_size=1028, num_channels=9, max_position_embeddings=4096)
CODEC = dict(encoder_hidden_size=8, downsampling_ratios=[2, 4, 8, 8], decoder_hidden_size=16, n_codebooks=9,
             codebook_size=1024, codebook_dim=4, sampling_rate=44100)


FULL_CODEC = dict(encoder_hidden_size=64, downsampling_ratios=[2, 4, 8, 8], decoder_hidden_size=1536, n_codebooks=9,
                  codebook_size=1024, codebook_dim=8, sampling_rate=44100)  # descript/dac_44khz


def save_dia(root: Path, *, full: bool = False, seed: int = 0, device: str = "cpu") -> int:
    """Save a random-weight Dia (tiny, or the published full size in bf16) in the published layout;
    returns its parameter count."""
    import torch
    from transformers import (
        DacConfig,
        DacModel,
        DiaConfig,
        DiaFeatureExtractor,
        DiaForConditionalGeneration,
        DiaTokenizer,
    )

    torch.manual_seed(seed)
    config = DiaConfig() if full else DiaConfig(encoder_config=ENCODER, decoder_config=DECODER,
                                                 delay_pattern=[0, 8, 9, 10, 11, 12, 13, 14, 15])
    with torch.device(device):
        model = DiaForConditionalGeneration(config)
        codec = DacModel(DacConfig(**(FULL_CODEC if full else CODEC)))
    if full:
        model = model.to(torch.bfloat16)
    model.save_pretrained(root)
    codec.save_pretrained(root / "dac")
    DiaFeatureExtractor(sampling_rate=44100, hop_length=512).save_pretrained(root)
    DiaTokenizer().save_pretrained(root)
    return sum(p.numel() for p in model.parameters())
