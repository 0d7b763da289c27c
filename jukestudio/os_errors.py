"""The one wording of an OSError for a user, shared by the CLI and the window: what failed (the final
file, never an atomic write's temp name), why, and what to do (free space, a writable copy, …)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from jukestudio.atomic import is_temp_leftover


def target_of(filename: object) -> str:
    """The file an OSError names; a temp file of an atomic write is named by its folder and final name."""
    if not filename:
        return "a file"
    path = Path(os.fsdecode(filename)) if isinstance(filename, (str, bytes, os.PathLike)) else Path(str(filename))
    name = path.name
    if name.startswith(".") and name.count(".") >= 3:  # atomic.py temp files: .<name>.<random>.<suffix>
        final = name[1:].rsplit(".", 2)[0]
        return f"{path.parent / final} (in {path.parent})"
    if is_temp_leftover(path):  # a library's own temp file (safetensors' .tmpXXXXXX): its folder says more
        return f"a file in {path.parent}"
    return str(path)


def describe_os_error(exc: OSError, resume: str = "run `jukestudio-cli resume PROJECT_DIR`") -> str:
    """One line for an OSError; ``resume`` says how to continue once a full disk has room again."""
    where = target_of(exc.filename)
    if exc.errno == errno.ENOSPC and exc.strerror and "needs" in exc.strerror:  # the amount is known
        return f"the disk is full: {exc.strerror} ({where}); free some space and try again"
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
        return (
            f"the disk is full: cannot write {where}. Free some space, then {resume} to continue; "
            "finished windows and takes are kept"
        )
    if exc.errno == errno.EROFS:
        return f"{where}: the folder is on a read-only disk; copy the project to a writable place"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{where}: permission denied; check the permissions of the file and its folder"
    if exc.errno == errno.ENOENT:
        return f"{where}: no such file or folder"
    return f"{where}: {exc.strerror or exc}"
