"""Write safetensors files one tensor at a time (hashing as we go), and hash existing files.

``safetensors.torch.save_file`` first turns every tensor into ``bytes``: for a 10 GB prior that
is a second 10 GB in RAM. The format is simple (8-byte header length, JSON header, raw data),
so we stream it ourselves; the files are read back with ``safetensors.safe_open``.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from jukestudio.atomic import atomic_path

_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_CHUNK = 64 << 20  # bytes per write: bounded memory for the contiguous copy of a strided tensor


def _raw_bytes(tensor: torch.Tensor) -> memoryview:
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy()) if flat.numel() else memoryview(b"")


def write_safetensors(
    target: str | Path,
    tensors: Mapping[str, Callable[[], torch.Tensor]],
    metadata: Mapping[str, str] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    specs: Mapping[str, tuple[torch.dtype, tuple[int, ...]]] | None = None,
) -> tuple[str, int]:
    """Write ``name → tensor loader`` atomically; returns (sha256 hex of the file, size in bytes).

    Loaders are called twice (header, then data) so nothing is held between tensors — once only
    when ``specs`` gives every tensor's (dtype, shape) up front (loaders that read from disk).
    """
    header: dict[str, object] = {}
    offset = 0
    names = sorted(tensors)
    for name in names:
        if specs is not None and name in specs:
            dtype, shape = specs[name]
        else:
            tensor = tensors[name]()
            dtype, shape = tensor.dtype, tuple(tensor.shape)
        if dtype not in _DTYPES:
            raise ValueError(f"{name}: dtype {dtype} cannot be stored")
        numel = 1
        for s in shape:
            numel *= s
        nbytes = numel * dtype.itemsize
        header[name] = {
            "dtype": _DTYPES[dtype],
            "shape": list(shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # data starts 8-byte aligned
    digest = hashlib.sha256()
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        for chunk in (struct.pack("<Q", len(head)), head):
            handle.write(chunk)
            digest.update(chunk)
        for name in names:
            data = _raw_bytes(tensors[name]())
            if len(data) != header[name]["data_offsets"][1] - header[name]["data_offsets"][0]:  # type: ignore[index]
                raise ValueError(f"{name}: the tensor does not match its declared dtype and shape")
            for start in range(0, len(data), _CHUNK):
                piece = data[start : start + _CHUNK]
                handle.write(piece)
                digest.update(piece)
            if on_bytes is not None:
                on_bytes(len(data))
        size = handle.tell()
    return digest.hexdigest(), size


def sha256_file(path: str | Path, on_bytes: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest()
