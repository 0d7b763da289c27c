"""`jukestudio-cli train`: help without torch, one-line errors for bad data and unfinished runs."""

from __future__ import annotations

import subprocess
import sys

from jukestudio.cli.main import main


def test_train_help_does_not_import_torch():
    code = "import sys; from jukestudio.cli.main import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_folder_without_labels_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    assert main(["train", "vqvae", str(tmp_path / "data"), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "no labels.csv (one row per file: file,artist,genre[,split])" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing half-made


def test_install_of_a_folder_that_is_no_run_says_so(tmp_path, capsys):
    assert main(["train", "install", str(tmp_path), "--name", "mine"]) == 1
    assert "not a training run folder" in capsys.readouterr().err
