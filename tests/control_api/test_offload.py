"""The API's helper processes: results and errors come back whole, and the pool keeps answering after
it has been recycled (a pool with ``max_tasks_per_child`` hung on Python 3.11)."""

from __future__ import annotations

import asyncio
import os

import pytest

from control_api import offload
from control_api.offload import Offload
from nodes.common.errors import ScriptError


def raise_script_error(line: int) -> None:
    raise ScriptError("bad tag", line, "write Name: text")


def test_errors_keep_their_line_and_hint():
    pool = Offload(1)
    try:
        with pytest.raises(ScriptError) as info:
            asyncio.run(pool.run(raise_script_error, 7))
        assert info.value.line == 7 and info.value.hint == "write Name: text"
    finally:
        pool.close()


def test_the_pool_is_recycled_and_keeps_answering(monkeypatch):
    monkeypatch.setattr(offload, "RECYCLE_AFTER_CALLS", 3)
    pool = Offload(2)

    async def calls() -> list[int]:
        return [await pool.run(os.getpid) for _ in range(10)]

    try:
        pids = asyncio.run(calls())
    finally:
        pool.close()
    assert len(pids) == 10 and os.getpid() not in pids
    assert len(set(pids)) >= 4  # at least two generations of children answered
