"""`jukestudio-cli compose|continue --fast-preview`: the job samples its top level with int8 weights."""

from __future__ import annotations

import torch

from jukestudio.cli.main import main
from jukestudio.engine.state import read_jobs
from tests.cli.test_cli_jobs import compose_args


def test_fast_preview_flag_is_kept_in_the_job_and_defaults_to_the_project_setting(tmp_path, capsys) -> None:
    before = torch.get_num_threads()
    folder = tmp_path / "song"
    try:
        args = compose_args(folder)
        args[args.index("--seconds") + 1] = "0.03"
        args.remove("--upsample")
        assert main([*args, "--fast-preview"]) == 0
        take_id = capsys.readouterr().out.split("takes")[1].split()[0]
        assert main(["continue", str(folder), take_id, "--variations", "1", "--seconds", "0.03", "--quiet"]) == 0
    finally:
        torch.set_num_threads(before)
    flags = {r.kind: r.info["settings"]["fast_preview"] for r in read_jobs(folder)[0]}
    assert flags == {"compose": True, "continue": False}  # the project's setting (off) when not chosen
