"""Where jukestudio keeps things on disk (platformdirs).

One environment variable, ``JUKESTUDIO_HOME``, moves every folder below one root. Tests and
portable installs use it so nothing touches the user's real folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import PlatformDirs

APP_NAME = "jukestudio"
HOME_ENV = "JUKESTUDIO_HOME"


def _dirs() -> PlatformDirs:
    return PlatformDirs(APP_NAME, appauthor=False)


def _root_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value) if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def settings_dir() -> Path:
    root = _root_override()
    return _ensure(root / "settings" if root else Path(_dirs().user_config_dir))


def model_store_dir() -> Path:
    """Converted model weights (safetensors + manifest), one folder per model."""
    root = _root_override()
    return _ensure(root / "models" if root else Path(_dirs().user_data_dir) / "models")


def projects_dir() -> Path:
    root = _root_override()
    return _ensure(root / "projects" if root else Path(_dirs().user_documents_dir) / "jukestudio")


def log_dir() -> Path:
    root = _root_override()
    return _ensure(root / "logs" if root else Path(_dirs().user_log_dir))


def cache_dir() -> Path:
    root = _root_override()
    return _ensure(root / "cache" if root else Path(_dirs().user_cache_dir))
