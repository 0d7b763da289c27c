"""Icons drawn as SVG in ``resources/icons/`` (Qt's SVG image plugin renders them at any size)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QIcon, QPixmap

from jukestudio.resources_path import resource


@cache
def icon(name: str) -> QIcon:
    """``icon("play")`` → resources/icons/play.svg; an empty icon if the file is missing."""
    node = resource("icons", f"{name}.svg")
    try:
        data = node.read_bytes()
    except (FileNotFoundError, OSError):
        return QIcon()
    pixmap = QPixmap()
    pixmap.loadFromData(QByteArray(data), "SVG")
    return QIcon(pixmap)
