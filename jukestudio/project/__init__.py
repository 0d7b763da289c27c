"""jukestudio.project: the project folder (settings, take tree, codes, previews), undo, autosave. No Qt."""

from jukestudio.project.document import SCHEMA_VERSION, Project
from jukestudio.project.errors import (
    ProjectCorruptError,
    ProjectError,
    ProjectNotFoundError,
    ProjectVersionError,
    TakeNotFoundError,
)
from jukestudio.project.settings import LEVEL_NAMES, ProjectSettings
from jukestudio.project.takes import Take, Trim

__all__ = [
    "LEVEL_NAMES",
    "SCHEMA_VERSION",
    "Project",
    "ProjectCorruptError",
    "ProjectError",
    "ProjectNotFoundError",
    "ProjectSettings",
    "ProjectVersionError",
    "Take",
    "TakeNotFoundError",
    "Trim",
]
