"""Read PyTorch checkpoint files without ever running code from them.

``read_checkpoint(path)`` first asks ``torch.load(weights_only=True, mmap=True)`` for zip files.
The released Jukebox files hold a pickled ``jukebox.hparams.Hyperparams`` object, which
weights_only refuses; those, and every legacy-format file, are read by our own restricted
unpickler. (For the legacy format ``torch.load`` can neither memory-map nor be trusted with sizes:
it allocates each storage at the size the file claims before reading it.) Our reader

* knows both torch formats: the legacy one (several pickles followed by raw storages, what
  PyTorch 1.4 wrote) and the zip one;
* rebuilds tensors from storages itself (memory-mapping the file, so a 10 GB prior is not read
  into RAM) and allows only ``OrderedDict``, ``torch.Size`` and the tensor rebuild functions;
* turns every other global into an inert placeholder class: instances made by ``NEWOBJ`` /
  ``copyreg._reconstructor`` just record their state (that is how a dict subclass such as
  ``Hyperparams`` is pickled) — and *calling* such a global (``os.system(...)`` through
  ``__reduce__``) is refused with :class:`UnsafeCheckpointError`. Nothing is imported.
"""

from __future__ import annotations

import io
import logging
import mmap
import os
import pickle
import pickletools
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from jukestudio import limits
from jukestudio.fileguard import UnusableFileError, open_regular
from jukestudio.model.weights.errors import CheckpointError, UnsafeCheckpointError

log = logging.getLogger(__name__)

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_ZIP_MAGIC = b"PK\x03\x04"

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "UntypedStorage": torch.uint8,
}


# ----------------------------------------------------------------------------------------------
# Inert stand-ins for what the pickle describes


class _Refused(Exception):
    """Raised inside the unpickler; turned into UnsafeCheckpointError with the file name."""


class _OpaqueMeta(type):
    """Metaclass of placeholder classes: building an instance from a call is code execution, so refuse."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise _Refused(f"{cls.global_name}(...)")


class Opaque(dict, metaclass=_OpaqueMeta):
    """An object of a class we do not import. Records what the pickle gave it; never runs anything.

    It is a dict subclass so that ``SETITEMS`` (how dict subclasses like ``Hyperparams`` are
    pickled) fills it; ``BUILD`` state lands in ``opaque_state``.
    """

    global_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Opaque:
        inst = dict.__new__(cls)
        inst.opaque_args = args
        inst.opaque_state = None
        return inst

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # never called by the unpickler
        pass

    def __setstate__(self, state: Any) -> None:
        self.opaque_state = state

    def __reduce__(self) -> Any:  # pragma: no cover - we never pickle these
        raise TypeError("placeholder objects are not picklable")


class _TooDeep(Exception):
    """Containers nest deeper than limits.MAX_PICKLE_DEPTH (checked before recursing further)."""


def to_plain(obj: Any, _depth: int = 0) -> Any:
    """Placeholders → plain dicts (their items plus dict state), recursively through containers.

    Raises ValueError for containers nested deeper than ``limits.MAX_PICKLE_DEPTH``.
    """
    if _depth > limits.MAX_PICKLE_DEPTH:
        raise ValueError(f"the data nests deeper than {limits.MAX_PICKLE_DEPTH} levels")
    if isinstance(obj, Opaque):
        out = {str(k): to_plain(v, _depth + 1) for k, v in obj.items()}
        if isinstance(obj.opaque_state, dict):
            for key, value in obj.opaque_state.items():
                out.setdefault(str(key), to_plain(value, _depth + 1))
        return out
    if isinstance(obj, dict):
        return {k: to_plain(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, _depth + 1) for v in obj]
    return obj


@dataclass(frozen=True)
class _StorageType:
    dtype: torch.dtype


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: torch.dtype
    numel: int  # of the root storage
    elem_offset: int = 0  # legacy storage views


@dataclass(frozen=True)
class _TensorSpec:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    parameter: bool = False


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) for v in value):
        raise _Refused(f"bad tensor {what} {value!r}")
    return tuple(value)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> _TensorSpec:
    if not isinstance(storage, _StorageRef) or not isinstance(storage_offset, int):
        raise _Refused("a tensor rebuilt from something that is not a storage")
    return _TensorSpec(storage, storage_offset, _ints(size, "size"), _ints(stride, "stride"))


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    if not isinstance(data, _TensorSpec):
        raise _Refused("a parameter rebuilt from something that is not a tensor")
    return _TensorSpec(data.storage, data.offset, data.size, data.stride, parameter=True)


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` limited to placeholder classes over dict/object (protocol 0/1 pickles)."""
    if isinstance(cls, _OpaqueMeta) and base in (object, dict):
        return cls.__new__(cls)
    raise _Refused(f"copyreg._reconstructor({cls!r}, {base!r})")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch", "Size"): torch.Size,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, zip_format: bool) -> None:
        super().__init__(file)
        self.zip_format = zip_format
        self.storages: dict[str, _StorageRef] = {}
        self.placeholders: dict[str, type] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module in ("torch", "torch.storage") and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        allowed = _ALLOWED.get((module, name))
        if allowed is not None:
            return allowed
        full = f"{module}.{name}"
        if full not in self.placeholders:
            log.debug("checkpoint pickle names %s: kept as an inert placeholder", full)
            self.placeholders[full] = _OpaqueMeta(name, (Opaque,), {"global_name": full})
        return self.placeholders[full]

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise _Refused(f"an unknown persistent object {pid[:1]!r} (not a weights file)")
        if self.zip_format:
            if len(pid) != 5:
                raise _Refused("a malformed storage record")
            _, stype, key, _location, numel = pid
            view = None
        else:
            if len(pid) != 6:
                raise _Refused("a malformed storage record")
            _, stype, key, _location, numel, view = pid
        if not isinstance(stype, _StorageType) or not isinstance(numel, int) or numel < 0:
            raise _Refused("a malformed storage record")
        key = str(key)
        root = self.storages.setdefault(key, _StorageRef(key, stype.dtype, numel))
        if view is not None:
            _view_key, offset, _size = view
            return _StorageRef(key, root.dtype, root.numel, int(offset))
        return root


class _NoGlobalsUnpickler(pickle.Unpickler):
    """For the small header pickles of the legacy format: plain data only."""

    def find_class(self, module: str, name: str) -> Any:
        raise _Refused(f"{module}.{name} in a header record")


# ----------------------------------------------------------------------------------------------
# Storage bytes


class _FileMap:
    """A private (copy-on-write) map of the whole file; tensors view it without copying."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            self.size = handle.seek(0, io.SEEK_END)
            self.map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY) if self.size else None

    def tensor(self, byte_offset: int, dtype: torch.dtype, numel: int) -> torch.Tensor:
        if numel == 0:
            return torch.empty(0, dtype=dtype)
        return torch.frombuffer(self.map, dtype=dtype, count=numel, offset=byte_offset)


class _BoundedReader:
    """File-like view of the map for the unpickler: a damaged length field cannot make it allocate
    more than the file holds (a plain file's ``read(n)`` would try to allocate n bytes first)."""

    def __init__(self, fmap: _FileMap, pos: int = 0, max_bytes: int | None = None) -> None:
        self.map, self.pos = fmap.map, pos
        self.size = fmap.size if max_bytes is None else min(fmap.size, pos + max_bytes)
        self.capped = max_bytes is not None and pos + max_bytes < fmap.size

    def read(self, n: int = -1) -> bytes:
        end = self.size if n < 0 else self.pos + n
        if end > self.size:
            if self.capped:
                raise _TooBig("a pickle record is larger than the reader allows")
            raise EOFError("a record reaches past the end of the file")
        data = self.map[self.pos : end]
        self.pos = end
        return data

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        end = self.map.find(b"\n", self.pos)
        end = self.size if end < 0 else end + 1
        data = self.map[self.pos : end]
        self.pos = end
        return data

    def tell(self) -> int:
        return self.pos


class _TooBig(Exception):
    """A pickle exceeds one of the bounds in jukestudio.limits (size, opcodes, memo)."""


_MEMO_OPS = {"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}


def _check_memo(stream: Any) -> None:
    """Scan one pickle's opcodes (nothing is built) against the bounds before unpickling it.

    CPython's unpickler grows its memo table to a stored index before use: one damaged 4-byte
    index makes it allocate gigabytes. Real pickles number memo entries 0, 1, 2, ... The number of
    opcodes bounds the objects the pickle can build; the stream's reader bounds its bytes.
    """
    stored = 0
    for count, (opcode, arg, _pos) in enumerate(pickletools.genops(stream)):
        if count > limits.MAX_PICKLE_OPS:
            raise _TooBig(f"more than {limits.MAX_PICKLE_OPS:,} pickle opcodes")
        if opcode.name in _MEMO_OPS and isinstance(arg, int) and arg > stored + 1:
            raise ValueError(f"memo index {arg} out of range")
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            stored += 1
            if stored > limits.MAX_PICKLE_MEMO:
                raise _TooBig(f"more than {limits.MAX_PICKLE_MEMO:,} memo entries")


def _check_view(numel: int, storage_numel: int, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
    """Refuse a tensor view before it is made: outside its storage, overlapping, or absurdly large.

    Weights never overlap themselves; a zero-stride view can claim 400 GB over one float, and
    whoever copies it (the store) would allocate that.
    """
    if offset < 0 or min(size, default=0) < 0 or min(stride, default=0) < 0 or len(size) != len(stride):
        raise ValueError("a tensor with a negative offset, size or stride")
    if numel > limits.MAX_TENSOR_ELEMENTS:
        raise ValueError(f"a tensor of {numel:,} elements (the limit is {limits.MAX_TENSOR_ELEMENTS:,})")
    needed = offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1 if numel else 0
    if needed > storage_numel:
        raise ValueError("a tensor reaches outside its storage")
    if numel > storage_numel:
        raise ValueError(f"a tensor view of {numel:,} elements over a storage of {storage_numel:,} (overlapping)")


def _numel(size: tuple[int, ...]) -> int:
    total = 1
    for s in size:
        total *= s
    return total


def _materialise(obj: Any, roots: dict[str, torch.Tensor], depth: int = 0) -> Any:
    if depth > limits.MAX_PICKLE_DEPTH:
        raise _TooDeep()
    if isinstance(obj, _TensorSpec):
        root = roots[obj.storage.key]
        offset = obj.storage.elem_offset + obj.offset
        _check_view(_numel(obj.size), root.numel(), offset, obj.size, obj.stride)
        return root.as_strided(obj.size, obj.stride, offset)
    if isinstance(obj, Opaque):
        for key in list(obj):
            dict.__setitem__(obj, key, _materialise(obj[key], roots, depth + 1))
        return obj
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _materialise(obj[key], roots, depth + 1)
        return obj
    if isinstance(obj, list):
        return [_materialise(v, roots, depth + 1) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v, roots, depth + 1) for v in obj)
    return obj


def _check_loaded(obj: Any, depth: int = 0) -> None:
    """What ``torch.load`` returned: the same nesting and view bounds as our own reader applies."""
    if depth > limits.MAX_PICKLE_DEPTH:
        raise _TooDeep()
    if isinstance(obj, torch.Tensor):
        storage = obj.untyped_storage()
        elems = storage.nbytes() // max(1, obj.element_size())
        _check_view(obj.numel(), elems, obj.storage_offset(), tuple(obj.shape), tuple(obj.stride()))
    elif isinstance(obj, dict):
        for value in obj.values():
            _check_loaded(value, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for value in obj:
            _check_loaded(value, depth + 1)


def _load_header(fmap: _FileMap, handle: _BoundedReader) -> Any:
    """One small header record of the legacy format, scanned against the bounds before it is built."""
    _check_memo(_BoundedReader(fmap, handle.tell(), limits.MAX_HEADER_PICKLE_BYTES))
    return _NoGlobalsUnpickler(handle).load()


def _read_legacy(path: Path, fmap: _FileMap) -> Any:
    handle = _BoundedReader(fmap)
    if _load_header(fmap, handle) != _LEGACY_MAGIC:
        raise CheckpointError(path, "not a PyTorch checkpoint (bad magic number)")
    _load_header(fmap, handle)  # protocol version
    _load_header(fmap, handle)  # sys info: endianness, type sizes
    _check_memo(_BoundedReader(fmap, handle.tell(), limits.MAX_PICKLE_BYTES))
    unpickler = _RestrictedUnpickler(handle, zip_format=False)
    result = unpickler.load()
    _check_memo(_BoundedReader(fmap, handle.tell(), limits.MAX_PICKLE_BYTES))
    keys = _NoGlobalsUnpickler(handle).load()
    offset = handle.tell()
    if not isinstance(keys, list):
        raise CheckpointError(path, "corrupt legacy checkpoint (no storage list)")
    roots: dict[str, torch.Tensor] = {}
    for key in keys:
        ref = unpickler.storages.get(str(key))
        if ref is None:
            raise CheckpointError(path, f"corrupt legacy checkpoint (unknown storage {key!r})")
        if offset + 8 > fmap.size:
            raise CheckpointError(path, "the file is truncated (storage data missing)")
        (numel,) = struct.unpack("<q", fmap.map[offset : offset + 8])
        nbytes = numel * ref.dtype.itemsize
        if numel != ref.numel:
            raise CheckpointError(path, f"corrupt legacy checkpoint (storage {key} has {numel} != {ref.numel})")
        if offset + 8 + nbytes > fmap.size:
            raise CheckpointError(path, "the file is truncated (storage data cut short)")
        roots[ref.key] = fmap.tensor(offset + 8, ref.dtype, numel)
        offset += 8 + nbytes
    missing = set(unpickler.storages) - set(roots)
    if missing:
        raise CheckpointError(path, f"corrupt legacy checkpoint ({len(missing)} storages have no data)")
    return _materialise(result, roots)


def _check_zip(path: Path, archive: zipfile.ZipFile, file_size: int) -> str:
    """The zip's directory against the bounds, before any member is read; returns data.pkl's name."""
    infos = archive.infolist()
    if len(infos) > limits.MAX_ZIP_MEMBERS:
        raise CheckpointError(path, f"a zip of {len(infos):,} members: not a PyTorch checkpoint")
    pkl = [i for i in infos if i.filename.endswith("data.pkl")]
    if len(pkl) != 1:
        raise CheckpointError(path, "a zip file without exactly one data.pkl (not a PyTorch checkpoint)")
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        # torch never compresses; refusing compression also rules out decompression bombs
        raise CheckpointError(path, "a compressed zip: not a file torch.save wrote")
    if pkl[0].file_size > limits.MAX_PICKLE_BYTES:
        raise CheckpointError(
            path, f"its data.pkl is {pkl[0].file_size:,} bytes (at most {limits.MAX_PICKLE_BYTES:,}); not read"
        )
    for info in infos:
        if info.header_offset + info.file_size > file_size:
            raise CheckpointError(path, f"the file is truncated ({info.filename} reaches past its end)")
    return pkl[0].filename


def _check_zip_entry_count(path: Path) -> None:
    """The entry count in the end record, before ``ZipFile`` builds one object per entry."""
    with open(path, "rb") as handle:
        end = zipfile._EndRecData(handle)  # the stdlib's own end-record reader (reads at most 64 KB)
    if end is None:
        raise CheckpointError(path, "a zip file without its directory (truncated?)")
    if end[zipfile._ECD_ENTRIES_TOTAL] > limits.MAX_ZIP_MEMBERS:
        raise CheckpointError(
            path, f"a zip of {end[zipfile._ECD_ENTRIES_TOTAL]:,} members: not a PyTorch checkpoint; not read"
        )


def _read_zip(path: Path, fmap: _FileMap) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl_name = _check_zip(path, archive, fmap.size)
        prefix = pkl_name[: -len("data.pkl")]
        if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder")[:16] != b"little":
            raise CheckpointError(path, "big-endian checkpoints are not supported")
        pickled = archive.read(pkl_name)
        _check_memo(io.BytesIO(pickled))
        unpickler = _RestrictedUnpickler(io.BytesIO(pickled), zip_format=True)
        result = unpickler.load()
        roots: dict[str, torch.Tensor] = {}
        for key, ref in unpickler.storages.items():
            try:
                info = archive.getinfo(f"{prefix}data/{key}")
            except KeyError:
                raise CheckpointError(path, f"corrupt checkpoint (storage {key} is missing)") from None
            nbytes = ref.numel * ref.dtype.itemsize
            if info.file_size < nbytes:
                raise CheckpointError(path, f"corrupt checkpoint (storage {key} is too short)")
            local = fmap.map[info.header_offset : info.header_offset + 30]
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            if start + nbytes > fmap.size:
                raise CheckpointError(path, "the file is truncated")
            roots[key] = fmap.tensor(start, ref.dtype, ref.numel)
    return _materialise(result, roots)


def refused_error(path: Path, refused: Exception) -> UnsafeCheckpointError:
    """The error for a pickle that asked to run code (``_Refused``): nothing of it ran."""
    return UnsafeCheckpointError(
        path,
        f"refused: the file's pickle asks to run {refused} — not a plain weights file. Nothing from it was executed.",
    )


def _restricted_read(path: Path, head: bytes) -> Any:
    fmap = _FileMap(path)
    try:
        if head.startswith(_ZIP_MAGIC):
            return _read_zip(path, fmap)
        return _read_legacy(path, fmap)
    except _Refused as exc:
        raise refused_error(path, exc) from None
    except CheckpointError:
        raise
    except (_TooBig, _TooDeep, RecursionError, MemoryError) as exc:
        raise CheckpointError(path, _bound_message(exc)) from None
    except Exception as exc:  # a damaged pickle can fail in many ways; each means "corrupt"
        raise CheckpointError(path, f"corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None


def _bound_message(exc: BaseException) -> str:
    if isinstance(exc, (_TooDeep, RecursionError)):
        what = f"its data nests deeper than {limits.MAX_PICKLE_DEPTH} levels"
    elif isinstance(exc, MemoryError):
        what = "reading it ran out of memory"
    else:
        what = str(exc)
    return f"refused: {what} — not a weights file jukestudio can read (limits in jukestudio/limits.py)"


def _looks_like_torch(head: bytes) -> bool:
    return head.startswith(_ZIP_MAGIC) or head.startswith(b"\x80\x02\x8a\x0a")


def read_checkpoint(path: str | Path) -> Any:
    """The unpickled content of a ``torch.save`` file: tensors, containers, placeholders for the rest.

    Raises CheckpointError (naming the file) for anything that is not a readable checkpoint and
    UnsafeCheckpointError for pickles that would call code.
    """
    path = Path(path)
    try:
        fd = open_regular(path)  # a FIFO or device is refused here, without blocking on it
    except UnusableFileError as exc:
        raise CheckpointError(path, f"cannot read the file: it {exc.problem}") from None
    try:
        head = os.read(fd, 16)
    except OSError as exc:
        raise CheckpointError(path, f"cannot read the file ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if not head:
        raise CheckpointError(path, "the file is empty")
    if not _looks_like_torch(head):
        raise CheckpointError(path, f"not a PyTorch checkpoint (it starts with {head[:8]!r})")
    if not head.startswith(_ZIP_MAGIC):
        return _restricted_read(path, head)  # legacy: see the module docstring
    try:  # the zip's directory against the bounds before torch reads a member
        _check_zip_entry_count(path)
        with zipfile.ZipFile(path) as archive:
            _check_zip(path, archive, path.stat().st_size)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(path, f"corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        _check_loaded(loaded)
        return loaded
    except (_TooDeep, RecursionError, MemoryError) as exc:
        raise CheckpointError(path, _bound_message(exc)) from None
    except ValueError as exc:  # _check_loaded: a view outside/over its storage
        raise CheckpointError(path, f"corrupt checkpoint ({exc})") from None
    except pickle.UnpicklingError as exc:
        # weights_only refuses globals it does not know (the 'hps' object): read it ourselves
        log.debug("%s: weights_only load refused (%s); using the restricted reader", path, str(exc)[:200])
    except Exception as exc:  # torch raises RuntimeError/EOFError/... for damaged files
        raise CheckpointError(path, f"corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None
    return _restricted_read(path, head)
