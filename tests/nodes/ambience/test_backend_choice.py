"""Which ambience backend a render gets: per template or task, with a visible fallback when a model or
library is not on this machine, and hard errors for settings that are wrong."""

from __future__ import annotations

import pytest

from control_api.templates import stage_settings
from nodes.ambience.core import AmbienceConfig, close_backend, open_backend
from nodes.common.errors import ConfigError, DramaflowWarning


def test_templates_default_to_procedural_and_tasks_choose_per_setting():
    assert stage_settings("drama").ambience == AmbienceConfig()
    chosen = stage_settings("podcast", {"ambience": {"backend": "tangoflux", "steps": 50, "guidance_scale": 3.5}})
    assert chosen.ambience.ambience_backend == "tangoflux"
    assert (chosen.ambience.ambience_steps, chosen.ambience.ambience_guidance_scale) == (50, 3.5)
    assert stage_settings(None, {"ambience": {"backend": "library", "library": "/x"}}).ambience.ambience_library == "/x"


@pytest.mark.parametrize("settings, message", [
    ({"backend": "stable-audio"}, "one of procedural, tangoflux, library"),
    ({"guidance_scale": 1.0}, "above 1"),
    ({"steps": 500}, "steps must be 1..200"),
])
def test_wrong_settings_are_errors_not_fallbacks(settings, message):
    with pytest.raises(ConfigError, match=message):
        stage_settings("drama", {"ambience": settings})


def test_a_missing_model_falls_back_to_procedural_and_says_why(tmp_path):
    env = {"DRAMAFLOW_TANGOFLUX_DIR": str(tmp_path / "nowhere")}
    with pytest.warns(DramaflowWarning, match=r"ambience backend tangoflux is not available, using procedural.*lacks"):
        backend = open_backend(AmbienceConfig(ambience_backend="tangoflux"), env)
    assert backend.name == "procedural" and close_backend(backend) == {"backend": "procedural"}


def test_a_library_without_a_folder_falls_back_too():
    with pytest.warns(DramaflowWarning, match="library is not available.*needs a folder"):
        assert open_backend(AmbienceConfig(ambience_backend="library"), {}).name == "procedural"


def test_the_model_from_the_machine_and_the_sampling_from_the_template(tangoflux_model, tmp_path):
    pytest.importorskip("torch")
    env = {"DRAMAFLOW_TANGOFLUX_DIR": str(tangoflux_model), "DRAMAFLOW_TANGOFLUX_DEVICE": "cpu",
           "DRAMAFLOW_CACHE_DIR": str(tmp_path / "cache"), "DRAMAFLOW_LOCK_DIR": str(tmp_path)}
    backend = open_backend(AmbienceConfig(ambience_backend="tangoflux", ambience_steps=7,
                                          ambience_loop_crossfade_s=0.25), env)
    assert backend.name == "tangoflux" and backend.files.root == tangoflux_model
    assert (backend.settings.steps, backend.settings.loop_crossfade_s) == (7, 0.25)
    assert close_backend(backend)["generated"] == 0
