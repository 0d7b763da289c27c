"""One process runs a job at a time: a lock file holding the owner's process id, taken atomically.

The GUI and `jukestudio-cli resume` share project folders, and two `resume`s may start at once:
the lock is created with ``O_CREAT | O_EXCL`` so exactly one wins; the loser gets
:class:`JobBusyError` ("this job is being run by process N"). A lock left by a dead (killed)
process is taken over. A folder that cannot be written (read-only, disk full) raises the OSError
naming the job folder, not a temp file.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "lock"


class JobBusyError(RuntimeError):
    """Another live process runs this job; the message says which."""

    def __init__(self, folder: Path, owner: int) -> None:
        self.folder, self.owner = folder, owner
        super().__init__(f"{folder}: this job is being run by process {owner}; wait for it or stop it first")


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or the platform cannot tell: be safe
    return True


def _owner(lock: Path) -> int | None:
    try:
        return int(lock.read_text(encoding="utf-8").strip()[:20])
    except (OSError, ValueError):
        return None


def _create(lock: Path) -> bool:
    """Create the lock holding our pid; False when it exists already."""
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError as exc:
        raise OSError(exc.errno, f"cannot lock the job ({exc.strerror})", str(lock.parent)) from None
    try:
        os.write(fd, str(os.getpid()).encode())
    except OSError as exc:
        os.close(fd)
        lock.unlink(missing_ok=True)
        raise OSError(exc.errno or errno.EIO, f"cannot lock the job ({exc.strerror})", str(lock.parent)) from None
    os.close(fd)
    return True


@contextmanager
def job_lock(folder: Path) -> Iterator[None]:
    lock = Path(folder) / LOCK_FILE
    for _attempt in range(3):
        if _create(lock):
            break
        owner = _owner(lock)
        if owner == os.getpid():
            break  # re-entered by this process (a resume inside a run)
        if owner is not None and process_alive(owner):
            raise JobBusyError(Path(folder), owner)
        if owner is None and _attempt == 0:  # being written this instant by a process that just won
            import time

            time.sleep(0.05)
            continue
        lock.unlink(missing_ok=True)  # a dead owner's (or unreadable) lock: take it over
    else:
        owner = _owner(lock)
        raise JobBusyError(Path(folder), owner if owner is not None else -1)
    try:
        yield
    finally:
        if _owner(lock) == os.getpid():
            lock.unlink(missing_ok=True)
