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


def test_temp_files_of_writes_are_recognised_as_leftovers(tmp_path) -> None:
    from jukestudio.atomic import atomic_path, is_temp_leftover

    for name, suffix in (("take.json", ""), ("codes_prior0.safetensors", ".safetensors"), ("p.wav", ".wav")):
        with atomic_path(tmp_path / name, suffix=suffix) as tmp:
            assert is_temp_leftover(tmp)
        assert not is_temp_leftover(tmp_path / name)
    for name in (".DS_Store", ".hidden", "job.json", ".take.json", ".tmp", ".tmpfolder1"):
        assert not is_temp_leftover(tmp_path / name)


def test_a_safetensors_write_killed_midway_leaves_only_a_recognised_leftover(tmp_path) -> None:
    """safetensors >= 0.7 writes through its own ``.tmpXXXXXX`` file (inside our atomic write); a
    process killed while writing leaves that one, and resume must know it as a leftover. The kill
    is made deterministic with a file-size limit (SIGXFSZ in the middle of the write)."""
    import signal
    import subprocess
    import sys

    from jukestudio.atomic import is_temp_leftover

    script = (
        "import resource, signal, torch\nfrom safetensors.torch import save_file\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"  # Python ignores it by default
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "save_file({'a': torch.zeros(100_000)}, 'codes.safetensors')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, timeout=120, capture_output=True)
    assert proc.returncode == -signal.SIGXFSZ, proc.stderr.decode()
    leftovers = list(tmp_path.iterdir())
    assert leftovers and all(is_temp_leftover(p) for p in leftovers), leftovers


@pytest.mark.parametrize("when", ["before", "after"])
def test_fault_hook_kills_the_process_at_the_chosen_rename(tmp_path, when) -> None:
    """JUKESTUDIO_FAULT=before|after:NAME:N SIGKILLs the writer at its N-th rename onto NAME."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from jukestudio.atomic import is_temp_leftover

    script = "from jukestudio.atomic import atomic_write_text as w\nfor i in range(3): w('a.txt', str(i))\n"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "JUKESTUDIO_FAULT": f"{when}:a.txt:2"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert (tmp_path / "a.txt").read_text() == ("0" if when == "before" else "1")
    leftovers = [p for p in tmp_path.iterdir() if p.name != "a.txt"]
    assert len(leftovers) == (1 if when == "before" else 0) and all(is_temp_leftover(p) for p in leftovers)

    env["JUKESTUDIO_FAULT"] = f"trace:{tmp_path / 'trace'}"
    assert subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, timeout=60).returncode == 0
    assert (tmp_path / "trace").read_text().split() == ["a.txt"] * 3
