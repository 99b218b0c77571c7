"""Stage configs from environment variables: ``DRAMAFLOW_<FIELD>`` for each dataclass field.

Nodes call these in ``main()`` on ``os.environ``; the DirectEngine calls them on the ``env:`` of the
rendered template, so both engines run with exactly the settings the template gives.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from nodes.common.errors import ConfigError

PREFIX = "DRAMAFLOW_"
T = TypeVar("T")


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def config_from_env(cls: type[T], env: Mapping[str, Any], **fixed: Any) -> T:
    """Build dataclass ``cls`` from ``env``; fields without a variable keep their defaults."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = dict(fixed)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = env_name(f.name)
        if f.name in fixed or key not in env:
            continue
        values[f.name] = _parse(key, str(env[key]), hints[f.name])
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid settings for {cls.__name__}: {exc}") from None


def env_from_config(config: Any, fields: tuple[str, ...] | None = None) -> dict[str, str]:
    """The inverse: variables that reproduce ``config`` (all fields, or the named ones)."""
    out = {}
    for f in dataclasses.fields(config):
        if fields is not None and f.name not in fields:
            continue
        value = getattr(config, f.name)
        if isinstance(value, Mapping):
            out[env_name(f.name)] = ",".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, tuple):
            out[env_name(f.name)] = ",".join(map(str, value))
        else:
            out[env_name(f.name)] = str(value)
    return out


# Values copied from an example file and never replaced (compared without case, "-" or "_").
PLACEHOLDERS = frozenset({"changeme", "replaceme", "yourkey", "yourkeyhere", "yourapikey", "yourpassword", "secret", "password",
                          "xxx", "xxxx", "todo", "example", "placeholder", "none", "null"})


def is_placeholder(value: str) -> bool:
    """Whether a secret is an example's stand-in (``CHANGE-ME``, ``<your key>``, ``xxx``…), not a real one."""
    bare = value.strip().strip("<>{}[]'\"").lower().replace("-", "").replace("_", "").replace(" ", "")
    return bare in PLACEHOLDERS or "changeme" in bare


def check_ranges(config: Any, ranges: Mapping[str, tuple[float, float]]) -> None:
    """Raise ``ValueError`` naming the first field of ``config`` outside its inclusive ``(low, high)``."""
    for name, (low, high) in ranges.items():
        values = getattr(config, name)
        for value in values if isinstance(values, tuple) else (values,):
            if not (low <= value <= high):  # also false for NaN
                raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")


def check_choice(config: Any, name: str, choices: tuple[Any, ...]) -> None:
    if getattr(config, name) not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {getattr(config, name)!r}")


def _parse(key: str, raw: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return _finite(float(raw))
        if origin is tuple:
            return tuple(_finite(float(part)) for part in raw.split(","))
        if origin in (Mapping, dict, typing.Mapping) or kind is Mapping:
            pairs = (part.split("=", 1) for part in raw.split(",") if part.strip())
            return {k.strip(): int(v) for k, v in pairs}
        if kind is str:
            return raw
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a valid {getattr(kind, '__name__', kind)}") from None
    raise ConfigError(f"{key}: settings of type {kind} cannot come from the environment")


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


ENV_TTS_WORKERS = "DRAMAFLOW_TTS_WORKERS"
MAX_TTS_WORKERS = 64


def cores() -> int:
    """The CPU cores this process may run on (its affinity, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def synthesis_workers(env: Mapping[str, str]) -> int:
    """How many segments a local voice speaks at once: ``DRAMAFLOW_TTS_WORKERS`` (1–64), by default one
    per core. A worker running several renders at once gives each its share of the cores."""
    raw = str(env.get(ENV_TTS_WORKERS, "")).strip()
    if not raw:
        return cores()
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if not 1 <= workers <= MAX_TTS_WORKERS:
        raise ConfigError(f"{ENV_TTS_WORKERS}={raw!r}: give a whole number from 1 to {MAX_TTS_WORKERS}")
    return workers
