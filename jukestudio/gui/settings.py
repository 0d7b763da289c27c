"""Window state and preferences in one INI file under ``jukestudio.paths.settings_dir()``.

Tests move the folder with ``JUKESTUDIO_HOME``. Reads are typed with defaults, so a damaged or older
file gives defaults for the bad keys instead of breaking start-up.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from jukestudio import paths

MAX_RECENT = 8


def settings_file() -> Path:
    return paths.settings_dir() / "jukestudio.ini"


def app_settings() -> QSettings:
    return QSettings(str(settings_file()), QSettings.Format.IniFormat)


def recent_projects(settings: QSettings) -> list[str]:
    value = settings.value("projects/recent", [], type=list)
    return [str(v) for v in value if v] if isinstance(value, list) else []


def add_recent_project(settings: QSettings, folder: str | Path) -> list[str]:
    folder = str(Path(folder))
    recent = [folder, *[p for p in recent_projects(settings) if p != folder]][:MAX_RECENT]
    settings.setValue("projects/recent", recent)
    return recent


def _selection_key(folder: str | Path) -> str:
    import hashlib

    return "selection/" + hashlib.sha1(str(Path(folder).resolve()).encode()).hexdigest()[:16]


def last_take(settings: QSettings, folder: str | Path) -> str:
    """The take that was selected when the project was last open ("" when none)."""
    return str(settings.value(_selection_key(folder), "", type=str) or "")


def remember_take(settings: QSettings, folder: str | Path, take_id: str) -> None:
    settings.setValue(_selection_key(folder), take_id)
