from __future__ import annotations

import subprocess
import sys

from jukestudio import __version__
from jukestudio.cli.main import main


def test_version_flag_prints_version(capsys) -> None:
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_console_script_runs_as_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jukestudio.cli.main", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "jukestudio-cli" in result.stdout


def test_paths_follow_home_override(jukestudio_home) -> None:
    from jukestudio import paths

    assert paths.model_store_dir().is_relative_to(jukestudio_home)
    assert paths.projects_dir().is_dir()


def test_errors_are_one_clear_line_not_a_traceback(capsys, tmp_path) -> None:
    code = main(["export", str(tmp_path / "no-such-project"), "take-1", "-o", str(tmp_path / "out.wav")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "Traceback" not in err
    assert "no-such-project" in err
