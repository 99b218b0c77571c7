"""The one interface every TTS backend satisfies.

It is async so that an HTTP backend (MiniMax) can keep several requests in flight; offline engines run
their blocking call in a worker thread and declare ``max_in_flight = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from nodes.common.planning import SynthesisRequest


@dataclass(frozen=True)
class Speech:
    """Mono float32 audio shaped (samples, 1) at the backend's native ``sample_rate``."""

    seq: int
    audio: np.ndarray
    sample_rate: int
    backend: str
    usage_characters: int = 0  # billed characters (paid APIs); 0 for offline engines and cache hits
    utterance: int = -1  # filled in by the TTS stage
    cached: bool = False  # served from the speech cache, no request made
    requests: int = 0  # API requests this clip took, retries included (0 offline)
    retries: int = 0  # transient errors retried before it succeeded
    trace_id: str = ""  # the provider's id of the request that produced it, for support
    notes: tuple[str, ...] = ()  # soft problems (e.g. an emotion the model lacks): reported as warnings

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate


@runtime_checkable
class Synthesizer(Protocol):
    name: str
    max_in_flight: int

    async def synthesize(self, request: SynthesisRequest) -> Speech:
        """Speak one segment. Raise ``TransientBackendError`` when a retry may help,
        ``PermanentBackendError`` when it cannot."""
        ...

    async def aclose(self) -> None:
        """Release models, sessions, connections."""
        ...


@runtime_checkable
class Cacheable(Protocol):
    """A backend whose output is worth caching on disk (paid or slow). ``cache_key`` returns everything
    that determines the audio (the request as sent, model, format), as a JSON-able value."""

    def cache_key(self, request: SynthesisRequest) -> object: ...
