"""The CLI's one place that turns an exception into the one line a user reads (exit status 2).

Typed errors of jukestudio (bad checkpoint, config, audio, project, job files) already name the file
and field; OS errors get a reason that says what to do (disk full, read-only folder, permissions);
anything else still gets one line, naming its type, with the traceback in the log file.
"""

from __future__ import annotations

from jukestudio.os_errors import describe_os_error
from jukestudio.project.errors import ProjectError

EXIT_ERROR = 2


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
