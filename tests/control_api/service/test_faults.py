"""Faults under a running service, on servers of its own: Redis stopped for seconds and PostgreSQL
restarted while workers render, Redis restarted without its data while tasks wait, a full file system.
Every task reaches a final state, is charged at most once, and the workers live on."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from control_api.servers import Server, start_postgres, start_redis
from control_api.settings import ServiceSettings
from tests.control_api.service.conftest import (
    Account,
    Workers,
    make_settings,
    new_account,
    running_api,
    script,
    until_stage,
)
from tests.control_api.service.test_worker import charges, processes_of, submit

pytestmark = [pytest.mark.xdist_group("service"), pytest.mark.slow]
OUTAGE_S = 5.0  # how long a server stays down: the fault itself, not a wait for something
FINAL_TIMEOUT_S = 400.0
FINAL = {"completed", "failed", "cancelled"}
RENDERING = ("tts", "effects", "ambience", "mixer", "output")  # stages after the segmenter


@dataclass
class Stack:
    postgres: Server
    redis: Server
    settings: ServiceSettings
    client: httpx.Client
    workers: Workers

    def final(self, account: Account, task: dict) -> dict:
        """Poll the task's row (PostgreSQL, through the API) until it is final. Not its event stream: a
        Redis restarted without data holds none, and a stream cannot be followed while Redis is down."""
        deadline = time.monotonic() + FINAL_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                response = self.client.get(task["urls"]["self"], headers=account.headers)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 200 and response.json()["status"] in FINAL:
                return response.json()
            time.sleep(0.5)
        raise AssertionError(f"task {task['id']} not final within {FINAL_TIMEOUT_S:g} s: {response and response.text}")


def _stack(tmp_path: Path, persistent_redis: bool, data_dir: Path | None = None) -> Iterator[Stack]:
    postgres, redis = start_postgres(), start_redis(persistent=persistent_redis)
    try:
        settings = make_settings(postgres.url, redis.url, data_dir or tmp_path / "data")
        pool = Workers(settings, tmp_path)
        with running_api(settings, tmp_path) as (url, _), httpx.Client(base_url=url, timeout=60) as client:
            try:
                yield Stack(postgres, redis, settings, client, pool)
            finally:
                pool.stop_all()
    finally:
        redis.stop()
        postgres.stop()


@pytest.fixture
def stack(tmp_path) -> Iterator[Stack]:
    """PostgreSQL, Redis with an append-only file (as deploy/ runs it), the API, workers to start."""
    yield from _stack(tmp_path, persistent_redis=True)


@pytest.fixture
def volatile_stack(tmp_path) -> Iterator[Stack]:
    """As ``stack``, but Redis keeps nothing across a restart."""
    yield from _stack(tmp_path, persistent_redis=False)


SMALL_FS_BYTES = 96 * 2**20
LEFT_FREE_BYTES = 64 * 2**10  # what the filler leaves: far less than one render needs


@pytest.fixture
def small_fs_stack(tmp_path) -> Iterator[Stack]:
    """As ``stack``, its data folder on a file system of 96 MiB (a tmpfs mounted for the test)."""
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_FS_BYTES}", "tmpfs", str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here ({mounted.stderr.strip()}); "
                    "test_worker.py injects ENOSPC at publishing instead")
    try:
        yield from _stack(tmp_path, persistent_redis=True, data_dir=mount / "data")
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path, leave_bytes: int) -> Path:
    """A file that takes all of ``folder``'s file system but ``leave_bytes``."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free - leave_bytes
    with open(filler, "wb") as out:
        out.truncate(0)
        chunk = b"\0" * 2**20
        while free > 0:
            free -= out.write(chunk[:free])
    return filler


def assert_settled(stack: Stack, account: Account, tasks: list[dict]) -> list[dict]:
    rows = [stack.final(account, task) for task in tasks]
    for task, row in zip(tasks, rows, strict=True):
        assert row["status"] == "completed", row
        assert len(charges(stack.settings, task["id"])) == 1
        assert stack.client.get(task["urls"]["audio_mp3"], headers=account.headers).status_code == 200
        assert processes_of(stack.settings.tasks_dir / task["id"]) == []
    assert all(proc.poll() is None for proc in stack.workers.procs), "a worker died of the fault"
    return rows


def test_redis_stopped_for_seconds_while_rendering_loses_no_task(stack):
    stack.workers.env = {"DRAMAFLOW_RECONCILE_AFTER_S": "1"}
    stack.workers.start(concurrency=4)  # a free slot: the worker polls the queue all through the outage
    account = new_account(stack.settings)
    tasks = [submit(stack.client, account, script(8)) for _ in range(3)]
    until_stage(stack.client, account, tasks[0], RENDERING)  # its dataflow runs
    stack.redis.halt()
    down_at = time.monotonic()
    late = stack.client.post("/api/v1/tasks", json={"script": script(2)}, headers=account.headers)
    assert late.status_code == 202 and "queue is unreachable" in " ".join(late.json()["warnings"])
    assert stack.client.get(tasks[0]["urls"]["self"], headers=account.headers).status_code == 200
    sse = stack.client.get(tasks[0]["urls"]["events"], headers=account.headers)
    assert sse.status_code == 503 and sse.json()["status"] == 503
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
    stack.redis.resume()
    rows = assert_settled(stack, account, [*tasks, late.json()])
    assert [row["retry_count"] for row in rows[:3]] == [0, 0, 0]  # no render was thrown away


def test_postgres_restarted_while_rendering_loses_no_task(stack):
    stack.workers.start(concurrency=2)
    account = new_account(stack.settings)
    tasks = [submit(stack.client, account, script(8)) for _ in range(3)]
    until_stage(stack.client, account, tasks[0], RENDERING)  # its dataflow runs
    stack.postgres.halt()
    down_at = time.monotonic()
    assert stack.client.get(tasks[0]["urls"]["self"], headers=account.headers).status_code == 503
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
    stack.postgres.resume()
    rows = assert_settled(stack, account, tasks)
    assert [row["retry_count"] for row in rows] == [0, 0, 0]  # no render was thrown away


def test_queued_tasks_survive_redis_restarting_without_its_data(volatile_stack):
    stack = volatile_stack
    account = new_account(stack.settings)
    tasks = [submit(stack.client, account, script(2)) for _ in range(3)]
    stack.redis.halt()
    stack.redis.resume()  # empty: the jobs are gone, the rows still say queued
    stack.workers.env = {"DRAMAFLOW_RECONCILE_AFTER_S": "0"}
    stack.workers.start(concurrency=2)
    rows = assert_settled(stack, account, tasks)
    assert [row["retry_count"] for row in rows] == [0, 0, 0]


def test_a_full_file_system_fails_the_task_naming_it_and_the_next_one_renders(small_fs_stack):
    stack = small_fs_stack
    stack.workers.start(concurrency=1)
    account = new_account(stack.settings, credits=100)
    assert_settled(stack, account, [submit(stack.client, account, script(2))])  # the worker is up
    filler = fill(stack.settings.data_dir, LEFT_FREE_BYTES)
    task = submit(stack.client, account, script(8))
    row = stack.final(account, task)
    assert row["status"] == "failed" and "ENOSPC" in row["error"], row
    assert charges(stack.settings, task["id"]) == []
    assert stack.client.get(task["urls"]["audio_mp3"], headers=account.headers).status_code == 409  # no audio
    assert not [p for p in stack.settings.audio_dir.rglob("*") if p.is_file() and task["id"] in p.parts]
    assert processes_of(stack.settings.tasks_dir / task["id"]) == []
    filler.unlink()  # the operator frees space: the service renders again, nothing restarted
    assert_settled(stack, account, [submit(stack.client, account, script(2))])
