"""The one table of ambience backends: a name, the class that implements it, and how a template's
``ambience`` settings and the machine's environment become its options. Adding a backend is one entry
here (its module is imported only when a render asks for it).

Backends import only ``backends/base.py`` and ``nodes/common``; this module imports them by name.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nodes.ambience.backends.base import AmbienceBackend
from nodes.common.diskcache import cache_dir_from_env, cache_enabled
from nodes.common.errors import ConfigError

# (the stage's AmbienceConfig, the environment, what the caller passes: model_dir, device, on_step)
OptionsFn = Callable[[Any, Mapping[str, str], Mapping[str, Any]], dict[str, Any]]
BackendFactory = Callable[..., AmbienceBackend]


def library_roots(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The sound libraries the operator offers, by name: ``DRAMAFLOW_AMBIENCE_LIBRARIES=name=/folder,…``.
    A task names one of these; only a local user (CLI, a template's defaults) gives a folder itself."""
    out = {}
    for part in str(env.get("DRAMAFLOW_AMBIENCE_LIBRARIES", "")).split(","):
        name, sep, folder = part.partition("=")
        if sep and name.strip() and folder.strip():
            out[name.strip()] = folder.strip()
    return out


def _tangoflux_options(config: Any, env: Mapping[str, str], runtime: Mapping[str, Any]) -> dict[str, Any]:
    return {"model_dir": runtime.get("model_dir"), "settings": config.generation(),
            "device": runtime.get("device") or env.get("DRAMAFLOW_TANGOFLUX_DEVICE", "auto"),
            "cache_dir": cache_dir_from_env(env) if cache_enabled(env) else None, "env": env,
            "on_step": runtime.get("on_step")}


def _library_options(config: Any, env: Mapping[str, str], runtime: Mapping[str, Any]) -> dict[str, Any]:
    return {"root": library_roots(env).get(config.ambience_library, config.ambience_library),
            "loop_crossfade_s": config.ambience_loop_crossfade_s}


@dataclass(frozen=True)
class Entry:
    target: str | BackendFactory  # "module:Class", or a factory registered at run time
    options: OptionsFn = field(default=lambda config, env, runtime: {})

    def factory(self) -> BackendFactory:
        if callable(self.target):
            return self.target
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


BACKENDS: dict[str, Entry] = {
    "procedural": Entry("nodes.ambience.backends.procedural:ProceduralBackend"),
    "tangoflux": Entry("nodes.ambience.backends.tangoflux:TangoFluxBackend", _tangoflux_options),
    "library": Entry("nodes.ambience.backends.library:LibraryBackend", _library_options),
}


def register_backend(name: str, factory: BackendFactory, options: OptionsFn | None = None) -> None:
    """Make ``get_backend(name, **options)`` call ``factory(**options)``; a later registration wins."""
    BACKENDS[name] = Entry(factory, options or Entry.__dataclass_fields__["options"].default)


def backend_names() -> list[str]:
    """The registered backend names, sorted."""
    return sorted(BACKENDS)


def _entry(name: str) -> Entry:
    entry = BACKENDS.get(name)
    if entry is None:
        raise ConfigError(f"unknown ambience backend {name!r}; known backends: {', '.join(backend_names())}")
    return entry


def get_backend(name: str, **options: object) -> AmbienceBackend:
    """Build the backend registered as ``name`` with ``options``; an unknown name raises ``ConfigError``
    listing the known ones."""
    return _entry(name).factory()(**options)


def backend_from_config(config: Any, env: Mapping[str, str] = os.environ, **runtime: Any) -> AmbienceBackend:
    """The backend a stage config names, its options taken from the config, ``env`` and ``runtime``."""
    entry = _entry(config.ambience_backend)
    return entry.factory()(**entry.options(config, env, runtime))
