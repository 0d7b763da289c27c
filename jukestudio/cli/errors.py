"""The CLI's one place that turns an exception into the one line a user reads (exit status 2).

Typed errors of jukestudio (bad checkpoint, config, audio, project, job files) already name the file
and field; OS errors get a reason that says what to do (disk full, read-only folder, permissions);
anything else still gets one line, naming its type, with the traceback in the log file.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from jukestudio.project.errors import ProjectError

EXIT_ERROR = 2


def _target(filename: object) -> str:
    """The file an OSError names; a temp file of an atomic write is named by its folder and final name."""
    if not filename:
        return "a file"
    path = Path(os.fsdecode(filename)) if isinstance(filename, (str, bytes, os.PathLike)) else Path(str(filename))
    name = path.name
    if name.startswith(".") and name.count(".") >= 3:  # atomic.py temp files: .<name>.<random>.<suffix>
        final = name[1:].rsplit(".", 2)[0]
        return f"{path.parent / final} (in {path.parent})"
    return str(path)


def describe_os_error(exc: OSError, resume: str = "jukestudio-cli resume PROJECT_DIR") -> str:
    """One line for an OSError; ``resume`` is the command a full disk's message tells to run after."""
    where = _target(exc.filename)
    if exc.errno == errno.ENOSPC and exc.strerror and "needs" in exc.strerror:  # the amount is known
        return f"the disk is full: {exc.strerror} ({where}); free some space and try again"
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
        return (
            f"the disk is full: cannot write {where}. Free some space, then run `{resume}` to continue; "
            "finished windows and takes are kept"
        )
    if exc.errno == errno.EROFS:
        return f"{where}: the folder is on a read-only disk; copy the project to a writable place"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{where}: permission denied; check the permissions of the file and its folder"
    if exc.errno == errno.ENOENT:
        return f"{where}: no such file or folder"
    return f"{where}: {exc.strerror or exc}"


def describe_failure(exc: BaseException) -> str:
    """One line for any exception a command raised."""
    if isinstance(exc, OSError) and exc.errno is not None:
        text = describe_os_error(exc)
    elif isinstance(exc, (ProjectError, ValueError, OSError)):
        text = str(exc) or type(exc).__name__
    elif isinstance(exc, MemoryError):
        text = "out of memory; use fewer takes, a shorter length or a smaller model"
    elif isinstance(exc, RecursionError):
        text = "the input nests too deeply to be read"
    else:
        text = f"unexpected {type(exc).__name__}: {exc} (a bug; the traceback is in the log file)"
    return text.strip()
