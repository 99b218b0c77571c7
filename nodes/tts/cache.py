"""On-disk cache of synthesized segments, so a re-render after an edit pays only for what changed.

Keyed by a SHA-256 of everything that determines the audio (``Cacheable.cache_key``: the request as
the provider receives it, model and format), never by position in the script: moving or editing one
line leaves every other line's key unchanged. Entries are written to a temporary file and renamed, so
a reader (another worker, a killed render) never sees half an entry; an unreadable entry is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nodes.tts.backends.base import Speech

CACHE_VERSION = 1  # bump when the stored layout or what a key covers changes


def cache_dir_from_env(env: Mapping[str, str]) -> Path:
    """``DRAMAFLOW_CACHE_DIR``, else ``$DRAMAFLOW_DATA_DIR/cache``, else ``data/cache``; made absolute."""
    root = env.get("DRAMAFLOW_CACHE_DIR") or os.path.join(env.get("DRAMAFLOW_DATA_DIR") or "data", "cache")
    return Path(root).resolve()


def cache_enabled(env: Mapping[str, str]) -> bool:
    return str(env.get("DRAMAFLOW_CACHE", "on")).lower() not in ("0", "off", "false", "no")


class SpeechCache:
    """Segments under ``root/tts/<2 hex>/<sha256>.npz`` (float32 audio + sample rate + metadata)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "tts"

    @staticmethod
    def digest(key: object) -> str:
        blob = json.dumps({"v": CACHE_VERSION, "key": key}, sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.npz"

    def get(self, digest: str, seq: int, backend: str) -> Speech | None:
        path = self._path(digest)
        try:
            with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
                audio = np.asarray(data["audio"], dtype=np.float32)
                sample_rate = int(data["sample_rate"])
                meta = json.loads(str(data["meta"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # damaged (disk full at write time?): synthesize again
            return None
        return Speech(seq=seq, audio=audio.reshape(-1, 1), sample_rate=sample_rate, backend=backend,
                      cached=True, trace_id=str(meta.get("trace_id", "")), notes=tuple(meta.get("notes", ())))

    def put(self, digest: str, speech: Speech) -> None:
        path = self._path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, audio=np.ascontiguousarray(speech.audio, dtype=np.float32),
                         sample_rate=np.int64(speech.sample_rate),
                         meta=np.str_(json.dumps({"trace_id": speech.trace_id, "notes": list(speech.notes),
                                                  "usage_characters": speech.usage_characters})))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
