"""The segment cache: round trip, keys that follow what was sent, damaged entries are misses."""

from __future__ import annotations

import numpy as np

from nodes.common.diskcache import cache_dir_from_env, cache_enabled
from nodes.tts.backends.base import Speech
from nodes.tts.cache import SpeechCache


def clip(seed: int = 0) -> Speech:
    audio = np.random.default_rng(seed).uniform(-0.5, 0.5, (4410, 1)).astype(np.float32)
    return Speech(seq=3, audio=audio, sample_rate=44100, backend="minimax", usage_characters=12, requests=1,
                  trace_id="abc", notes=("line 4: note",))


def test_round_trip_keeps_samples_and_marks_the_hit(tmp_path):
    cache = SpeechCache(tmp_path)
    digest = cache.digest({"text": "你好", "voice": "v"})
    assert cache.get(digest, 9, "minimax") is None
    cache.put(digest, clip())
    hit = cache.get(digest, 9, "minimax")
    assert hit is not None and hit.cached and hit.seq == 9 and hit.requests == 0 and hit.usage_characters == 0
    assert np.array_equal(hit.audio, clip().audio) and hit.sample_rate == 44100
    assert hit.trace_id == "abc" and hit.notes == ("line 4: note",)
    assert not list(tmp_path.rglob(".tmp-*"))  # written via a temporary file, renamed into place


def test_keys_depend_on_content_not_on_order(tmp_path):
    cache = SpeechCache(tmp_path)
    a = cache.digest({"text": "x", "voice": {"speed": 1.0, "id": "v"}})
    assert a == cache.digest({"voice": {"id": "v", "speed": 1.0}, "text": "x"})
    assert a != cache.digest({"text": "x", "voice": {"speed": 1.1, "id": "v"}})


def test_a_damaged_entry_is_a_miss_and_is_removed(tmp_path):
    cache = SpeechCache(tmp_path)
    digest = cache.digest("k")
    cache.put(digest, clip())
    (path,) = tmp_path.rglob("*.npz")
    path.write_bytes(path.read_bytes()[:100])
    assert cache.get(digest, 0, "minimax") is None and not path.exists()


def test_location_and_switch_from_the_environment(tmp_path):
    assert cache_dir_from_env({"DRAMAFLOW_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert cache_dir_from_env({"DRAMAFLOW_DATA_DIR": str(tmp_path)}) == tmp_path / "cache"
    assert cache_dir_from_env({}).is_absolute()
    assert cache_enabled({}) and not cache_enabled({"DRAMAFLOW_CACHE": "off"})
