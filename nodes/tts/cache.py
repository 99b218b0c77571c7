"""On-disk cache of synthesized segments, so a re-render after an edit pays only for what changed.

Keyed by a SHA-256 of everything that determines the audio (``Cacheable.cache_key``: the request as
the provider receives it, model and format), never by position in the script: moving or editing one
line leaves every other line's key unchanged. Storage: ``nodes.common.diskcache.NpzStore``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nodes.common.diskcache import NpzStore
from nodes.tts.backends.base import Speech

CACHE_VERSION = 1  # bump when the stored layout or what a key covers changes


class SpeechCache:
    """Segments under ``root/tts/<2 hex>/<sha256>.npz`` (float32 audio + sample rate + metadata)."""

    def __init__(self, root: Path) -> None:
        self.store = NpzStore(Path(root) / "tts", CACHE_VERSION)

    def digest(self, key: object) -> str:
        return self.store.digest(key)

    def get(self, digest: str, seq: int, backend: str) -> Speech | None:
        found = self.store.get(digest)
        if found is None:
            return None
        arrays, meta = found
        return Speech(seq=seq, audio=arrays["audio"].astype(np.float32).reshape(-1, 1),
                      sample_rate=int(arrays["sample_rate"]), backend=backend, cached=True,
                      trace_id=str(meta.get("trace_id", "")), notes=tuple(meta.get("notes", ())))

    def put(self, digest: str, speech: Speech) -> None:
        self.store.put(digest, {"trace_id": speech.trace_id, "notes": list(speech.notes),
                                "usage_characters": speech.usage_characters},
                       audio=np.asarray(speech.audio, dtype=np.float32), sample_rate=np.int64(speech.sample_rate))
