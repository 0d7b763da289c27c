"""Atomic file writes: temp file in the same folder + fsync + rename, so a crash never leaves half a file.

Every file jukestudio writes (projects, takes, job states, model store, exports) goes through here.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _default_mode(target: Path) -> int:
    """Keep an existing file's permissions; new files follow the umask like a plain open() would."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a directory for fsync; rename is durable enough there
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` atomically.

    For writers that insist on a file name (safetensors, soundfile). On error the temp file is
    removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
        except OSError:
            raise
        except Exception as exc:  # a library writer's own error type (safetensors, libsndfile) for an OS failure
            _raise_if_os_failure(exc, tmp)
            raise
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode(target))  # mkstemp creates 0600 files
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _raise_if_os_failure(exc: Exception, tmp: Path) -> None:
    """Disk full or an I/O error inside safetensors/libsndfile surfaces as their own error types with
    the errno in the text; turn those into the OSError they are, so callers handle one kind of failure."""
    text = str(exc)
    for code, marks in ((errno.ENOSPC, ("No space left", "code: 28", "StorageFull")), (errno.EIO, ("code: 5,",))):
        if any(mark in text for mark in marks):
            raise OSError(code, os.strerror(code), str(tmp)) from exc
    try:
        if os.statvfs(tmp.parent).f_bavail == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp)) from exc
    except (OSError, AttributeError) as probe:
        if isinstance(probe, OSError) and probe.errno == errno.ENOSPC:
            raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike[str], data: Any) -> None:
    atomic_write_text(target, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def atomic_write_with(target: str | os.PathLike[str], writer: Callable[[Path], None], suffix: str = "") -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target, suffix=suffix) as tmp:
        writer(tmp)
