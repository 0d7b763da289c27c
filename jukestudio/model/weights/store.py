"""The model store: converted weights, one folder per model under ``paths.model_store_dir()``.

    <store>/<name>/config.json        JukeboxConfig.to_json_string()
    <store>/<name>/manifest.json      name, preset, sources, per-component file + sha256, dtypes, untrained
    <store>/<name>/vqvae.safetensors  prior_0.safetensors  prior_1.safetensors  prior_2.safetensors

An entry may be partial (only a top prior, say): the manifest lists which components it has.
An import is built in a hidden folder beside the entry and renamed into place at the end, so a
crash never leaves a half entry under a real name.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from jukestudio import __version__, paths
from jukestudio.atomic import atomic_write_json, atomic_write_text
from jukestudio.model.config import ConfigError, JukeboxConfig, preset
from jukestudio.model.weights.errors import CheckpointError
from jukestudio.model.weights.hf_format import (
    TensorSource,
    is_hf_folder,
    open_safetensors,
    read_hf_folder,
    shape_view,
)
from jukestudio.model.weights.modules import COMPONENTS, check_state, tied_aliases
from jukestudio.model.weights.openai_format import config_for_files, read_original
from jukestudio.model.weights.safetensors_io import sha256_file, write_safetensors

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CONFIG = "config.json"
FORMAT_VERSION = 1
Progress = Callable[[float, str], None]
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

    @property
    def complete(self) -> bool:
        return set(self.components) == set(COMPONENTS)


def entry_dir(name: str) -> Path:
    check_name(name)
    return paths.model_store_dir() / name


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise StoreError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' or '-' (at most 64, not starting with a dot)"
        )
    return name


# ----------------------------------------------------------------------------------------------
# Import


@dataclass
class _Parts:
    config: JukeboxConfig
    preset: str | None
    sources: dict[str, TensorSource]
    source_paths: dict[str, list[str]]


def _from_original(files: list[Path], expect: str | None) -> _Parts:
    originals = []
    for path in files:
        original = read_original(path)
        clash = next((o for o in originals if o.component == original.component), None)
        if clash is not None:
            raise CheckpointError(path, f"holds the same part ({original.component}) as {clash.path}")
        originals.append(original)
    config, matched = config_for_files(originals, expect)
    sources = {o.component: TensorSource.from_state(o.state) for o in originals}
    return _Parts(config, matched, sources, {o.component: [str(o.path.resolve())] for o in originals})


def _from_hf(folder: Path, expect: str | None) -> _Parts:
    config, sources = read_hf_folder(folder)
    matched = None
    if expect is not None:
        expected = preset(expect)
        for component, source in sources.items():
            check_state(shape_view(source), expected, component, folder)
        matched = expect
    return _Parts(config, matched, sources, {c: sorted(str(f.resolve()) for f in s.files) for c, s in sources.items()})


def _expand(source_paths: Iterable[str | os.PathLike[str]]) -> tuple[Path | None, list[Path]]:
    """(an HF folder, or None; original files). A folder of .pth.tar files counts as those files."""
    given = [Path(p) for p in source_paths]
    if not given:
        raise StoreError("nothing to import: give an HF model folder or the original .pth.tar files")
    for path in given:
        if not path.exists():
            raise CheckpointError(path, "does not exist")
    folders = [p for p in given if p.is_dir()]
    if len(given) == 1 and folders and is_hf_folder(folders[0]):
        return folders[0], []
    files: list[Path] = []
    for path in given:
        if path.is_dir():
            if is_hf_folder(path):
                raise StoreError(f"{path}: import an HF model folder on its own, not together with other files")
            found = sorted(path.glob("*.pth.tar"))
            if not found:
                raise CheckpointError(path, "holds neither an HF model (config.json) nor .pth.tar files")
            files.extend(found)
        else:
            files.append(path)
    return None, files


def import_model(
    source_paths: Iterable[str | os.PathLike[str]],
    name: str | None = None,
    progress: Progress | None = None,
    *,
    expect: str | None = None,
    overwrite: bool = False,
) -> ModelInfo:
    """Convert an HF folder or original ``.pth.tar`` files into the store, once.

    ``expect`` names a preset the weights must match ("5b" …). ``progress(fraction, message)``
    is called as files are read and written. Returns the new entry's info.
    """
    report = progress or (lambda fraction, message: None)
    report(0.0, "reading the weights")
    hf_folder, files = _expand(source_paths)
    parts = _from_hf(hf_folder, expect) if hf_folder else _from_original(files, expect)
    name = check_name(name if name is not None else _default_name(parts, hf_folder, files))
    target = entry_dir(name)
    if target.exists() and not overwrite:
        raise StoreError(f"a model named {name!r} already exists in the store ({target}); choose another --name")
    parts.config.name = name if parts.config.name in ("custom", "imported") else parts.config.name
    staging = Path(tempfile.mkdtemp(prefix=f".importing-{name}-", dir=paths.model_store_dir()))
    try:
        _write_entry(staging, name, parts, report, untrained=parts.config.untrained)
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".replaced-{name}-", dir=paths.model_store_dir()))
            os.replace(target, trash / name)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report(1.0, f"imported {name}")
    log.info("imported model %s (%s) into %s", name, ", ".join(sorted(parts.sources)), target)
    return model_info(name)


def _default_name(parts: _Parts, hf_folder: Path | None, files: list[Path]) -> str:
    if parts.preset and len(parts.sources) == len(COMPONENTS):
        return parts.preset
    stem = hf_folder.name if hf_folder else (files[0].parent.name if files else "model")
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-") or "model"
    return cleaned[:64]


def _stored_tensors(component: str, config: JukeboxConfig, source: TensorSource, path: Any) -> dict[str, Any]:
    """The tensors to store: tied aliases are dropped (after checking they equal their owner)."""
    aliases = tied_aliases(config, component)
    for alias, owner in aliases.items():
        if alias in source and owner in source:
            a, b = source.get(alias), source.get(owner)
            if a.data_ptr() != b.data_ptr() and not torch.equal(a.float(), b.float()):
                raise CheckpointError(path, f"{alias} must equal {owner} (tied in this model), but differs")
    return {name: source.loaders[name] for name in source if name not in aliases}


def _write_entry(folder: Path, name: str, parts: _Parts, report: Progress, *, untrained: bool) -> None:
    total = sum(_nbytes(source) for source in parts.sources.values()) or 1
    free = shutil.disk_usage(folder).free
    if free < total + (1 << 20):  # said before writing: a full disk is known to be too small up front
        raise OSError(
            errno.ENOSPC,
            f"importing {name} needs {total / 1e6:,.0f} MB but only {free / 1e6:,.0f} MB are free on that disk",
            str(folder.parent),
        )
    done = 0
    components: dict[str, Any] = {}

    def advance(nbytes: int) -> None:
        nonlocal done
        done += nbytes
        report(0.05 + 0.9 * done / total, f"writing {name}")

    for component in COMPONENTS:
        source = parts.sources.get(component)
        if source is None:
            continue
        tensors = _stored_tensors(component, parts.config, source, folder)
        dtypes = sorted({str(source.get(n).dtype).removeprefix("torch.") for n in tensors})
        file_name = f"{component}.safetensors"
        digest, size = write_safetensors(
            folder / file_name, tensors, metadata={"format": "pt", "component": component}, on_bytes=advance
        )
        components[component] = {
            "file": file_name,
            "sha256": digest,
            "bytes": size,
            "tensors": len(tensors),
            "dtypes": dtypes,
            "sources": parts.source_paths.get(component, []),
        }
    atomic_write_text(folder / CONFIG, parts.config.to_json_string() + "\n")
    all_dtypes = sorted({d for c in components.values() for d in c["dtypes"]})
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "preset": parts.preset,
        "untrained": untrained,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "jukestudio_version": __version__,
        "dtype": "+".join(all_dtypes),
        "components": components,
        "sources": sorted({s for c in components.values() for s in c["sources"]}),
    }
    atomic_write_json(folder / MANIFEST, manifest)


def _nbytes(source: TensorSource) -> int:
    return sum(source.get(n).numel() * source.get(n).element_size() for n in source)


def write_entry_from_states(
    name: str,
    config: JukeboxConfig,
    states: Mapping[str, Mapping[str, torch.Tensor]],
    *,
    preset_name: str | None,
    untrained: bool,
    progress: Progress | None = None,
) -> ModelInfo:
    """Store in-memory state dicts (component-local names) as an entry; used for the demo model."""
    for component, state in states.items():
        check_state(state, config, component, f"<{name}:{component}>")
    sources = {component: TensorSource.from_state(state) for component, state in states.items()}
    parts = _Parts(config, preset_name, sources, {})
    target = entry_dir(name)
    staging = Path(tempfile.mkdtemp(prefix=f".importing-{name}-", dir=paths.model_store_dir()))
    try:
        _write_entry(staging, name, parts, progress or (lambda f, m: None), untrained=untrained)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return model_info(name)


# ----------------------------------------------------------------------------------------------
# Reading entries


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


def entry_sources(folder: Path) -> tuple[JukeboxConfig, dict[str, TensorSource], dict[str, Any]]:
    """Config, per-component (memory-mapped) tensor sources and manifest of a store entry."""
    manifest = read_manifest(folder)
    config = read_entry_config(folder)
    sources: dict[str, TensorSource] = {}
    for component, info in manifest["components"].items():
        file_path = folder / str(info.get("file", ""))
        if Path(str(info.get("file", ""))).name != info.get("file") or not file_path.is_file():
            raise CheckpointError(file_path, f"the {component} weights file is missing")
        sources[component] = open_safetensors(file_path)
    return config, sources, manifest


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
    )


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file())


def list_models() -> list[ModelInfo]:
    """Every entry in the store, by name (entries with a broken manifest carry ``problem``)."""
    store = paths.model_store_dir()
    names = sorted(p.name for p in store.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [model_info(n) for n in names if _NAME.match(n)]


def verify_model(name: str, progress: Progress | None = None) -> list[str]:
    """Recompute every file's sha256 and check the key set; returns the problems (empty = fine)."""
    report = progress or (lambda fraction, message: None)
    folder = entry_dir(name)
    if not folder.is_dir():
        raise StoreError(f"no model named {name!r} in the store ({paths.model_store_dir()})")
    try:
        manifest = read_manifest(folder)
        config = read_entry_config(folder)
    except CheckpointError as exc:
        return [str(exc)]
    problems: list[str] = []
    items = [(c, manifest["components"][c]) for c in COMPONENTS if c in manifest["components"]]
    total = sum(int(info.get("bytes", 0)) for _, info in items) or 1
    done = 0

    def advance(nbytes: int) -> None:
        nonlocal done
        done += nbytes
        report(min(done / total, 1.0), f"checking {name}")

    for component, info in items:
        path = folder / str(info.get("file", ""))
        if not path.is_file():
            problems.append(f"{path}: missing ({component})")
            continue
        if path.stat().st_size != info.get("bytes"):
            problems.append(f"{path}: size {path.stat().st_size} bytes, the manifest says {info.get('bytes')}")
        digest = sha256_file(path, on_bytes=advance)
        if digest != info.get("sha256"):
            problems.append(
                f"{path}: sha256 {digest} does not match the manifest ({info.get('sha256')}): damaged or changed"
            )
            continue
        try:
            source = open_safetensors(path)
            check_state(shape_view(source), config, component, path)
        except CheckpointError as exc:
            problems.append(str(exc))
    report(1.0, f"checked {name}")
    return problems


def remove_model(name: str) -> None:
    folder = entry_dir(name)
    if not folder.is_dir():
        raise StoreError(f"no model named {name!r} in the store")
    trash = Path(tempfile.mkdtemp(prefix=f".removing-{name}-", dir=paths.model_store_dir()))
    os.replace(folder, trash / name)
    shutil.rmtree(trash, ignore_errors=True)
