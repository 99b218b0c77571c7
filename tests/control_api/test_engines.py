"""What every engine promises (``control_api.engines.base.Engine``): the same render signature the
worker calls, ``close()``, and a render stopped by ``cancel`` or ``timeout_s`` that leaves no output."""

from __future__ import annotations

import inspect
import threading

import pytest

from control_api.engines.base import Engine, RenderOptions
from control_api.engines.direct import DirectEngine
from control_api.engines.dora import DoraEngine
from nodes.common.errors import TaskCancelled, TaskTimedOut

SCRIPT = "---\ntitle: T\nvoices: {A: en-espeak-f}\n---\nA: One short line.\nA: And another.\n"


@pytest.mark.parametrize("engine", [DirectEngine, DoraEngine])
def test_every_engine_has_the_protocols_methods_and_keywords(engine):
    for name in ("render", "close"):
        assert callable(getattr(engine, name))
    wanted = set(inspect.signature(Engine.render).parameters)
    assert wanted <= set(inspect.signature(engine.render).parameters)


@pytest.mark.parametrize(("stop", "error"), [({"cancel": "set"}, TaskCancelled), ({"timeout_s": 0.0}, TaskTimedOut)])
def test_the_direct_engine_stops_on_cancel_and_timeout_leaving_nothing(library, tmp_path, stop, error):
    engine = DirectEngine(library)
    cancel = threading.Event()
    if stop.get("cancel"):
        cancel.set()
    out = tmp_path / "out" / "x.mp3"
    try:
        with pytest.raises(error):
            engine.render(SCRIPT, out, RenderOptions(), cancel=cancel, timeout_s=stop.get("timeout_s"))
    finally:
        engine.close()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
