"""Tensor-by-tensor reading of zip-format torch.save files (the Hub's pytorch_model-*.bin shards)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from jukestudio.model.weights.errors import CheckpointError, UnsafeCheckpointError
from jukestudio.model.weights.zip_stream import is_zip_checkpoint, stream_zip_checkpoint


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 8, generator=g)
    return {
        "a.weight": torch.randn(5, 7, generator=g),
        "a.transposed": base.t(),  # strided view of another storage
        "a.row": base[2],  # a view at an offset into the same storage
        "b.half": torch.randn(3, 4, generator=g).half(),
        "b.index": torch.arange(10),
        "b.empty": torch.empty(0, 3),
        "b.scalar": torch.tensor(2.5),
    }


def test_every_tensor_reads_back_exactly(tmp_path: Path) -> None:
    state = _state()
    torch.save(state, tmp_path / "shard.bin")
    assert is_zip_checkpoint(tmp_path / "shard.bin")
    streamed = stream_zip_checkpoint(tmp_path / "shard.bin")
    assert list(streamed) == list(state)
    for name, tensor in state.items():
        loaded = streamed[name].load()
        assert streamed[name].dtype == tensor.dtype and streamed[name].shape == tuple(tensor.shape)
        assert loaded.dtype == tensor.dtype and torch.equal(loaded, tensor), name
        assert loaded.is_contiguous()


def test_a_state_dict_wrapper_is_opened(tmp_path: Path) -> None:
    torch.save({"state_dict": {"w": torch.ones(2, 2)}, "step": 3}, tmp_path / "wrapped.bin")
    assert torch.equal(stream_zip_checkpoint(tmp_path / "wrapped.bin")["w"].load(), torch.ones(2, 2))


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.save({"w": torch.ones(2), "x": _Evil(marker)}, tmp_path / "evil.bin")
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.bin: refused"):
        stream_zip_checkpoint(tmp_path / "evil.bin")
    assert not marker.exists()


def test_a_truncated_shard_is_named(tmp_path: Path) -> None:
    torch.save({"w": torch.randn(1000)}, tmp_path / "cut.bin")
    data = (tmp_path / "cut.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.bin"):
        stream_zip_checkpoint(tmp_path / "cut.bin")
