"""Name and location of the model shipped inside the package (``jukestudio-tiny``); no torch, no Qt.

The window reads the name at start-up to pick it by default; the store installs it with
``jukestudio.model.weights.bundled.ensure_bundled_model``.
"""

from __future__ import annotations

from pathlib import Path

from jukestudio.resources_path import resource

BUNDLED_NAME = "jukestudio-tiny"
MANIFEST = "manifest.json"  # the store's manifest file name (``store.MANIFEST``)


def bundled_dir() -> Path | None:
    """The shipped store entry folder, or None when this installation has none (a trimmed build)."""
    path = Path(str(resource("models", BUNDLED_NAME)))
    return path if (path / MANIFEST).is_file() else None
