"""What the model store holds, read without PyTorch: entry names, manifests, configs.

The CLI and the window list models and check a model name before anything imports torch (which
takes seconds to import); converting and loading weights live in ``store`` and ``loader``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jukestudio import paths
from jukestudio.model.config import ConfigError, JukeboxConfig
from jukestudio.model.weights.errors import CheckpointError

COMPONENTS = ("vqvae", "prior_0", "prior_1", "prior_2")
MANIFEST = "manifest.json"
CONFIG = "config.json"
FORMAT_VERSION = 1
DEMO_NAME = "demo"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class StoreError(ValueError):
    """A store operation that cannot be done (bad name, entry exists, entry missing)."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    preset: str | None
    components: tuple[str, ...]
    untrained: bool
    created: str
    size_bytes: int
    problem: str | None = None  # set when the entry's manifest cannot be read
    store_dtype: str = "fp32"  # "fp16": transformer matrices stored in half precision (store.STORE_DTYPES)

    @property
    def complete(self) -> bool:
        return set(self.components) == set(COMPONENTS)


def entry_dir(name: str) -> Path:
    check_name(name)
    return paths.model_store_dir() / name


def publish_entry(name: str, fill: Callable[[Path], None]) -> None:
    """Write an entry whole or not at all: ``fill`` writes a hidden staging folder of the store, which
    then replaces the entry ``name`` by one rename (a crash leaves no half entry under a real name)."""
    target = entry_dir(name)
    staging = Path(tempfile.mkdtemp(prefix=f".importing-{name}-", dir=paths.model_store_dir()))
    try:
        fill(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise StoreError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' or '-' (at most 64, not starting with a dot)"
        )
    return name


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(path, "missing: not a jukestudio model folder") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(path, f"unreadable ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("components"), dict):
        raise CheckpointError(path, "not a jukestudio model manifest")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(path, "written by a newer jukestudio; update jukestudio to use this model")
    unknown = set(manifest["components"]) - set(COMPONENTS)
    if unknown:
        raise CheckpointError(path, f"lists unknown components {sorted(unknown)}")
    return manifest


def read_entry_config(folder: Path) -> JukeboxConfig:
    try:
        return JukeboxConfig.from_json_file(folder / CONFIG)
    except ConfigError as exc:
        raise CheckpointError(folder / CONFIG, str(exc)) from None


def is_store_entry(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def is_hf_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def model_info(name: str) -> ModelInfo:
    folder = entry_dir(name)
    if not folder.is_dir():
        raise StoreError(f"no model named {name!r} in the store ({paths.model_store_dir()})")
    try:
        manifest = read_manifest(folder)
    except CheckpointError as exc:
        return ModelInfo(name, folder, None, (), False, "", _folder_size(folder), problem=str(exc))
    components = tuple(c for c in COMPONENTS if c in manifest["components"])
    return ModelInfo(
        name=name,
        path=folder,
        preset=manifest.get("preset"),
        components=components,
        untrained=bool(manifest.get("untrained", False)),
        created=str(manifest.get("created", "")),
        size_bytes=sum(int(manifest["components"][c].get("bytes", 0)) for c in components),
        store_dtype=str(manifest.get("store_dtype", "fp32")),
    )


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file())


def list_models() -> list[ModelInfo]:
    """Every entry in the store, by name (entries with a broken manifest carry ``problem``)."""
    store = paths.model_store_dir()
    names = sorted(p.name for p in store.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [model_info(n) for n in names if _NAME.match(n)]


def model_config(name_or_path: str | os.PathLike[str]) -> JukeboxConfig:
    """The config of a store name, a store folder, an HF folder or the demo model (made on first load).

    The same lookup as ``loader.open_weights``, reading only JSON; raises CheckpointError naming what
    is missing, so a bad ``--model`` is reported before any weights are touched.
    """
    text = os.fspath(name_or_path)
    store_folder = paths.model_store_dir() / text
    if _NAME.match(text) and store_folder.is_dir():
        read_manifest(store_folder)
        return read_entry_config(store_folder)
    if text == DEMO_NAME:
        from jukestudio.model.config import preset

        return preset("demo")
    path = Path(text)
    if is_store_entry(path):
        read_manifest(path)
        return read_entry_config(path)
    if is_hf_folder(path):
        try:
            return JukeboxConfig.from_pretrained(path)
        except ConfigError as exc:
            raise CheckpointError(path / "config.json", str(exc)) from None
    if path.exists():
        raise CheckpointError(
            path, "is neither a store model nor an HF model folder; import original files first (models import)"
        )
    raise CheckpointError(path, f"no such model in the store ({paths.model_store_dir()}) and no such folder")
