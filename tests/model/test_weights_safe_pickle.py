"""Reading torch checkpoints without running their pickles: the released layout, attacks, damage."""

from __future__ import annotations

import json
import os
import pickletools
import random
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from jukestudio.model.weights.errors import CheckpointError, UnsafeCheckpointError
from jukestudio.model.weights.safe_pickle import Opaque, read_checkpoint, to_plain
from tests.conftest import ORIG_TINY

ORIG = ORIG_TINY / "tiny" / "orig"


def _hps_reference() -> dict:
    return json.loads((ORIG / "hps.json").read_text())


@pytest.mark.parametrize("name", ["vqvae", "prior_level_0", "prior_level_1", "prior_level_2"])
def test_released_layout_reads_with_hps_as_plain_dict(name: str) -> None:
    data = read_checkpoint(ORIG / f"{name}.pth.tar")
    assert isinstance(data["hps"], Opaque)
    assert data["hps"].global_name == "jukebox.hparams.Hyperparams"
    key = "vqvae" if name == "vqvae" else f"{name}.pth.tar"
    assert to_plain(data["hps"]) == _hps_reference()[key]  # hps.json was written by the fixture's maker
    assert data["step"] == 0
    assert all(isinstance(v, torch.Tensor) for v in data["model"].values())


def test_fp16_matrices_stay_fp16_and_tied_tensors_share_memory() -> None:
    model = read_checkpoint(ORIG / "prior_level_0.pth.tar")["model"]
    assert model["prior.transformer._attn_mods.0.attn.c_attn.w"].dtype == torch.float16
    assert model["prior.transformer._attn_mods.0.ln_0.weight"].dtype == torch.float32
    assert model["prior.x_out.weight"].data_ptr() == model["prior.x_emb.weight"].data_ptr()


def test_legacy_reader_matches_torch_unrestricted_load_on_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    """Oracle: torch's own (unsafe) loader on a copy whose only foreign global we provide as a stub."""
    fake = _fake_jukebox_module(monkeypatch)
    ours = read_checkpoint(ORIG / "prior_level_2.pth.tar")["model"]
    theirs = torch.load(ORIG / "prior_level_2.pth.tar", weights_only=False)  # trusted fixture, stub class
    assert isinstance(theirs["hps"], fake.Hyperparams)
    assert list(ours) == list(theirs["model"])
    for key, value in theirs["model"].items():
        assert torch.equal(ours[key], value), key


def _fake_jukebox_module(monkeypatch) -> types.ModuleType:
    package = types.ModuleType("jukebox")
    module = types.ModuleType("jukebox.hparams")

    class Hyperparams(dict):
        pass

    Hyperparams.__module__ = "jukebox.hparams"
    Hyperparams.__qualname__ = "Hyperparams"
    module.Hyperparams = Hyperparams
    package.hparams = module
    monkeypatch.setitem(sys.modules, "jukebox", package)
    monkeypatch.setitem(sys.modules, "jukebox.hparams", module)
    return module


@pytest.mark.parametrize("zip_format", [False, True])
def test_foreign_objects_in_either_format_become_placeholders(tmp_path: Path, monkeypatch, zip_format: bool) -> None:
    fake = _fake_jukebox_module(monkeypatch)
    hps = fake.Hyperparams(level=2, y_bins=(604, 7898))
    state = OrderedDict(w=torch.arange(6, dtype=torch.float16).reshape(2, 3), b=torch.ones(3))
    path = tmp_path / "ckpt.pth.tar"
    torch.save({"hps": hps, "model": state}, path, _use_new_zipfile_serialization=zip_format)
    monkeypatch.delitem(sys.modules, "jukebox.hparams")  # as on a user's machine: no jukebox package
    monkeypatch.delitem(sys.modules, "jukebox")
    data = read_checkpoint(path)
    assert to_plain(data["hps"]) == {"level": 2, "y_bins": [604, 7898]}
    assert torch.equal(data["model"]["w"], state["w"]) and data["model"]["w"].dtype == torch.float16
    assert torch.equal(data["model"]["b"], state["b"])


def test_plain_weights_file_goes_through_torch_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    torch.save({"model": {"x": torch.randn(4, 5)[:, 1:3]}}, path)  # a strided view
    data = read_checkpoint(path)
    assert data["model"]["x"].shape == (4, 2)


class _Payload:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _ExecPayload:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


@pytest.mark.parametrize("zip_format", [False, True])
@pytest.mark.parametrize("kind", ["os.system", "exec"])
def test_code_running_pickles_are_refused_and_nothing_runs(tmp_path: Path, zip_format: bool, kind: str) -> None:
    marker = tmp_path / "pwned"
    payload = (
        _Payload(f"touch {marker}") if kind == "os.system" else _ExecPayload(f"open({str(marker)!r}, 'w').write('x')")
    )
    path = tmp_path / "prior_level_2.pth.tar"
    torch.save(
        {"hps": {}, "model": {"w": torch.zeros(2)}, "extra": payload}, path, _use_new_zipfile_serialization=zip_format
    )
    with pytest.raises(UnsafeCheckpointError) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)
    assert "refused" in str(info.value)
    assert not marker.exists()


def test_empty_png_and_text_files_are_named_in_the_error(tmp_path: Path) -> None:
    cases = {
        "empty.pth.tar": b"",
        "image.pth.tar": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
        "notes.pth.tar": b"hello, these are not weights\n",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(path)
        assert str(path) in str(info.value)
    with pytest.raises(CheckpointError, match="cannot read"):
        read_checkpoint(tmp_path / "missing.pth.tar")


@pytest.mark.parametrize("fraction", [0.01, 0.3, 0.7, 0.999])
def test_truncated_released_file_gives_one_clear_error(tmp_path: Path, fraction: float) -> None:
    data = (ORIG / "prior_level_1.pth.tar").read_bytes()
    path = tmp_path / "prior_level_1.pth.tar"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)
    assert not isinstance(info.value, UnsafeCheckpointError)


@pytest.mark.parametrize("fraction", [0.2, 0.6, 0.95])
def test_truncated_zip_file_gives_one_clear_error(tmp_path: Path, fraction: float) -> None:
    full = tmp_path / "full.pt"
    torch.save({"model": {"w": torch.randn(64, 64)}}, full)
    data = full.read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)


def test_corrupted_storage_header_is_caught(tmp_path: Path) -> None:
    data = bytearray((ORIG / "vqvae.pth.tar").read_bytes())
    with open(ORIG / "vqvae.pth.tar", "rb") as handle:
        for _ in range(5):  # magic, protocol, sys info, the state, the storage key list
            for _op in pickletools.genops(handle):
                pass
        first_storage = handle.tell()
    data[first_storage : first_storage + 8] = struct.pack("<q", 12345)  # a wrong element count
    path = tmp_path / "vqvae.pth.tar"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt") as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)


def test_random_damage_to_the_pickle_gives_checkpoint_errors_only(tmp_path: Path) -> None:
    """Flipped bytes anywhere in the pickled part: a clean CheckpointError or a readable file, nothing else."""
    original = (ORIG / "prior_level_1.pth.tar").read_bytes()
    generator = random.Random(1234)
    path = tmp_path / "prior_level_1.pth.tar"
    outcomes = set()
    for _ in range(60):
        data = bytearray(original)
        for _ in range(3):
            data[generator.randrange(0, 20_000)] = generator.randrange(256)  # the pickles sit in front
        path.write_bytes(bytes(data))
        try:
            read_checkpoint(path)
            outcomes.add("read")
        except CheckpointError as exc:
            assert str(path) in str(exc)
            outcomes.add("error")
    assert "error" in outcomes


def test_a_damaged_memo_index_is_refused_before_it_allocates(tmp_path: Path) -> None:
    """CPython grows the memo table to the stored index: one bad 4-byte index would cost gigabytes."""
    data = bytearray((ORIG / "prior_level_1.pth.tar").read_bytes())
    with open(ORIG / "prior_level_1.pth.tar", "rb") as handle:
        for _ in range(3):
            for _op in pickletools.genops(handle):
                pass
        position = next(pos for op, _arg, pos in pickletools.genops(handle) if op.name == "LONG_BINPUT")
    data[position + 1 : position + 5] = struct.pack("<I", 0x40000000)
    path = tmp_path / "prior_level_1.pth.tar"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="memo index"):
        read_checkpoint(path)


def test_a_compressed_zip_is_refused(tmp_path: Path, monkeypatch) -> None:
    fake = _fake_jukebox_module(monkeypatch)
    plain = tmp_path / "plain.pt"
    torch.save({"hps": fake.Hyperparams(level=1), "model": {"w": torch.zeros(1000)}}, plain)
    packed = tmp_path / "packed.pt"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item.filename, source.read(item))
    with pytest.raises(CheckpointError, match="compressed") as info:
        read_checkpoint(packed)
    assert str(packed) in str(info.value)
