"""Test-only: make one dora node a busy consumer, deterministically.

Put this folder on a node's PYTHONPATH and set DRAMAFLOW_TEST_STALL_S: the node then sleeps that long
after its first input event, as a tts node does while it loads a model or waits on an API, while its
upstream keeps sending. Used by tests/control_api/test_dora_rules.py only.
"""

import os
import time

_STALL_S = float(os.environ.get("DRAMAFLOW_TEST_STALL_S", "0"))

if _STALL_S > 0:
    from nodes.common import runtime

    _events = runtime.Runner.events

    def _stalled_events(self, data_inputs):
        stalled = False
        for event in _events(self, data_inputs):
            yield event
            if not stalled:
                stalled = True
                time.sleep(_STALL_S)

    runtime.Runner.events = _stalled_events
