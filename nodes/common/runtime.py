"""What every dora node loop shares: encoding, streams assembled by seq, progress, errors, exits.

Only ``nodes/<stage>/node.py`` imports this module (it imports dora and pyarrow); cores never do.
The rules of reference/dora.md that live here:
- streams end in-band (``eos`` + ``n_total``) and are assembled by ``seq``, never by arrival;
- a node leaves only on STOP, when its ``done`` input closes (the cascade from the output node), or
  when an upstream data input closes (then, if its stream was incomplete, it fails with
  ``UPSTREAM_CLOSED_EXIT`` so the real cause stays the upstream node's error).
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nodes.common import contract as C
from nodes.common.errors import DramaflowError


@dataclass(frozen=True)
class NodeContext:
    """Per-task settings every node reads from its environment in ``main()``."""

    node_id: str
    task_id: str
    task_dir: Path

    @classmethod
    def from_env(cls, node_id: str, env: Mapping[str, str] = os.environ) -> NodeContext:
        return cls(node_id=node_id, task_id=str(env.get(C.ENV_TASK_ID, "local")),
                   task_dir=Path(env.get(C.ENV_TASK_DIR, ".")).resolve())


# --- encoding -----------------------------------------------------------------------------------


def audio_value(audio: np.ndarray):
    import pyarrow as pa

    return pa.array(np.ascontiguousarray(audio, dtype=np.float32).reshape(-1))


def audio_from(event: Mapping[str, Any]) -> np.ndarray:
    """Float32 (samples, channels) from an audio message (copied: the buffer belongs to dora)."""
    channels = int(event["metadata"].get(C.CHANNELS, 1))
    flat = event["value"].to_numpy(zero_copy_only=False)
    return np.array(flat, dtype=np.float32).reshape(-1, channels)


def json_value(document: Any):
    import pyarrow as pa

    return pa.array([json.dumps(document, ensure_ascii=False)])


def json_from(event: Mapping[str, Any]) -> Any:
    return json.loads(event["value"][0].as_py())


def eos_value():
    import pyarrow as pa

    return pa.array([], type=pa.float32())


# --- streams ------------------------------------------------------------------------------------


class Arrivals:
    """The seq bookkeeping of one input: its EOS (the total and its metadata) and every seq once. Complete
    once as many seqs as the EOS counts have arrived."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.total: int | None = None
        self.eos_metadata: dict[str, Any] = {}
        self.received: set[int] = set()

    def arrive(self, event: Mapping[str, Any]) -> tuple[Mapping[str, Any], int] | None:
        """``(metadata, seq)`` of a new item; None for the EOS; a seq seen before raises."""
        metadata = event["metadata"]
        if metadata.get(C.EOS):
            self.total = int(metadata[C.N_TOTAL])
            self.eos_metadata = dict(metadata)
            return None
        seq = int(metadata[C.SEQ])
        if seq in self.received:
            raise RuntimeError(f"input {self.name}: seq {seq} arrived twice")
        self.received.add(seq)
        return metadata, seq

    @property
    def complete(self) -> bool:
        return self.total is not None and len(self.received) == self.total


class Stream(Arrivals):
    """One input's items keyed by seq, decoded and kept until the caller takes them."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.items: dict[int, Any] = {}

    def add(self, event: Mapping[str, Any], decode: Callable[[Mapping[str, Any]], Any]) -> None:
        arrived = self.arrive(event)
        if arrived is not None:
            metadata, seq = arrived
            self.items[seq] = (decode(event), dict(metadata))

    def ordered(self) -> list[tuple[Any, dict[str, Any]]]:
        missing = [s for s in range(self.total or 0) if s not in self.items]
        if missing:
            raise RuntimeError(f"input {self.name}: missing seq {missing[:10]} of {self.total}")
        return [self.items[s] for s in range(self.total or 0)]


class UpstreamClosed(Exception):
    """A data input closed before its end of stream: the upstream node failed or was stopped."""


class Stopped(Exception):
    """STOP arrived (dora stop, Ctrl-C) or the output node finished (``done`` closed)."""


# --- the node wrapper ----------------------------------------------------------------------------


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc keeps them otherwise, and a
    node that waits for the end of the flow would hold its peak until then)."""
    import gc

    gc.collect()
    trim_heap()


def trim_heap() -> None:
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class HeapTrimmer:
    """For a node that lets go of many small arrays while it fills a large one (the mixer placing a long
    programme's lines): hands the freed heap back after every ``every_bytes``, so that what it let go
    and what it filled are not both counted (glibc keeps freed blocks under 32 MB otherwise)."""

    def __init__(self, every_bytes: int = 32 << 20) -> None:
        self.every_bytes, self.pending = every_bytes, 0

    def let_go(self, nbytes: int) -> None:
        self.pending += nbytes
        if self.pending >= self.every_bytes:
            trim_heap()
            self.pending = 0


def os_error_message(exc: OSError) -> str:
    """An OS error in words a person acts on; a full disk is named as such."""
    where = f" writing {exc.filename}" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"the disk is full (ENOSPC){where}: free space in the data folder (DRAMAFLOW_DATA_DIR) "
                "and submit again")
    return f"{type(exc).__name__}: {exc}"


class Runner:
    """A dora node with progress reporting, seq-ordered streams and the exit rules."""

    def __init__(self, node_id: str, env: Mapping[str, str] = os.environ) -> None:
        from dora import Node

        self._import_cpu_s = time.process_time()  # the interpreter's start and the imports so far
        self.context = NodeContext.from_env(node_id, env)
        self.node = Node()
        self.stage = node_id
        self._progress = self.context.task_dir / "progress.jsonl"
        self._write_pid()

    def _write_pid(self) -> None:
        pids = self.context.task_dir / "pids"
        pids.mkdir(parents=True, exist_ok=True)
        (pids / f"{self.stage}.pid").write_text(str(os.getpid()))

    # progress and errors

    def progress(self, done: int, total: int, message: str = "", *, seq: int | None = None,
                 level: str = "info", retries: int | None = None) -> None:
        """Append one progress record; ``retries``: transient errors this stage has retried so far."""
        record = {"ts": time.time(), "task_id": self.context.task_id, "stage": self.stage, "seq": seq,
                  "done": done, "total": total, "message": message, "level": level}
        if retries is not None:
            record["retries"] = retries
        line = json.dumps(record, ensure_ascii=False) + "\n"
        fd = os.open(self._progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())  # one write of one line: O_APPEND keeps lines whole
        finally:
            os.close(fd)
        self.node.log(level, "progress", fields={k: str(v) for k, v in record.items() if v is not None})

    def warn(self, message: str) -> None:
        self.progress(0, 0, message, level="warn")

    def send(self, output: str, value: Any, metadata: Mapping[str, Any] | None = None) -> None:
        self.node.send_output(output, value, {C.TASK_ID: self.context.task_id, **(metadata or {})})

    def send_eos(self, output: str, n_total: int, **metadata: Any) -> None:
        self.send(output, eos_value(), {C.EOS: True, C.N_TOTAL: n_total, **metadata})

    # events

    def gather(self, input_id: str, decode: Callable[[Mapping[str, Any]], Any]) -> list[tuple[Any, dict[str, Any]]]:
        """Every item of one input, to its EOS, as ``(decoded, metadata)`` in seq order."""
        stream = Stream(input_id)
        for event in self.events((input_id,)):
            stream.add(event, decode)
            if stream.complete:
                break
        return stream.ordered()

    def events(self, data_inputs: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        """INPUT events of the data inputs. Raises ``Stopped`` on STOP or when ``done`` closes and
        ``UpstreamClosed`` when a data input closes (the caller decides whether that was expected)."""
        for event in self.node:
            kind = event["type"]
            if kind == "INPUT" and event["id"] in data_inputs:
                yield event
            elif kind == "INPUT_CLOSED" and event["id"] == C.DONE:
                raise Stopped("done closed")
            elif kind == "INPUT_CLOSED" and event["id"] in data_inputs:
                raise UpstreamClosed(event["id"])
            elif kind == "STOP":
                raise Stopped(str(event.get("id", "STOP")))
        raise Stopped("event stream ended")

    def poll_stop(self) -> None:
        """Non-blocking check for STOP while a long computation runs (only control events remain)."""
        while True:
            event = self.node.try_recv()
            if event is None:
                return
            if event["type"] == "STOP" or (event["type"] == "INPUT_CLOSED" and event["id"] == C.DONE):
                raise Stopped(event["type"])

    def linger(self) -> None:
        """After the last output: stay until STOP or the ``done`` cascade (outputs in flight die with
        the process otherwise), having given back the memory the work used. An upstream input closing
        now is normal."""
        release_memory()
        for event in self.node:
            if event["type"] == "STOP" or (event["type"] == "INPUT_CLOSED" and event["id"] == C.DONE):
                return

    def write_stats(self) -> None:
        """``stats/<node>.json``: start-up CPU, CPU in all (helper processes included), peak RSS. Never
        fails the node: statistics that cannot be written (a full disk) are left out."""
        import resource

        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        stats = {"import_cpu_s": round(self._import_cpu_s, 3),
                 "cpu_s": round(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, 3),
                 "max_rss_mb": round(own.ru_maxrss / 1024, 1)}  # kilobytes on Linux
        try:
            folder = self.context.task_dir / "stats"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{self.stage}.json").write_text(json.dumps(stats))
        except OSError:
            pass

    @contextmanager
    def failing_loudly(self) -> Iterator[None]:
        """Turn errors into an ``errors/<node>.json`` record the engine re-raises, and an exit code;
        write the node's ``stats`` on the way out."""
        try:
            yield
            self.write_stats()
        except Stopped:
            self.write_stats()
            sys.exit(0)
        except UpstreamClosed as exc:
            self._record_error("UpstreamClosed", f"input {exc} closed before its end of stream", None)
            print(f"upstream closed: input {exc} ended before its end of stream", file=sys.stderr, flush=True)
            sys.exit(C.UPSTREAM_CLOSED_EXIT)
        except DramaflowError as exc:
            self._record_error(type(exc).__name__, str(exc), getattr(exc, "line", None), exc)
            traceback.print_exc()
            sys.exit(1)
        except OSError as exc:
            self._record_error(type(exc).__name__, os_error_message(exc), None)
            traceback.print_exc()
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - anything else is a bug, reported as such
            self._record_error(type(exc).__name__, f"{type(exc).__name__}: {exc}", None)
            traceback.print_exc()
            sys.exit(1)

    def _record_error(self, kind: str, message: str, line: int | None, exc: BaseException | None = None) -> None:
        """Write ``errors/<node>.json`` (a few hundred bytes: it fits where a full disk refused the audio)."""
        errors = self.context.task_dir / "errors"
        errors.mkdir(parents=True, exist_ok=True)
        record = {"node": self.stage, "type": kind, "message": message, "line": line, "ts": time.time()}
        if exc is not None and hasattr(exc, "hint"):
            record |= {"bare_message": getattr(exc, "message", message), "hint": exc.hint}
        (errors / f"{self.stage}.json").write_text(json.dumps(record, ensure_ascii=False))
        try:
            self.progress(0, 0, message, level="error")
        except Exception:  # noqa: BLE001 - the error record above is what matters
            pass
