"""Atomic file writes: temp file in the same folder + fsync + rename, so a crash never leaves half a file.

Every file jukestudio writes (projects, takes, job states, model store, exports) goes through here.
A killed writer leaves at most its temp file (``.<name>.<random><suffix>``, see :func:`is_temp_leftover`)
beside an untouched target.

Fault injection for crash tests: ``JUKESTUDIO_FAULT="before:take.json:2"`` (or ``after:...``) makes
the process SIGKILL itself right before (after) its 2nd rename onto a file named ``take.json``;
``JUKESTUDIO_FAULT="trace:/some/file"`` appends the name of every renamed file to that file. The
variable is read at each rename (one dict lookup when unset), so a forked test process can set it.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
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


FAULT_ENV = "JUKESTUDIO_FAULT"
_renames: dict[str, int] = {}  # renames per target file name in this process (for FAULT_ENV)


def _fault_point(when: str, target: Path) -> None:
    """The crash-test hook (module docstring); does nothing unless FAULT_ENV is set."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    kind, _, rest = spec.partition(":")
    if kind == "trace":
        if when == "before":
            with open(rest, "a", encoding="utf-8") as log:
                log.write(target.name + "\n")
        return
    name, _, nth = rest.rpartition(":")
    if kind not in ("before", "after") or not name or not nth.isdigit():
        raise ValueError(f"{FAULT_ENV}={spec!r}: use before:NAME:N, after:NAME:N or trace:FILE")
    if name != target.name:
        return
    if when == "before":
        _renames[name] = _renames.get(name, 0) + 1
    if kind == when and _renames.get(name) == int(nth):
        os.kill(os.getpid(), signal.SIGKILL)


_TEMP_NAME = re.compile(
    r"^\..+\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?$"  # ours: mkstemp's 8 random characters
    r"|^\.tmp[A-Za-z0-9]{6}$"  # safetensors' own temp file (Rust tempfile) inside our write
)


def is_temp_leftover(path: Path) -> bool:
    """Whether ``path`` looks like the temp file of a write that was killed before its rename."""
    return bool(_TEMP_NAME.match(path.name))


def _make_folder(folder: Path) -> None:
    """mkdir -p, then fsync the parent of every folder it created: a file renamed into a new folder
    is only durable once the folder's own entry is (a take folder must survive a power cut once its
    job says "done")."""
    created = []
    missing = folder
    while not missing.exists():
        created.append(missing)
        if missing.parent == missing:
            break
        missing = missing.parent
    folder.mkdir(parents=True, exist_ok=True)
    for new in reversed(created):
        _fsync_dir(new.parent)


@contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` atomically.

    For writers that insist on a file name (safetensors, soundfile). On error the temp file is
    removed and ``target`` is untouched.
    """
    target = Path(target)
    _make_folder(target.parent)
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
        _fault_point("before", target)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        _fault_point("after", target)
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
