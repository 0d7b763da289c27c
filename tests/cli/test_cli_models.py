"""`jukestudio-cli models import | list | verify`: messages and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from jukestudio import paths
from jukestudio.cli.main import main
from tests.conftest import ORIG_TINY

TINY_ORIG = ORIG_TINY / "tiny" / "orig"


def test_import_then_list_then_verify(capsys) -> None:
    assert main(["models", "list"]) == 0
    assert "no models" in capsys.readouterr().out

    assert main(["models", "import", str(TINY_ORIG), "--name", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "imported tiny" in out and "all parts" in out

    assert main(["models", "list"]) == 0
    assert "tiny" in capsys.readouterr().out

    assert main(["models", "verify", "tiny"]) == 0
    assert "tiny: OK" in capsys.readouterr().out


def test_import_of_original_files_one_by_one_shows_partial_entry(capsys) -> None:
    files = [str(TINY_ORIG / "prior_level_2.pth.tar"), str(TINY_ORIG / "vqvae.pth.tar")]
    assert main(["models", "import", *files, "--name", "top"]) == 0
    assert "only vqvae, prior_0" in capsys.readouterr().out


def test_verify_reports_a_changed_file(capsys) -> None:
    assert main(["models", "import", str(ORIG_TINY / "tiny" / "hf_model"), "--name", "tiny"]) == 0
    target = paths.model_store_dir() / "tiny" / "prior_0.safetensors"
    data = bytearray(target.read_bytes())
    data[-1] ^= 1
    target.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["models", "verify", "tiny"]) == 1
    err = capsys.readouterr().err
    assert "1 problem" in err and "prior_0.safetensors" in err and "sha256" in err


def test_verify_unknown_name_fails(capsys) -> None:
    assert main(["models", "verify", "nothing"]) == 1
    assert "no model named 'nothing'" in capsys.readouterr().err


def test_import_of_a_bad_file_names_it(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "vqvae.pth.tar"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert main(["models", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "import failed" in err and str(bad) in err and "not a PyTorch checkpoint" in err


def test_import_refuses_wrong_preset_and_duplicates(capsys) -> None:
    top = str(TINY_ORIG / "prior_level_2.pth.tar")
    assert main(["models", "import", top, "--preset", "5b"]) == 1
    assert "do not fit the prior_0 of model '5b'" in capsys.readouterr().err
    assert main(["models", "import", top, "--name", "x"]) == 0
    assert main(["models", "import", top, "--name", "x"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["models", "import", top, "--name", "x", "--overwrite"]) == 0


def test_missing_action_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["models"])
    assert info.value.code == 2
