"""Test-only: the first TTS call of each task fails with a transient backend error.

Put this folder on a worker's PYTHONPATH and set DRAMAFLOW_TEST_FAIL_ONCE_DIR: the dora nodes inherit
both, and the tts node of a task raises ``TransientBackendError`` unless a marker for that task exists
in the folder (it writes the marker first). The worker must then retry the task. If the folder does
not exist, every attempt fails. Used by
tests/control_api/service/test_worker.py only.
"""

import os

_MARKERS = os.environ.get("DRAMAFLOW_TEST_FAIL_ONCE_DIR")

if _MARKERS:
    from pathlib import Path

    from nodes.common.errors import TransientBackendError
    from nodes.tts import core

    _synthesize = core.synthesize_requests

    async def _fail_once(*args, **kwargs):
        marker = Path(_MARKERS) / os.environ.get("DRAMAFLOW_TASK_ID", "local")
        if not marker.exists():
            if marker.parent.is_dir():
                marker.write_text("failed once")
            raise TransientBackendError("HTTP 503 from the voice service (injected by the test)", backend="test")
        return await _synthesize(*args, **kwargs)

    core.synthesize_requests = _fail_once
