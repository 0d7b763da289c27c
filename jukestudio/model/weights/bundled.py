"""The model shipped inside the package, ``jukestudio-tiny``: installed into the store on first use.

It is a complete store entry (config, manifest, safetensors, ``training.json``) under
``resources/models/jukestudio-tiny/``; installing copies it into the store through a hidden staging
folder renamed into place, so a crash never leaves half an entry. An entry whose manifest differs
from the shipped one (an older release's weights) is replaced; other models are never touched.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from jukestudio import paths
from jukestudio.bundled_model import BUNDLED_NAME, MANIFEST, bundled_dir
from jukestudio.model.weights.catalog import ModelInfo, model_info, publish_entry

__all__ = ["BUNDLED_NAME", "TRAINING", "bundled_dir", "ensure_bundled_model"]

log = logging.getLogger(__name__)

TRAINING = "training.json"  # how and on what the shipped model was trained


def _installed_matches(source: Path, target: Path) -> bool:
    try:
        return (target / MANIFEST).read_bytes() == (source / MANIFEST).read_bytes() and all(
            (target / f.name).is_file() and (target / f.name).stat().st_size == f.stat().st_size
            for f in source.iterdir()
            if f.is_file()
        )
    except OSError:
        return False


def ensure_bundled_model() -> ModelInfo | None:
    """Install (or refresh) ``jukestudio-tiny`` in the store; its info, or None when not shipped."""
    source = bundled_dir()
    if source is None:
        return None
    target = paths.model_store_dir() / BUNDLED_NAME
    if _installed_matches(source, target):
        return model_info(BUNDLED_NAME)
    log.info("installing the bundled model %s into %s", BUNDLED_NAME, target.parent)

    def copy(staging: Path) -> None:
        for item in source.iterdir():
            if item.is_file():
                shutil.copyfile(item, staging / item.name)

    publish_entry(BUNDLED_NAME, copy)
    return model_info(BUNDLED_NAME)
