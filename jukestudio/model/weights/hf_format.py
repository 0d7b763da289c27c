"""Hugging Face Jukebox model folders: ``config.json`` + weights, names used as they are.

Weights may be ``model.safetensors``, ``pytorch_model.bin``, or either one sharded with a
``*.index.json``. safetensors stay memory-mapped; zip-format ``.bin`` files are read tensor by tensor
when a loader is called (``zip_stream``), legacy ones through ``read_checkpoint``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

from jukestudio.model.config import ConfigError, JukeboxConfig
from jukestudio.model.weights.catalog import is_hf_folder  # noqa: F401 (re-exported)
from jukestudio.model.weights.errors import CheckpointError
from jukestudio.model.weights.modules import COMPONENTS, check_state
from jukestudio.model.weights.safe_pickle import read_checkpoint
from jukestudio.model.weights.zip_stream import is_zip_checkpoint, stream_zip_checkpoint

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass
class TensorSource:
    """Lazily opened tensors of one component: name → loader."""

    loaders: dict[str, Callable[[], torch.Tensor]] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    files: set[Path] = field(default_factory=set)
    dtypes: dict[str, torch.dtype] = field(default_factory=dict)  # when known without loading (streamed .bin)

    def __contains__(self, name: str) -> bool:
        return name in self.loaders

    def __iter__(self) -> Iterator[str]:
        return iter(self.loaders)

    def get(self, name: str) -> torch.Tensor:
        return self.loaders[name]()

    @classmethod
    def from_state(cls, state: Mapping[str, torch.Tensor]) -> TensorSource:
        """Tensors already in memory (or memory-mapped), e.g. a renamed original state dict."""
        source = cls()
        for name, tensor in state.items():
            source.loaders[name] = lambda tensor=tensor: tensor
            source.shapes[name] = tuple(tensor.shape)
        return source


class _ShapeOnly:
    """Stands in for a tensor where only ``.shape`` is needed (key-set checks)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def shape_view(source: TensorSource) -> dict[str, _ShapeOnly]:
    return {name: _ShapeOnly(shape) for name, shape in source.shapes.items()}


def _weight_files(folder: Path) -> list[Path]:
    """The weight files of a folder, shards resolved through their index."""
    for single in WEIGHT_FILES:
        if (folder / single).is_file():
            return [folder / single]
    for single in WEIGHT_FILES:
        index = folder / f"{single}.index.json"
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(index, f"not a readable shard index ({exc})") from None
            names = sorted(set(weight_map.values()))
            if any(Path(n).name != n for n in names):  # a shard must sit in the folder itself
                raise CheckpointError(index, "names a shard outside its folder")
            missing = [n for n in names if not (folder / n).is_file()]
            if missing:
                raise CheckpointError(index, f"shard file(s) missing: {', '.join(missing)}")
            return [folder / n for n in names]
    raise CheckpointError(folder, f"no weights found (expected {' or '.join(WEIGHT_FILES)}, or a sharded index)")


def _open_safetensors(path: Path, sink: Callable[[str, tuple[int, ...], Callable[[], torch.Tensor]], None]) -> None:
    try:
        handle = safe_open(str(path), framework="pt", device="cpu")
        names = list(handle.keys())
        shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in names}
    except Exception as exc:  # safetensors raises its own SafetensorError for damaged headers
        raise CheckpointError(path, f"not a readable safetensors file ({exc})") from None
    for name in names:
        sink(name, shapes[name], lambda name=name: handle.get_tensor(name))


def open_safetensors(path: Path) -> TensorSource:
    """One safetensors file as a source (names as stored)."""
    source = TensorSource()

    def sink(name: str, shape: tuple[int, ...], loader: Callable[[], torch.Tensor]) -> None:
        source.loaders[name] = loader
        source.shapes[name] = shape

    _open_safetensors(path, sink)
    source.files.add(path)
    return source


def _open_bin(path: Path, sink: Callable[..., None]) -> None:
    if is_zip_checkpoint(path):
        # read tensor by tensor (bounded memory; converting a 10 GB shard must not map all of it)
        for name, streamed in stream_zip_checkpoint(path).items():
            sink(name, streamed.shape, streamed.load, streamed.dtype)
        return
    data = read_checkpoint(path)
    if isinstance(data, Mapping) and isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]
    if not isinstance(data, Mapping):
        raise CheckpointError(path, "does not hold a state dict")
    for name, value in data.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(path, f"entry {name!r} is not a tensor")
        sink(str(name), tuple(value.shape), lambda value=value: value)


def split_components(files: list[Path], where: Path) -> dict[str, TensorSource]:
    """Group the tensors of whole-model files by component (``vqvae.*``, ``priors.{p}.*``)."""
    sources: dict[str, TensorSource] = {}
    unexpected: list[str] = []

    for path in files:

        def sink(
            name: str,
            shape: tuple[int, ...],
            loader: Callable[[], torch.Tensor],
            dtype: torch.dtype | None = None,
            path: Path = path,
        ) -> None:
            component, local = _component_key(name)
            if component is None:
                unexpected.append(name)
                return
            source = sources.setdefault(component, TensorSource())
            source.loaders[local] = loader
            source.shapes[local] = shape
            if dtype is not None:
                source.dtypes[local] = dtype
            source.files.add(path)

        if path.suffix == ".safetensors":
            _open_safetensors(path, sink)
        else:
            _open_bin(path, sink)
    if unexpected:
        raise CheckpointError(where, "keys outside vqvae.* and priors.{0,1,2}.*", unexpected=unexpected)
    return sources


def _component_key(name: str) -> tuple[str | None, str]:
    if name.startswith("vqvae."):
        return "vqvae", name[len("vqvae.") :]
    if name.startswith("priors."):
        index, _, local = name[len("priors.") :].partition(".")
        if f"prior_{index}" in COMPONENTS and local:
            return f"prior_{index}", local
    return None, name


def read_hf_folder(folder: str | Path) -> tuple[JukeboxConfig, dict[str, TensorSource]]:
    """Config and per-component tensor sources of an HF folder, checked against the model's key set."""
    folder = Path(folder)
    try:
        config = JukeboxConfig.from_pretrained(folder)
    except ConfigError as exc:  # the message starts with the file's path already
        raise CheckpointError(folder / "config.json", str(exc).removeprefix(f"{folder / 'config.json'}: ")) from None
    sources = split_components(_weight_files(folder), folder)
    if not sources:
        raise CheckpointError(folder, "the weights hold no Jukebox tensors")
    missing: list[str] = []
    unexpected: list[str] = []
    mismatched: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    for component, source in sources.items():  # gather every component's problems into one error
        prefix = "vqvae." if component == "vqvae" else f"priors.{component[-1]}."
        try:
            check_state(shape_view(source), config, component, folder)
        except CheckpointError as exc:
            missing += [prefix + k for k in exc.missing]
            unexpected += [prefix + k for k in exc.unexpected]
            mismatched.update({prefix + k: v for k, v in exc.mismatched.items()})
    if missing or unexpected or mismatched:
        files = sorted({f for s in sources.values() for f in s.files})
        raise CheckpointError(
            files[0] if len(files) == 1 else folder,
            "the weights do not fit the model its config.json describes",
            missing=missing,
            unexpected=unexpected,
            mismatched=mismatched,
        )
    return config, sources
