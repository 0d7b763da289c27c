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
from jukestudio.model.config import JukeboxConfig, preset

# the read-only part lives in catalog (no torch); re-exported here for the store's callers
from jukestudio.model.weights.catalog import (  # noqa: F401
    _NAME,
    CONFIG,
    FORMAT_VERSION,
    MANIFEST,
    ModelInfo,
    StoreError,
    check_name,
    entry_dir,
    is_store_entry,
    list_models,
    model_info,
    publish_entry,
    read_entry_config,
    read_manifest,
)
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

Progress = Callable[[float, str], None]
# How weights are stored. "fp16" halves the priors on disk: the transformer's weight matrices (what the
# GPU path runs in half precision anyway) become float16; the VQ-VAE, embeddings, layer norms and
# biases — the parts whose precision the model needs — stay float32. Loading casts to the wanted dtype.
STORE_DTYPES = ("fp32", "fp16")


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
    store_dtype: str = "fp32",
) -> ModelInfo:
    """Convert an HF folder or original ``.pth.tar`` files into the store, once.

    ``expect`` names a preset the weights must match ("5b" …). ``progress(fraction, message)``
    is called as files are read and written. Returns the new entry's info.
    """
    report = progress or (lambda fraction, message: None)
    if store_dtype not in STORE_DTYPES:
        raise StoreError(f"unknown store dtype {store_dtype!r}; use one of {', '.join(STORE_DTYPES)}")
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
        _write_entry(staging, name, parts, report, untrained=parts.config.untrained, store_dtype=store_dtype)
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


def is_half_stored(component: str, name: str, shape: tuple[int, ...]) -> bool:
    """Whether the fp16 store keeps this tensor in float16: a prior's transformer weight matrix."""
    return component != "vqvae" and ".transformer._attn_mods." in f".{name}" and name.endswith(".weight") and len(
        shape
    ) >= 2


def _specs(source: TensorSource, names: Iterable[str]) -> dict[str, tuple[torch.dtype, tuple[int, ...]]] | None:
    """(dtype, shape) of every tensor when known without loading it, else None."""
    if not all(n in source.dtypes for n in names):
        return None
    return {n: (source.dtypes[n], source.shapes[n]) for n in names}


def _write_entry(
    folder: Path, name: str, parts: _Parts, report: Progress, *, untrained: bool, store_dtype: str = "fp32"
) -> None:
    sizes = {component: _nbytes(source) for component, source in parts.sources.items()}
    total = sum(sizes.values()) or 1
    # said before writing: a disk known to be too small is refused up front (fp16 at most halves it)
    needed = total if store_dtype == "fp32" else total // 2
    free = shutil.disk_usage(folder).free
    if free < needed + (1 << 20):
        raise OSError(
            errno.ENOSPC,
            f"importing {name} needs {needed / 1e6:,.0f} MB but only {free / 1e6:,.0f} MB are free on that disk",
            str(folder.parent),
        )
    done = 0
    components: dict[str, Any] = {}

    def advance(nbytes: int) -> None:
        nonlocal done
        done += nbytes
        report(0.05 + 0.9 * min(done / total, 1.0), f"writing {name}")

    for component in COMPONENTS:
        source = parts.sources.get(component)
        if source is None:
            continue
        tensors = _stored_tensors(component, parts.config, source, folder)
        specs = _specs(source, tensors)
        if store_dtype == "fp16":
            for tensor_name, loader in list(tensors.items()):
                if is_half_stored(component, tensor_name, source.shapes[tensor_name]):
                    tensors[tensor_name] = lambda loader=loader: loader().to(torch.float16)
                    if specs is not None and specs[tensor_name][0].is_floating_point:
                        specs[tensor_name] = (torch.float16, specs[tensor_name][1])
        if specs is not None:
            dtypes = sorted({str(d).removeprefix("torch.") for d, _ in specs.values()})
        else:
            dtypes = sorted({str(tensors[n]().dtype).removeprefix("torch.") for n in tensors})
        file_name = f"{component}.safetensors"
        written_before = done
        digest, size = write_safetensors(
            folder / file_name,
            tensors,
            metadata={"format": "pt", "component": component},
            on_bytes=advance,
            specs=specs,
        )
        done = written_before + sizes[component]  # an fp16 store writes fewer bytes than it reads
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
        "store_dtype": store_dtype,
        "components": components,
        "sources": sorted({s for c in components.values() for s in c["sources"]}),
    }
    atomic_write_json(folder / MANIFEST, manifest)


def _nbytes(source: TensorSource) -> int:
    specs = _specs(source, list(source))
    if specs is not None:
        return sum(d.itemsize * _numel(shape) for d, shape in specs.values())
    return sum(source.get(n).numel() * source.get(n).element_size() for n in source)


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for s in shape:
        count *= s
    return count


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
    report = progress or (lambda f, m: None)
    publish_entry(name, lambda staging: _write_entry(staging, name, parts, report, untrained=untrained))
    return model_info(name)


# ----------------------------------------------------------------------------------------------
# Reading entries


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
