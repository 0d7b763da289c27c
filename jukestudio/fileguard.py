"""Opening files named by users without surprises: never block, never read more than a bound.

A FIFO or a device named ``model.pth.tar`` would block ``open()`` or stream forever; a 10 GB file
named ``config.json`` would be read whole. ``check_regular_file`` refuses such paths from ``stat``
alone (which never blocks); ``open_regular`` opens non-blocking and checks again on the open handle
(the path could be swapped in between); ``read_small_file`` reads at most a bound.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class UnusableFileError(ValueError):
    """The path is not a readable regular file; the message names it and says why."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


_KINDS = (
    (stat.S_ISDIR, "is a folder, not a file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file; refused without reading it"),
    (stat.S_ISCHR, "is a character device, not a regular file; refused without reading it"),
    (stat.S_ISBLK, "is a block device, not a regular file; refused without reading it"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


def _kind_problem(mode: int) -> str | None:
    for test, problem in _KINDS:
        if test(mode):
            return problem
    return None if stat.S_ISREG(mode) else "is not a regular file"


def describe_os_error(exc: OSError) -> str:
    """The user-facing reason of an OSError from opening or reading a file."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "is not readable: permission denied (check the file's permissions)"
    if exc.errno == errno.ENOENT:
        return "does not exist (file not found)"
    if exc.errno == errno.EISDIR:
        return "is a folder, not a file"
    return f"is unreadable ({exc.strerror or exc})"


def check_regular_file(path: str | os.PathLike[str]) -> os.stat_result:
    """``stat`` the path (never blocks) and refuse anything that is not a regular file."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UnusableFileError(path, describe_os_error(exc)) from None
    problem = _kind_problem(info.st_mode)
    if problem is not None:
        raise UnusableFileError(path, problem)
    return info


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only file descriptor of a regular file, opened without blocking on FIFOs/devices."""
    check_regular_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise UnusableFileError(path, describe_os_error(exc)) from None
    problem = _kind_problem(os.fstat(fd).st_mode)
    if problem is not None:
        os.close(fd)
        raise UnusableFileError(path, problem)
    return fd


def read_small_file(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> bytes:
    """The whole content of a regular file that may hold at most ``max_bytes``."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise UnusableFileError(
                path, f"is {size:,} bytes, too big for a {what} (at most {max_bytes:,}); not read"
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise UnusableFileError(path, describe_os_error(exc)) from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while we read it
        raise UnusableFileError(path, f"is larger than {max_bytes:,} bytes, too big for a {what}; not read")
    return data
