"""Content-addressed entries on disk (numpy arrays plus JSON), shared by the TTS segment cache and the
generated-ambience cache.

An entry lives at ``root/<2 hex>/<sha256>.npz``; the digest covers everything that determines its
content, never a position in a script. Writes go to a temporary file that is renamed into place, so a
reader (another worker, a killed render) never sees half an entry; an unreadable entry is deleted and
counts as a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nodes.common.files import atomic_write


def cache_dir_from_env(env: Mapping[str, str]) -> Path:
    """``DRAMAFLOW_CACHE_DIR``, else ``$DRAMAFLOW_DATA_DIR/cache``, else ``data/cache``; made absolute."""
    root = env.get("DRAMAFLOW_CACHE_DIR") or os.path.join(env.get("DRAMAFLOW_DATA_DIR") or "data", "cache")
    return Path(root).resolve()


def cache_enabled(env: Mapping[str, str]) -> bool:
    """``DRAMAFLOW_CACHE=off`` (or 0/false/no) turns every cache off."""
    return str(env.get("DRAMAFLOW_CACHE", "on")).lower() not in ("0", "off", "false", "no")


class NpzStore:
    """Entries of named float arrays and one JSON document under ``root``."""

    def __init__(self, root: Path, version: int) -> None:
        self.root = Path(root)
        self.version = version  # part of every digest: bump it when what a key covers changes

    def digest(self, key: object) -> str:
        blob = json.dumps({"v": self.version, "key": key}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.npz"

    def get(self, digest: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """``(arrays, meta)``, or None when absent or damaged (then the file is removed)."""
        path = self.path(digest)
        try:
            with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {name: np.asarray(data[name]) for name in data.files if name != "meta"}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # damaged (disk full at write time?): make it again
            return None
        return arrays, meta

    def put(self, digest: str, meta: Mapping[str, Any], **arrays: np.ndarray) -> None:
        atomic_write(self.path(digest), lambda handle: np.savez(
            handle, meta=np.str_(json.dumps(dict(meta))), **{name: np.asarray(a) for name, a in arrays.items()}),
            suffix=".npz")
