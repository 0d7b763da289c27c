"""Access to the data files shipped with the package (vocab tables, icons).

A wheel installs the repository's ``resources/`` folder as the package ``jukestudio.resources``;
a source checkout or an editable install reads the folder beside the package directly.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Traversable

_SOURCE_TREE = Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Traversable:
    """A file under ``resources/``, e.g. ``resource("vocab", "v2_artist_ids.txt")``."""
    node: Traversable
    try:
        node = files("jukestudio.resources")
    except ModuleNotFoundError:
        node = _SOURCE_TREE
    for part in parts:
        node = node / part
    return node
