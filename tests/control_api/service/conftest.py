"""Real PostgreSQL and Redis for the service tests (throwaway servers on free ports, unless
DRAMAFLOW_TEST_DATABASE_URL / DRAMAFLOW_TEST_REDIS_URL name servers to use), the API as a real
uvicorn process, and workers as real ``dramaflow worker`` processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis as redis_sync
import sqlalchemy as sa

from control_api import accounts
from control_api.credits import grant
from control_api.db import Task, TaskStatus, session_scope, upgrade
from control_api.servers import start_postgres, start_redis
from control_api.settings import ServiceSettings

pytestmark = pytest.mark.xdist_group("service")
BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_S = 60.0


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[str, str]]:
    db_url, redis_url = os.environ.get("DRAMAFLOW_TEST_DATABASE_URL"), os.environ.get("DRAMAFLOW_TEST_REDIS_URL")
    started = []
    if not db_url:
        started.append(start_postgres())
        db_url = started[-1].url
    if not redis_url:
        started.append(start_redis())
        redis_url = started[-1].url
    yield db_url, redis_url
    for server in started:
        server.stop()


def make_settings(db_url: str, redis_url: str, data_dir: Path) -> ServiceSettings:
    """Settings of a test service on these servers, its schema migrated."""
    s = ServiceSettings(database_url=db_url, redis_url=redis_url, data_dir=data_dir,
                        queue_name=f"dramaflow:test:{uuid.uuid4().hex[:8]}", task_time_limit_s=300,
                        cancel_poll_s=0.2)
    upgrade(s.database_url)
    return s


@pytest.fixture(scope="session")
def settings(servers, tmp_path_factory) -> ServiceSettings:
    return make_settings(*servers, tmp_path_factory.mktemp("data"))


def service_env(settings: ServiceSettings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAMAFLOW_")}
    env.update({"DRAMAFLOW_DATABASE_URL": settings.database_url, "DRAMAFLOW_REDIS_URL": settings.redis_url,
                "DRAMAFLOW_DATA_DIR": str(settings.data_dir), "DRAMAFLOW_QUEUE_NAME": settings.queue_name,
                "DRAMAFLOW_TASK_TIME_LIMIT_S": str(settings.task_time_limit_s),
                "DRAMAFLOW_CANCEL_POLL_S": str(settings.cancel_poll_s), SENTINEL_NAME: SENTINEL_VALUE, **extra})
    return env


# A secret planted in the environment of the API and every worker: no response may ever contain it.
SENTINEL_NAME, SENTINEL_VALUE = "DRAMAFLOW_TEST_SENTINEL", "sentinel-9f3c1e-never-in-a-response"


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running_api(settings: ServiceSettings, folder: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``dramaflow serve`` as a process (``env`` added to its environment); yields its URL and the process."""
    # The socket listens before the API starts: the first request waits in its backlog, no polling.
    listener = socket.create_server(("127.0.0.1", 0), backlog=256)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    log = folder / "api.log"
    with open(log, "wb") as out, listener:
        proc = subprocess.Popen([str(BIN / "dramaflow"), "serve", "--fd", str(listener.fileno())],
                                env=service_env(settings, **env), stdout=out, stderr=subprocess.STDOUT,
                                pass_fds=(listener.fileno(),))
    try:
        ready = httpx.get(f"{url}/healthz", timeout=STARTUP_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        ready = False
    if not ready:
        stop_process(proc)
        raise RuntimeError(f"API did not start: {log.read_text()[-3000:]}")
    try:
        yield url, proc
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def api_url(settings, tmp_path_factory) -> Iterator[str]:
    with running_api(settings, tmp_path_factory.mktemp("api")) as (url, _):
        yield url


@dataclass
class Workers:
    settings: ServiceSettings
    folder: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the next start()

    def start(self, concurrency: int = 2) -> subprocess.Popen:
        log = self.folder / f"worker-{len(self.procs)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([str(BIN / "dramaflow"), "worker", "--concurrency", str(concurrency)],
                                    env=service_env(self.settings, **self.env), stdout=out,
                                    stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            stop_process(proc)


@pytest.fixture
def workers(settings, tmp_path) -> Iterator[Workers]:
    """Worker processes this test starts; the queue is emptied first, so they take only this test's
    tasks (API tests leave queued tasks that no worker was meant to render)."""
    client = redis_sync.Redis.from_url(settings.redis_url)
    client.delete(settings.queue_name)
    client.close()
    with session_scope(settings.database_url) as session:  # nor may the workers' reconciler take them up
        session.exec(sa.update(Task).where(Task.status == TaskStatus.queued).values(status=TaskStatus.cancelled))
    pool = Workers(settings, tmp_path)
    yield pool
    pool.stop_all()


@dataclass
class Account:
    name: str
    key: str
    id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def new_account(settings: ServiceSettings, credits: int = 1000) -> Account:
    name = f"user-{uuid.uuid4().hex[:10]}"
    with session_scope(settings.database_url) as session:
        user, key = accounts.create_user(session, name)
        if credits:
            grant(session, name, credits)
    return Account(name, key, user.id)


@pytest.fixture
def make_user(settings):
    """Factory: a new user with ``credits``."""
    return lambda credits=1000: new_account(settings, credits)


@pytest.fixture
def redis(settings):
    client = redis_sync.Redis.from_url(settings.redis_url)
    yield client
    client.close()


def script(lines: int = 2, voices: str = "{A: en-espeak-f, B: en-espeak-m}", title: str = "Test") -> str:
    body = "\n".join(f"{'AB'[i % 2]}: Line number {i} of the test script." for i in range(lines))
    return f"---\ntitle: {title}\nvoices: {voices}\n---\n{body}\n"


def events(client: httpx.Client, account: Account, url: str, last_id: str | None = None,
           timeout_s: float = 300.0) -> Iterator[tuple[str | None, str | None, dict]]:
    """(id, event, data) of a task's Server-Sent Events as the server pushes them; the server ends the
    stream after the final status. Fails after ``timeout_s`` (keep-alives arrive every 10 s)."""
    deadline = time.monotonic() + timeout_s
    headers = {**account.headers, **({"Last-Event-ID": last_id} if last_id else {})}
    current: dict[str, str] = {}
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if time.monotonic() > deadline:
                raise AssertionError(f"{url}: no final status within {timeout_s:g} s")
            if not line:
                if "data" in current:
                    yield current.get("id"), current.get("event"), json.loads(current["data"])
                current = {}
                continue
            key, _, value = line.partition(":")
            current[key] = value.strip()


def final_status(client: httpx.Client, account: Account, task: dict, timeout_s: float = 300.0) -> dict:
    """Follow the task's events to the end of the stream, then read the task."""
    for _ in events(client, account, task["urls"]["events"], timeout_s=timeout_s):
        pass
    return client.get(task["urls"]["self"], headers=account.headers).json()


def until_stage(client: httpx.Client, account: Account, task: dict, stages: tuple[str, ...]) -> None:
    """Return as soon as one of ``stages`` reports progress."""
    stream = events(client, account, task["urls"]["events"])
    try:
        for _, event, data in stream:
            if event in ("stage", "progress") and data.get("stage") in stages:
                return
    finally:
        stream.close()
    raise AssertionError(f"the task ended before any of {stages} ran")
