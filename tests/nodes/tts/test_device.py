"""Where local voices run, and the device lock the TTS stage holds while they are loaded there."""

from __future__ import annotations

import onnxruntime
import pytest

from nodes.common.errors import ConfigError, DramaflowWarning, TransientBackendError
from nodes.common.gpulock import gpu_lock
from nodes.tts.core import tts_device, tts_device_lock


def test_cpu_unless_asked_and_only_for_voices_that_can_use_a_gpu():
    assert tts_device({"piper"}, {}) == "cpu"
    assert tts_device({"minimax", "espeak"}, {"DRAMAFLOW_TTS_DEVICE": "cuda"}) == "cpu"


@pytest.mark.skipif("CUDAExecutionProvider" in onnxruntime.get_available_providers(), reason="onnxruntime-gpu here")
def test_asking_for_cuda_without_a_cuda_onnxruntime_warns_and_stays_on_the_cpu():
    with pytest.warns(DramaflowWarning, match="no CUDA provider.*onnxruntime-gpu"):
        assert tts_device({"piper"}, {"DRAMAFLOW_TTS_DEVICE": "cuda:1"}) == "cpu"


def test_a_bad_device_is_a_config_error():
    with pytest.raises(ConfigError, match="cpu, cuda or cuda:N"):
        tts_device({"piper"}, {"DRAMAFLOW_TTS_DEVICE": "gpu0"})


def test_the_lock_is_held_inside_the_block_and_free_after_it(tmp_path):
    env = {"DRAMAFLOW_LOCK_DIR": str(tmp_path), "DRAMAFLOW_TASK_ID": "t-1"}
    with tts_device_lock("cuda:0", env):
        with pytest.raises(TransientBackendError, match=r"held by tts task t-1"):
            with gpu_lock("cuda:0", holder="ambience", timeout_s=0, env=env):
                pass
        with gpu_lock("cuda:1", holder="ambience", timeout_s=0, env=env):
            pass  # another GPU is another lock
    with gpu_lock("cuda:0", holder="ambience", timeout_s=0, env=env):
        pass


def test_the_cpu_takes_no_lock(tmp_path):
    env = {"DRAMAFLOW_LOCK_DIR": str(tmp_path)}
    with tts_device_lock("cpu", env), gpu_lock("cpu", holder="ambience", timeout_s=0, env=env):
        pass
