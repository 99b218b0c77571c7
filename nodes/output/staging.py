"""Atomic writing of a set of files: ``_staged_files`` stages each file as a hidden, fsynced temp file
beside its destination and moves them all into place on success, or removes every temp file and every
file it created on failure (naming a full disk ENOSPC, whatever the writer said)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

Stage = Callable[[Path, Callable[[BinaryIO], Any]], None]


@contextmanager
def _staged_files() -> Iterator[Stage]:
    """Yield ``stage(final_path, write)``; on clean exit move every staged file into place, in order.

    ``write`` fills a hidden temp file beside ``final_path``, which is then flushed and fsynced. On
    any error (while staging or while moving) every temp file is removed, as is every final file
    that this call created, and the error propagates.
    """
    staged: list[tuple[Path, Path, bool]] = []  # (temp, final, final existed before)
    moved: list[tuple[Path, bool]] = []

    def stage(final: Path, write: Callable[[BinaryIO], Any]) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
        temp = Path(temp_name)
        staged.append((temp, final, final.exists()))
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; published files follow the umask
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())

    try:
        yield stage
        for temp, final, existed in staged:
            os.replace(temp, final)
            moved.append((final, existed))
        _fsync_directories({final.parent for _, final, _ in staged})
    except BaseException as exc:
        for temp, _, _ in staged:
            temp.unlink(missing_ok=True)
        for final, existed in moved:
            if not existed:
                final.unlink(missing_ok=True)
        folder = staged[-1][1].parent if staged else None
        if isinstance(exc, Exception) and not _is_enospc(exc) and folder and _disk_full(folder):
            # a writer that fails on a full disk may say anything (an AssertionError, a short write)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder)) from exc
        raise


DISK_FULL_BYTES = 1 << 20  # less free space than this after a failed write: the disk was full


def _is_enospc(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_BYTES
    except OSError:
        return False


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_directories(directories: set[Path]) -> None:
    """Make the renames durable; not every platform can open a directory, which is fine."""
    for directory in directories:
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
