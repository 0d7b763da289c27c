"""Hand-made hostile checkpoint bytes: raw pickle opcodes, the legacy torch format and torch's zip layout."""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from typing import Any

import torch

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
PROTO = b"\x80\x02"


def text(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def nested_dicts(depth: int) -> bytes:
    """Opcodes (no PROTO/STOP) building {'a': {'a': ... None}} ``depth`` levels deep, iteratively."""
    return (b"}" + text("a")) * depth + b"N" + b"s" * depth


def nested_lists(depth: int) -> bytes:
    return b"]" * depth + b"a" * (depth - 1)


def checkpoint_pickle(hps: bytes, model: bytes = b"}") -> bytes:
    """{'hps': <hps opcodes>, 'model': <model opcodes>} as a whole pickle."""
    return PROTO + b"}(" + text("hps") + hps + text("model") + model + b"u."


def legacy_file(
    main: bytes, keys: list[str] | None = None, storages: bytes = b"", headers: bytes | None = None
) -> bytes:
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    head = (
        headers
        if headers is not None
        else (pickle.dumps(LEGACY_MAGIC, 2) + pickle.dumps(1001, 2) + pickle.dumps(sys_info, 2))
    )
    return head + main + pickle.dumps(keys or [], 2) + storages


def zip_file(main: bytes, storages: dict[str, bytes] | None = None, compression: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        archive.writestr("archive/data.pkl", main)
        archive.writestr("archive/byteorder", b"little")
        archive.writestr("archive/version", b"3\n")
        for key, data in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", data)
    return out.getvalue()


class Storage:
    def __init__(self, key: str, numel: int, legacy: bool) -> None:
        self.key, self.numel, self.legacy = key, numel, legacy


class Tensor:
    """Pickles like a torch tensor over ``storage`` with any size/stride/offset (honest or not)."""

    def __init__(self, storage: Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.args = (storage, offset, size, stride)

    def __reduce__(self) -> Any:
        storage, offset, size, stride = self.args
        return (torch._utils._rebuild_tensor_v2, (storage, offset, size, stride, False, collections.OrderedDict()))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Storage):
            record = ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
            return (*record, None) if obj.legacy else record
        return None


def pickle_with_tensors(obj: Any) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=2).dump(obj)
    return out.getvalue()


def tensor_checkpoint(
    legacy: bool,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    offset: int = 0,
    numel: int = 4,
    data_elems: int | None = None,
) -> bytes:
    """A checkpoint with one tensor 'w' viewing a storage of ``numel`` floats (``data_elems`` really stored)."""
    storage = Storage("0", numel, legacy)
    main = pickle_with_tensors({"hps": {"level": 0}, "model": {"w": Tensor(storage, offset, size, stride)}})
    stored = numel if data_elems is None else data_elems
    data = b"\0" * (4 * stored)
    if legacy:
        return legacy_file(main, ["0"], struct.pack("<q", stored) + data)
    return zip_file(main, {"0": data})


def global_call(module: str, name: str, arg: str = "echo owned") -> bytes:
    """Opcodes calling module.name(arg) — what a malicious pickle does."""
    return f"c{module}\n{name}\n".encode() + text(arg) + b"\x85R"
