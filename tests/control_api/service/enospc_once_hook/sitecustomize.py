"""Test-only: the first publish of each task's files fails as on a full disk (ENOSPC).

Put this folder on a worker's PYTHONPATH and set DRAMAFLOW_TEST_ENOSPC_ONCE_DIR: ``publish_outputs`` of
the worker raises ``OSError(ENOSPC)`` unless a marker for the task exists in that folder (it writes the
marker first). The worker must retry the task and publish what it rendered, without rendering again.
Used by tests/control_api/service/test_worker.py only.
"""

import os

_MARKERS = os.environ.get("DRAMAFLOW_TEST_ENOSPC_ONCE_DIR")

if _MARKERS:
    import errno
    from pathlib import Path

    from control_api import worker

    _publish = worker.publish_outputs

    def _full_once(report, audio_dir):
        marker = Path(_MARKERS) / Path(audio_dir).name
        if not marker.exists():
            marker.write_text("disk full once")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(audio_dir) / "output.mp3"))
        return _publish(report, audio_dir)

    worker.publish_outputs = _full_once
