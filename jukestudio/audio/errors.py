"""Errors of the audio layer: bad input files get one exception type that names the file and the problem."""

from __future__ import annotations

import os


class AudioError(ValueError):
    """An audio file cannot be used; the message names the file and says what is wrong."""

    def __init__(self, path: str | os.PathLike[str] | None, problem: str) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
