"""Recursive filters and running minima without importing ``scipy.signal`` or ``scipy.ndimage``.

Why: importing ``scipy.signal`` costs 2.3 s of CPU (its array-API layer parses docstrings at import)
and ``scipy.ndimage`` 0.6 s; every dora node is a new process, so the mixer and the output paid that in
every render for one ``lfilter`` and one minimum filter. ``linear_filter`` calls the compiled routine
behind ``scipy.signal.lfilter`` directly, so its results are the same to the bit (a test compares them);
``running_min`` is exact by nature (a minimum does not round).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

_SIGTOOLS = "scipy.signal._sigtools"


def _sigtools() -> ModuleType:
    """scipy's compiled filter module, loaded without running ``scipy/signal/__init__.py``. It is loaded
    under its own name, so a later ``import scipy.signal`` finds and reuses it."""
    module = sys.modules.get(_SIGTOOLS)
    if module is not None:
        return module
    import scipy

    folder = Path(scipy.__file__).parent / "signal"
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"_sigtools{suffix}"
        if path.exists():
            spec = importlib.util.spec_from_file_location(_SIGTOOLS, path)
            if spec is None or spec.loader is None:
                break
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[_SIGTOOLS] = module
            return module
    import scipy.signal  # an unusual layout: the slow way still works

    return sys.modules[_SIGTOOLS]


def linear_filter(b: np.ndarray, a: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.lfilter(b, a, x, axis=-1, zi=zi)`` for a recursive filter (``len(a) > 1``):
    ``(y, final state)``, the same samples as lfilter gives."""
    b, a = np.atleast_1d(np.asarray(b)), np.atleast_1d(np.asarray(a))
    if a.ndim != 1 or b.ndim != 1 or len(a) < 2 or len(b) == 0:
        raise ValueError("linear_filter needs 1-D coefficients and a recursive filter (len(a) > 1)")
    return _sigtools()._linear_filter(b, a, np.asarray(x), -1, np.asarray(zi))


def running_min(x: np.ndarray, size: int) -> np.ndarray:
    """``out[i] = min(x[i:i + size])``, the end padded with the last value: what
    ``scipy.ndimage.minimum_filter1d(x, size, origin=-(size // 2), mode="nearest")`` gives, in O(n)
    (blockwise prefix and suffix minima, van Herk / Gil–Werman)."""
    x = np.asarray(x)
    n = len(x)
    if size <= 1 or n == 0:
        return x.copy()
    padded_n = -(-(n + size - 1) // size) * size
    blocks = np.concatenate([x, np.full(padded_n - n, x[-1], dtype=x.dtype)]).reshape(-1, size)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(suffix[:n], prefix[size - 1:size - 1 + n])
