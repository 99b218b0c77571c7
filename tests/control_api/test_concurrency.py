"""How many renders a worker runs at once when not told (cores and memory), and how a render's share
of the cores becomes the segments it speaks at once."""

from __future__ import annotations

from control_api.settings import RENDER_MEMORY_BYTES, default_concurrency, tts_workers_per_render
from control_api.worker import node_env


def test_concurrency_follows_the_cores_unless_memory_holds_fewer_renders():
    assert default_concurrency(cores=2, memory_bytes=24 << 30) == 2
    assert default_concurrency(cores=16, memory_bytes=8 << 30) == (8 << 30) // RENDER_MEMORY_BYTES == 4
    assert default_concurrency(cores=4, memory_bytes=1 << 30) == 1  # always at least one
    assert default_concurrency(cores=3, memory_bytes=None) == 3  # no /proc/meminfo: the cores decide


def test_each_render_gets_its_share_of_the_cores_for_speaking():
    assert tts_workers_per_render(2, cores=2) == 1
    assert tts_workers_per_render(1, cores=8) == 8
    assert tts_workers_per_render(3, cores=8) == 2
    assert tts_workers_per_render(4, cores=2) == 1


def test_the_worker_tells_its_nodes_their_share(monkeypatch, tmp_path):
    from control_api.settings import ServiceSettings

    monkeypatch.delenv("DRAMAFLOW_TTS_WORKERS", raising=False)
    settings = ServiceSettings(data_dir=tmp_path)
    env = node_env(settings, concurrency=1)
    assert int(env["DRAMAFLOW_TTS_WORKERS"]) == tts_workers_per_render(1)
    monkeypatch.setenv("DRAMAFLOW_TTS_WORKERS", "5")  # an operator's setting wins
    assert node_env(settings, concurrency=4)["DRAMAFLOW_TTS_WORKERS"] == "5"
