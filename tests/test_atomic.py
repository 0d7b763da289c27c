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


def test_new_files_follow_the_umask_and_existing_files_keep_their_mode(tmp_path) -> None:
    import os
    import stat

    target = tmp_path / "export.wav"
    old = os.umask(0o022)
    try:
        atomic_write_text(target, "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    target.chmod(0o600)
    atomic_write_text(target, "y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
