from __future__ import annotations

import json

import pytest

from jukestudio.atomic import atomic_write_json, atomic_write_text, atomic_write_with


def test_write_replaces_content_and_leaves_no_temp_files(tmp_path) -> None:
    target = tmp_path / "sub" / "a.json"
    atomic_write_json(target, {"x": 1})
    atomic_write_json(target, {"x": 2})
    assert json.loads(target.read_text()) == {"x": 2}
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_failed_writer_keeps_the_old_file(tmp_path) -> None:
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")

    def broken(path):
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_with(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
