"""Project errors: each names the file and says what is wrong and what was (not) done about it."""

from __future__ import annotations


class ProjectError(Exception):
    """A project folder cannot be used as asked."""


class ProjectNotFoundError(ProjectError):
    """The folder is missing or holds no project.json."""


class ProjectCorruptError(ProjectError):
    """A project file is damaged (bad JSON, wrong types). The file is left exactly as it was."""


class ProjectVersionError(ProjectError):
    """The project was written by a newer jukestudio (or has an unknown schema)."""


class TakeNotFoundError(ProjectError, KeyError):
    """No take with that id in the project (perhaps deleted)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
