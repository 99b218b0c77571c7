"""Report summaries that more than one stage writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def tts_summary(stats: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-task TTS numbers for the report: segments per backend, API requests (retries included),
    retries of transient errors, cache hits and misses (of cacheable backends), billed characters."""
    out: dict[str, Any] = {"backends": {}, "requests": 0, "retries": 0, "cache_hits": 0, "cache_misses": 0,
                           "usage_characters": 0}
    for row in stats:
        out["backends"][row["backend"]] = out["backends"].get(row["backend"], 0) + 1
        out["requests"] += int(row.get("requests", 0))
        out["retries"] += int(row.get("retries", 0))
        out["usage_characters"] += int(row.get("usage_characters", 0))
        if row.get("cached"):
            out["cache_hits"] += 1
        elif row.get("requests"):
            out["cache_misses"] += 1
    return out
