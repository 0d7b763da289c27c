"""jukestudio.project: the project folder (settings, take tree, codes, previews), undo, autosave. No Qt.

Names load on first use (PEP 562), so code that needs only ``jukestudio.project.errors`` or
``settings`` (the CLI's argument checks) does not import numpy and the audio libraries.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "SCHEMA_VERSION": "document",
    "Project": "document",
    "ProjectCorruptError": "errors",
    "ProjectError": "errors",
    "ProjectNotFoundError": "errors",
    "ProjectVersionError": "errors",
    "TakeNotFoundError": "errors",
    "LEVEL_NAMES": "settings",
    "ProjectSettings": "settings",
    "Take": "takes",
    "Trim": "takes",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
