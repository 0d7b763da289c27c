"""Read a zip-format ``torch.save`` file one tensor at a time, with bounded memory.

``read_checkpoint`` memory-maps the whole file: fine for loading, but converting a 10 GB shard that
way touches every page of the map, and the resident set grows to the shard's size. Here only the
small ``data.pkl`` is unpickled (through the restricted unpickler of ``safe_pickle``: nothing is
imported or run), giving each tensor's storage, offset, shape and stride; a tensor's bytes are read
with plain reads when its loader is called and dropped after. Memory is bounded by the largest
tensor (a few hundred MB for the 5B prior), not by the file.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from jukestudio.model.weights.errors import CheckpointError

# The restricted unpickler and its records are safe_pickle's (one home for what may be unpickled).
from jukestudio.model.weights.safe_pickle import (
    _check_memo,
    _Refused,
    _RestrictedUnpickler,
    _TensorSpec,
    refused_error,
)

_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class StreamedTensor:
    """Where one tensor's bytes are in the file; ``load()`` reads them (a fresh tensor each call)."""

    path: Path
    dtype: torch.dtype
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    byte_start: int  # of the tensor's first element in the file
    span: int  # elements from the first to one past the last (contiguous: numel)

    def load(self) -> torch.Tensor:
        numel = 1
        for s in self.shape:
            numel *= s
        if numel == 0:
            return torch.empty(self.shape, dtype=self.dtype)
        nbytes = self.span * self.dtype.itemsize
        buffer = bytearray(nbytes)
        view, done = memoryview(buffer), 0
        with open(self.path, "rb", buffering=0) as handle:
            handle.seek(self.byte_start)
            while done < nbytes:
                got = handle.readinto(view[done:])
                if not got:
                    raise CheckpointError(self.path, "the file is truncated (tensor data cut short)")
                done += got
        flat = torch.frombuffer(buffer, dtype=self.dtype)
        if self.stride == _contiguous_strides(self.shape):
            return flat.view(self.shape)
        return flat.as_strided(self.shape, self.stride).contiguous()  # e.g. a saved transposed view


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def is_zip_checkpoint(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == _ZIP_MAGIC


def stream_zip_checkpoint(path: str | Path) -> dict[str, StreamedTensor]:
    """``name → StreamedTensor`` of a zip-format state dict (a ``{"state_dict": ...}`` wrapper is opened).

    Raises CheckpointError naming the file for anything that is not such a file, and
    UnsafeCheckpointError for a pickle that would call code.
    """
    path = Path(path)
    try:
        return _index(path)
    except _Refused as exc:
        raise refused_error(path, exc) from None
    except CheckpointError:
        raise
    except Exception as exc:  # a damaged zip or pickle fails in many ways; each means "corrupt"
        raise CheckpointError(path, f"corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None


def _index(path: Path) -> dict[str, StreamedTensor]:
    size = path.stat().st_size
    with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("data.pkl")]
        if len(pkl) != 1:
            raise CheckpointError(path, "a zip file without exactly one data.pkl (not a PyTorch checkpoint)")
        prefix = pkl[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder") != b"little":
            raise CheckpointError(path, "big-endian checkpoints are not supported")
        if any(i.compress_type != zipfile.ZIP_STORED for i in archive.infolist()):
            raise CheckpointError(path, "a compressed zip: not a file torch.save wrote")
        pickled = archive.read(pkl[0])
        _check_memo(io.BytesIO(pickled))
        unpickler = _RestrictedUnpickler(io.BytesIO(pickled), zip_format=True)
        result: Any = unpickler.load()
        starts: dict[str, int] = {}
        for key, ref in unpickler.storages.items():
            try:
                info = archive.getinfo(f"{prefix}data/{key}")
            except KeyError:
                raise CheckpointError(path, f"corrupt checkpoint (storage {key} is missing)") from None
            if info.file_size < ref.numel * ref.dtype.itemsize:
                raise CheckpointError(path, f"corrupt checkpoint (storage {key} is too short)")
            raw.seek(info.header_offset)
            local = raw.read(30)
            if len(local) < 30 or local[:4] != _ZIP_MAGIC:
                raise CheckpointError(path, f"corrupt checkpoint (bad zip entry for storage {key})")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            if start + ref.numel * ref.dtype.itemsize > size:
                raise CheckpointError(path, "the file is truncated")
            starts[key] = start
    if isinstance(result, Mapping) and isinstance(result.get("state_dict"), Mapping):
        result = result["state_dict"]
    if not isinstance(result, Mapping):
        raise CheckpointError(path, "does not hold a state dict")
    tensors: dict[str, StreamedTensor] = {}
    for name, spec in result.items():
        if not isinstance(spec, _TensorSpec):
            raise CheckpointError(path, f"entry {name!r} is not a tensor")
        tensors[str(name)] = _locate(path, spec, starts[spec.storage.key])
    return tensors


def _locate(path: Path, spec: _TensorSpec, storage_start: int) -> StreamedTensor:
    ref = spec.storage
    offset = ref.elem_offset + spec.offset
    if offset < 0 or min(spec.size, default=0) < 0 or min(spec.stride, default=0) < 0:
        raise CheckpointError(path, "a tensor reaches outside its storage")
    span = sum((s - 1) * st for s, st in zip(spec.size, spec.stride)) + 1 if all(spec.size) else 0
    if offset + span > ref.numel:
        raise CheckpointError(path, "a tensor reaches outside its storage")
    return StreamedTensor(
        path, ref.dtype, spec.size, spec.stride, storage_start + offset * ref.dtype.itemsize, span
    )


def loaders(tensors: Mapping[str, StreamedTensor]) -> dict[str, Callable[[], torch.Tensor]]:
    return {name: t.load for name, t in tensors.items()}
