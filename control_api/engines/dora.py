"""DoraEngine: every render is one dora dataflow on a coordinator + daemon pair this engine owns.

- The pair listens on free loopback ports chosen at start (never dora's defaults, so two checkouts or
  two workers on one machine cannot collide), keeps its state in memory and scouts no multicast.
- A task: its folder gets ``script.md``, ``voice_config.json`` (user text never goes into the YAML's
  ``env:``) and ``dataflow.yml`` rendered from the template; it starts under a unique name and is
  tracked by its UUID; progress comes from ``progress.jsonl`` that the nodes append to.
- Ends: ``Finished`` → the output node's ``output.json``; ``Failed`` or vanished → the root cause from
  ``errors/<node>.json`` (a node whose upstream closed is a consequence, not the cause), re-raised as
  the same exception type; cancel or time limit → ``dora stop`` with a grace period. In every case
  the node processes recorded in ``pids/`` are checked and killed if still there.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from control_api.engines.base import ProgressCallback, ProgressEvent, RenderOptions, RenderReport
from control_api.ports import free_port
from control_api.templates import TaskPaths, dora_binary, render, stage_settings
from nodes.common import contract as C
from nodes.common.diskcache import cache_dir_from_env
from nodes.common.errors import (
    BackendError,
    ConfigError,
    DramaflowError,
    PermanentBackendError,
    ScriptError,
    TaskCancelled,
    TaskTimedOut,
    TransientBackendError,
)
from nodes.common.voices import VoiceLibrary, load_voices, providers_from_env
from nodes.segmenter.core import parse_script

POLL_S = 0.2  # the task's files and node processes
LIST_EVERY_S = 5.0  # dora's own listing, while the task's node processes run
START_TIMEOUT_S = 120.0
# a dataflow missing from every working listing this long, with none of its node processes alive (they
# may take seconds to start on a loaded machine) and no output record, has vanished
VANISHED_AFTER_S = 60.0
READY_TIMEOUT_S = 120.0  # a loaded 2-core machine has taken over 10 s to answer one `dora status`
STOP_GRACE_S = 5.0
DISK_FULL_BYTES = 1 << 20  # less free than this where a failed dataflow wrote: the disk is why
_UUID = re.compile(r"dataflow started: ([0-9a-f-]{36})")


class DoraDaemon:
    """A private dora coordinator and daemon, started and stopped by this process."""

    def __init__(self, workdir: Path, coordinator_port: int | None = None, listen_port: int | None = None,
                 extra_env: dict[str, str] | None = None):
        self.workdir = workdir
        self.extra_env = dict(extra_env or {})
        self.coordinator_port = coordinator_port or free_port()
        self.listen_port = listen_port or free_port()
        self.dora = dora_binary()
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **self.extra_env, "DORA_COORDINATOR_PORT": str(self.coordinator_port),
                "RUST_BACKTRACE": "0"}

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.dora, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              cwd=self.workdir)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "dora-daemon.log", "ab")  # noqa: SIM115 - lives as long as the daemon
        spawn = dict(cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                     preexec_fn=_die_with_parent)
        self._procs.append(subprocess.Popen(
            [self.dora, "coordinator", "--port", str(self.coordinator_port), "--store", "memory", "--quiet"], **spawn))
        self._procs.append(subprocess.Popen(
            [self.dora, "daemon", "--coordinator-port", str(self.coordinator_port),
             "--local-listen-port", str(self.listen_port), "--zenoh-no-multicast", "--quiet"], **spawn))
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if any(p.poll() is not None for p in self._procs):
                self.stop()
                raise ConfigError(f"dora coordinator/daemon exited at start; see {self.workdir / 'dora-daemon.log'}")
            try:
                status = self.cli("status", timeout=10)
            except subprocess.TimeoutExpired:  # a busy machine: not ready yet, ask again until the deadline
                status = subprocess.CompletedProcess([], 1, "", "dora status timed out")
            if status.returncode == 0 and "Daemon" in status.stdout and "Running" in status.stdout.split("Daemon")[-1]:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"dora daemon not ready after {READY_TIMEOUT_S:.0f} s: {status.stdout} {status.stderr}")
            time.sleep(POLL_S)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    @property
    def alive(self) -> bool:
        return bool(self._procs) and all(p.poll() is None for p in self._procs)

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs.clear()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies (a killed worker must
    not leave a coordinator and daemon behind). Linux only; elsewhere a no-op."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


@dataclass
class _Follow:
    """Reads progress.jsonl incrementally; keeps every record in order."""

    path: Path
    offset: int = 0

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        complete = data.rfind(b"\n") + 1  # a line being written is read next time
        self.offset += complete
        return [json.loads(line) for line in data[:complete].splitlines() if line.strip()]


class DoraEngine:
    name = "dora"

    def __init__(self, library: VoiceLibrary | None = None, *, workdir: Path | None = None,
                 template: str = "drama", daemon_env: dict[str, str] | None = None) -> None:
        self.library = library or load_voices()
        env = {**os.environ, **(daemon_env or {})}
        # nodes inherit the daemon's environment: MINIMAX_* reach the tts node from there, never via YAML
        self.daemon_env = {**(daemon_env or {}), "DRAMAFLOW_CACHE_DIR": str(cache_dir_from_env(env))}
        self.provider_available = providers_from_env(env)
        self.template = template
        self._owns_workdir = workdir is None
        self._workdir = workdir or Path(tempfile.mkdtemp(prefix="dramaflow-dora-"))
        self.last_task_dir: Path | None = None
        self._daemon: DoraDaemon | None = None
        self._lock = threading.Lock()
        self._list_lock = threading.Lock()
        self._list_cache: tuple[float, dict[str, str] | None] = (0.0, None)

    @property
    def daemon(self) -> DoraDaemon:
        with self._lock:
            if self._daemon is not None and not self._daemon.alive:  # crashed or killed: start afresh
                self._daemon.stop()
                self._daemon = None
            if self._daemon is None:
                daemon = DoraDaemon(self._workdir, extra_env=self.daemon_env)
                daemon.start()
                self._daemon = daemon
            return self._daemon

    def close(self, *, keep_files: bool = False) -> None:
        """Stop the daemon; a work folder this engine created is removed unless ``keep_files``."""
        with self._lock:
            if self._daemon is not None:
                self._daemon.stop()
                self._daemon = None
        if self._owns_workdir and not keep_files:
            import shutil

            shutil.rmtree(self._workdir, ignore_errors=True)

    def render(
        self, script: str, out_mp3: Path, options: RenderOptions, on_progress: ProgressCallback | None = None,
        *, task_id: str | None = None, task_dir: Path | None = None, template: str | None = None,
        timeout_s: float | None = None, cancel: threading.Event | None = None,
    ) -> RenderReport:
        """Render through dora. Script errors are raised before anything starts, like the DirectEngine."""
        template = template or self.template
        settings = stage_settings(template, options.settings)  # bad settings fail here, before dora starts
        plan = parse_script(script, self.library, voice_config=options.voice_config, config=settings.segmenter,
                            provider_available=self.provider_available)
        task_id = task_id or str(uuid.uuid4())
        task_dir = Path(task_dir or self._workdir / "tasks" / task_id).resolve()
        self.last_task_dir = task_dir
        yml = self.prepare(script, Path(out_mp3).resolve(), options, task_id=task_id, task_dir=task_dir,
                           template=template, title=plan.title,
                           voices={name: v.requested_voice or v.voice_id for name, v in plan.speakers})
        if on_progress is not None:  # the script parsed: say so now, not when the segmenter process is up
            on_progress(ProgressEvent("segmenter", 0, len(plan.segments), "starting the dataflow"))
        run = self.start(yml, task_id)
        return self.follow(run, task_dir, on_progress=on_progress, timeout_s=timeout_s, cancel=cancel)

    def prepare(self, script: str, out_mp3: Path, options: RenderOptions, *, task_id: str, task_dir: Path,
                template: str, title: str = "", voices: dict | None = None) -> Path:
        """Write the task folder: script, voice config, rendered dataflow. Returns the dataflow path."""
        task_dir.mkdir(parents=True, exist_ok=True)
        (task_dir / "script.md").write_text(script, encoding="utf-8")
        (task_dir / "voice_config.json").write_text(json.dumps(dict(options.voice_config), ensure_ascii=False),
                                                    encoding="utf-8")
        paths = TaskPaths(id=task_id, dir=str(task_dir), script=str(task_dir / "script.md"), output=str(out_mp3),
                          voice_config=str(task_dir / "voice_config.json"),
                          voices_file=str(self.library.path) if self.library.path else None, seed=options.seed)
        yml = task_dir / "dataflow.yml"
        yml.write_text(render(template, paths, title=title, voices=voices, options=options.settings),
                       encoding="utf-8")
        return yml

    def start(self, yml: Path, task_id: str) -> str:
        try:
            proc = self.daemon.cli("start", str(yml), "--name", f"task-{task_id}", "--detach", timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            kill_leftovers(yml.parent)  # whatever it started of the flow must not outlive the attempt
            raise TransientBackendError(f"dora did not start the dataflow within {START_TIMEOUT_S:.0f} s (the "
                                        "machine is overloaded); the task is retried", backend="dora") from None
        match = _UUID.search(proc.stdout + proc.stderr)
        if proc.returncode != 0 or not match:
            raise DramaflowError(f"dora could not start the dataflow: {(proc.stderr or proc.stdout).strip()[-800:]}")
        return match.group(1)

    def status(self, dataflow: str) -> str:
        """Running | Finished | Failed | Missing (not in a listing that worked) | Unknown (the listing did not
        work: a busy machine can make ``dora list`` fail or time out) | Vanished (the daemon died)."""
        if self._daemon is None or not self._daemon.alive:
            return "Vanished"
        rows = self._listing()
        if rows is None:
            return "Unknown"
        return rows.get(dataflow, "Missing")

    def _listing(self) -> dict[str, str] | None:
        """Dataflow uuid → status from one ``dora list`` shared by every task this engine follows (one CLI
        call per poll interval, not one per task), or None when the call failed."""
        with self._list_lock:
            taken, rows = self._list_cache
            if rows is not None and time.monotonic() - taken < POLL_S:
                return rows
            daemon = self._daemon
            if daemon is None:
                return None
            try:
                listing = daemon.cli("list", "-f", "json", timeout=30)
            except subprocess.TimeoutExpired:
                listing = None
            rows = None
            if listing is not None and listing.returncode == 0:
                rows = {}
                for line in listing.stdout.splitlines():
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(row, dict) and "uuid" in row:
                        rows[str(row["uuid"])] = str(row.get("status"))
            self._list_cache = (time.monotonic(), rows)
            return rows

    def stop(self, dataflow: str, grace_s: float = STOP_GRACE_S) -> None:
        self.daemon.cli("stop", dataflow, "--grace-duration", f"{grace_s:g}s", timeout=grace_s + 30)

    def follow(self, dataflow: str, task_dir: Path, *, on_progress: ProgressCallback | None = None,
               timeout_s: float | None = None, cancel: threading.Event | None = None) -> RenderReport:
        emit = on_progress or (lambda _event: None)
        progress = _Follow(task_dir / "progress.jsonl")
        records: list[dict] = []
        started = time.monotonic()

        def pump() -> None:
            for record in progress.read():
                records.append(record)
                if record.get("level") == "info":
                    emit(ProgressEvent(record["stage"], int(record["done"]), int(record["total"]),
                                       record.get("message", ""), int(record.get("retries", 0))))

        missing_since: float | None = None
        asked = 0.0  # when dora was last asked for the dataflow's state
        try:
            while True:
                pump()
                state, asked = self._judge(dataflow, task_dir, asked)
                if state == "Missing" and live_pids(task_dir):
                    state = "Unknown"  # dora's listing lost it (seen under load) while its nodes still work
                elif state == "Missing" and (task_dir / "output.json").exists():
                    state = "Finished"  # every node has exited and the output node wrote its record
                missing_since = (missing_since or time.monotonic()) if state == "Missing" else None
                if missing_since is not None and time.monotonic() - missing_since >= VANISHED_AFTER_S:
                    state = "Vanished"
                if state not in ("Running", "Unknown", "Missing"):
                    break
                if cancel is not None and cancel.wait(POLL_S):
                    self.stop(dataflow)
                    raise TaskCancelled(f"task cancelled; dataflow {dataflow} stopped")
                if timeout_s is not None and time.monotonic() - started > timeout_s:
                    self.stop(dataflow)
                    raise TaskTimedOut(f"task ran past its time limit of {timeout_s:g} s; dataflow stopped")
                if cancel is None:
                    time.sleep(POLL_S)
            pump()
            if state != "Finished" or not (task_dir / "output.json").exists():
                raise self.failure(dataflow, task_dir, state)
            return _report(task_dir, records, self.name)
        finally:
            kill_leftovers(task_dir)

    def _judge(self, dataflow: str, task_dir: Path, asked: float) -> tuple[str, float]:
        """The dataflow's state from its own files and node processes, asking dora only when they say the
        flow may have ended (every node gone) or every ``LIST_EVERY_S`` as a backstop: a ``dora list`` is a
        process that costs about 0.1 s of CPU, and polling it five times a second cost a render through
        dora a sixth of its CPU. Returns the state and when dora was last asked."""
        since = time.monotonic() - asked
        if live_pids(task_dir):
            if since < LIST_EVERY_S:
                return "Running", asked
        elif (task_dir / "output.json").exists():
            return "Finished", asked  # the output node wrote its record and every node has exited
        elif since < POLL_S * 5 and not any((task_dir / "errors").glob("*.json")):
            return "Running", asked  # nodes not started yet, or just gone: ask at most every second
        return self.status(dataflow), time.monotonic()

    def failure(self, dataflow: str, task_dir: Path, state: str) -> DramaflowError:
        """The root cause of a failed dataflow, as the exception the failing node raised."""
        records, unreadable = [], 0
        for path in sorted((task_dir / "errors").glob("*.json")):
            try:
                records.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):  # cut short (a full disk): the node failed, its record is lost
                unreadable += 1
        if (unreadable or not records) and _disk_full(task_dir):
            return TransientBackendError("the disk is full (ENOSPC) where the render writes: free space in "
                                         "its data folder and render again")
        causes = sorted((r for r in records if r["type"] != "UpstreamClosed"), key=lambda r: r["ts"])
        if state == "Vanished":  # the daemon died: node errors (broken pipes) are consequences
            seen = f"; nodes reported: {causes[0]['message'][:300]}" if causes else ""
            return DramaflowError(f"dataflow {dataflow} vanished: the dora daemon stopped{seen}")
        if causes:
            return _exception(causes[0])
        logs = _stderr_tail(task_dir / "out" / dataflow)
        detail = f": {logs}" if logs else ""
        return DramaflowError(f"dataflow {dataflow} {state.lower()} without an error record{detail}")


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_BYTES
    except OSError:
        return False


_EXCEPTIONS: dict[str, Callable[[dict], DramaflowError]] = {
    "ScriptError": lambda r: ScriptError(r.get("bare_message", r["message"]), r.get("line"), r.get("hint")),
    "ConfigError": lambda r: ConfigError(r["message"]),
    "PermanentBackendError": lambda r: PermanentBackendError(r["message"]),
    "TransientBackendError": lambda r: TransientBackendError(r["message"]),
    "BackendError": lambda r: BackendError(r["message"]),
}


def _exception(record: dict) -> DramaflowError:
    make = _EXCEPTIONS.get(record["type"])
    if make is not None:
        error = make(record)
        if isinstance(error, BackendError):  # the message already names backend and line
            error.args = (record["message"],)
        return error
    return DramaflowError(f"node {record['node']} failed: {record['message']}")


def _stderr_tail(log_dir: Path, lines: int = 5) -> str:
    found = []
    for path in sorted(log_dir.glob("log_*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if row.get("stream") == "stderr" and row.get("msg"):
                found.append(f"{row.get('node', path.stem)}: {row['msg']}")
    return " | ".join(found[-lines:])


def _report(task_dir: Path, records: list[dict], engine: str) -> RenderReport:
    written = json.loads((task_dir / "output.json").read_text(encoding="utf-8"))
    timeline = json.loads(Path(written["files"]["timeline"]).read_text(encoding="utf-8"))
    spans: dict[str, list[float]] = {}
    for r in records:
        spans.setdefault(r["stage"], []).append(r["ts"])
    segments = sum(len(u["segments"]) for u in timeline["utterances"])
    return RenderReport(
        title=timeline["title"], duration_s=written["duration_s"], lufs=written["wav_lufs"],
        true_peak_dbtp=written["wav_true_peak_dbtp"], mp3_lufs=written["mp3_lufs"],
        mp3_true_peak_dbtp=written["mp3_true_peak_dbtp"], utterances=len(timeline["utterances"]),
        segments=segments, cues=len(timeline["cues"]), seed=int(timeline["report"]["seed"]), engine=engine,
        sample_rate=int(timeline["sample_rate"]),
        stage_seconds={stage: round(max(ts) - min(ts), 3) for stage, ts in spans.items()},
        warnings=[r["message"] for r in records if r.get("level") == "warn"],
        files=written["files"], tts_backends=dict(timeline["report"]["tts"]["backends"]),
        tts=timeline["report"]["tts"], ambience=timeline["report"]["ambience"], node_stats=_node_stats(task_dir),
    )


def _node_stats(task_dir: Path) -> dict[str, dict[str, float]]:
    out = {}
    for path in sorted((task_dir / "stats").glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return out


def live_pids(task_dir: Path) -> list[int]:
    """Node processes of this task that are still alive (by their pid files, guarded against pid reuse)."""
    out = []
    for pid_file in (task_dir / "pids").glob("*.pid"):
        try:
            pid = int(pid_file.read_text())
        except (ValueError, OSError):
            continue
        if _alive(pid) and _belongs_to(pid, task_dir):
            out.append(pid)
    return out


def kill_leftovers(task_dir: Path) -> list[int]:
    """Kill node processes of this task that are still alive; returns the pids that had to be killed."""
    killed = []
    for pid in live_pids(task_dir):
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            select.select([fd], [], [], 10.0)  # readable once it has exited: wait for that
            killed.append(pid)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)
    return killed


def _belongs_to(pid: int, task_dir: Path) -> bool:
    """Guard against pid reuse: the process must carry this task's folder in its environment."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{C.ENV_TASK_DIR}={task_dir}".encode() in environ


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
