"""A whole render with the TangoFlux ambience backend (tiny random-weight model) through real dora and
through the DirectEngine: the clips are generated, cached, and both engines give the same samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from control_api.engines.base import RenderOptions
from control_api.engines.direct import DirectEngine
from control_api.engines.dora import DoraEngine

pytest.importorskip("torch", reason="the [tangoflux] extra is not installed (make test installs it)")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dora")]

SCRIPT = """---
title: Generated scenes
voices: {Eve: en-espeak-f}
---
[ambience: rain on a tin roof with distant thunder]
Eve: The rain had not stopped for three days.
[sfx: door knock | duration_s=1.5]
Eve: Is anyone there?
"""
OPTIONS = RenderOptions(seed=4, settings={"ambience": {"backend": "tangoflux", "steps": 3}})


def machine_env(tmp_path, model, cache: str) -> dict[str, str]:
    return {"DRAMAFLOW_TANGOFLUX_DIR": str(model), "DRAMAFLOW_TANGOFLUX_DEVICE": "cpu",
            "DRAMAFLOW_LOCK_DIR": str(tmp_path / "locks"), "DRAMAFLOW_CACHE_DIR": str(tmp_path / cache)}


def test_dora_run_with_tangoflux_generates_caches_and_matches_the_direct_engine(tmp_path, library, tangoflux_model):
    engine = DoraEngine(library, workdir=tmp_path / "dora", daemon_env=machine_env(tmp_path, tangoflux_model, "cache"))
    try:
        first = engine.render(SCRIPT, tmp_path / "a.mp3", OPTIONS, task_dir=tmp_path / "task-a")
        again = engine.render(SCRIPT, tmp_path / "b.mp3", OPTIONS, task_dir=tmp_path / "task-b")
    finally:
        engine.close()
    direct = DirectEngine(library, env={**machine_env(tmp_path, tangoflux_model, "direct-cache")})
    try:
        alone = direct.render(SCRIPT, tmp_path / "c.mp3", OPTIONS)
    finally:
        direct.close()

    assert first.ambience["backend"] == "tangoflux" and first.ambience["generated"] == 2  # one bed, one one-shot
    assert first.ambience["cache_hits"] == 0 and first.ambience["load_s"] > 0
    assert any("TangoFlux runs on the CPU" in w for w in first.warnings)
    # the second task finds both clips in the cache: the model is never loaded, no lock is taken
    assert again.ambience["generated"] == 0 and again.ambience["cache_hits"] == 2 and again.ambience["load_s"] == 0
    assert not any("TangoFlux runs on the CPU" in w for w in again.warnings)
    # generated in another process (the DirectEngine, its own cache): the same samples
    assert alone.ambience["generated"] == 2
    samples = [sf.read(tmp_path / f"{name}.wav", dtype="int16")[0] for name in "abc"]
    assert np.array_equal(samples[0], samples[1]) and np.array_equal(samples[0], samples[2])

    timeline = json.loads((tmp_path / "a.timeline.json").read_text())
    assert timeline["report"]["ambience"]["generated"] == 2
    sfx = next(c for c in timeline["cues"] if c["kind"] == "sfx")
    assert sfx["end_s"] - sfx["start_s"] == pytest.approx(1.5, abs=1e-3)
    # the ambience stage's generation progress comes after the TTS stage's last record
    records = [json.loads(line) for line in (tmp_path / "task-a" / "progress.jsonl").read_text().splitlines()]
    last_tts = max(i for i, r in enumerate(records) if r["stage"] == "tts")
    steps = [i for i, r in enumerate(records) if r["stage"] == "ambience" and "step" in r.get("message", "")]
    assert steps and min(steps) > last_tts
