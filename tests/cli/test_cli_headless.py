"""The headless CLI on bad input: checks before anything is made, honest notes, sidecars that tell the truth."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from jukestudio.cli.main import build_parser, main
from jukestudio.engine import jobs
from jukestudio.engine.state import read_jobs
from jukestudio.project import Project, ProjectSettings
from tests.engine.tiny import TINY_HF, tiny_model

README = Path(__file__).parents[2] / "README.md"
FAST = ["--seconds", "0.05", "--takes", "1", "--quiet", "--threads", "1", "--device", "cpu"]


def new_project(folder: Path, **settings) -> Project:
    base = {"model": str(TINY_HF), "genres": ["rock"], "total_length_s": 0.9, "take_length_s": 0.05, "n_takes": 1}
    return Project.create(folder, ProjectSettings(**{**base, **settings}))


def compose(folder: Path, *extra: str) -> list[str]:
    return ["compose", str(folder), "--model", str(TINY_HF), "--total-seconds", "0.9", *FAST, *extra]


def only_take(folder: Path) -> str:
    (take_id,) = Project.open(folder).takes
    return take_id


# ---------------------------------------------------------------------- item 4: answers before torch

_PROBE = r"""
import json, sys
from jukestudio.cli.main import main
results = []
for argv in json.loads(sys.argv[1]):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    results.append([code, "torch" in sys.modules])
print(json.dumps(results))
"""


def test_errors_and_listings_answer_without_importing_torch(tmp_path) -> None:
    project = new_project(tmp_path / "song")
    prompt = str(tmp_path / "missing.wav")
    calls = [
        ["--help"],
        ["models", "list"],
        ["export", str(project.folder), "no-such-take"],
        ["compose", str(project.folder), "--prompt", prompt],
        ["compose", str(tmp_path / "new"), "--model", "no-such-model"],
        ["upsample", str(project.folder), "t1", "--region", "1", "0.5"],
        ["upsample", str(project.folder), "t1", "--levels", "2"],
        ["resume", str(project.folder), "no-such-job"],
        ["continue", str(tmp_path / "nowhere"), "t1"],
    ]
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(calls)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert [code for code, _ in outcome] == [0, 0, 2, 2, 2, 2, 2, 2, 2], result.stderr
    assert [torch_loaded for _, torch_loaded in outcome] == [False] * len(calls), result.stderr
    err = result.stderr
    assert f"--prompt {prompt}: does not exist" in err
    assert "--model no-such-model" in err
    assert "--region 1 0.5: the start must come before the end" in err
    assert "no job 'no-such-job'" in err
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------------- item 1: nothing half-made


def test_failed_first_compose_creates_nothing_and_flags_fix_an_existing_project(tmp_path, capsys, caplog) -> None:
    folder = tmp_path / "song"
    assert main(compose(folder, "--genre", "rock", "--genre", "Country Rock")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --genre:") and "at most 1 genres" in err
    assert not folder.exists()
    # the declared song length names the flag that fixes it
    args = compose(folder, "--genre", "rock")
    args[args.index("--total-seconds") + 1] = "5"
    assert main(args) == 2
    assert "--total-seconds" in capsys.readouterr().err and not folder.exists()

    # a project saved with settings the model cannot use: flags now change them (one undoable step)
    Project.create(folder, ProjectSettings(model=str(TINY_HF), genres=["rock", "country rock"], total_length_s=5.0))
    caplog.set_level(logging.INFO, logger="jukestudio")
    assert main(compose(folder, "--genre", "rock")) == 0
    err = capsys.readouterr().err
    assert "genres changed: ['rock', 'country rock'] -> ['rock']" in err and "--genre" in err
    project = Project.open(folder)
    assert project.settings.genres == ["rock"] and project.settings.total_length_s == 0.9
    (job,) = read_jobs(project.folder)[0]
    assert f"created compose job {job.id}" in caplog.text  # not "job None"
    # the change is the window's undoable settings command
    project.update_settings(genres=["pop"])
    assert project.undo() and project.settings.genres == ["rock"]


# ---------------------------------------------------------------------- item 2: devices


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_gpu_is_one_line_and_a_vanished_device_resumes_elsewhere(tmp_path, capsys) -> None:
    folder = tmp_path / "song"
    args = compose(folder, "--genre", "rock")
    args[args.index("--device") + 1] = "cuda"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --device cuda:") and "--device cpu" in err
    assert not folder.exists()

    project = new_project(folder)
    state = jobs.create_compose(project, tiny_model(), seed=3, device="cuda")
    assert main(["resume", str(folder), "--quiet"]) == 2
    assert f"resume {folder} {state.job_id} --device cpu" in capsys.readouterr().err
    info = json.loads((state.folder / "job.json").read_text())
    assert info["status"] == "failed" and "not available" in info["message"]
    assert main(["resume", str(folder), state.job_id, "--device", "cpu", "--quiet", "--threads", "1"]) == 0
    assert json.loads((state.folder / "job.json").read_text())["status"] == "done"


# ---------------------------------------------------------------------- item 3: what the model got


def test_unknown_names_and_dropped_characters_are_reported_and_recorded(tmp_path, capsys) -> None:
    folder = tmp_path / "song"
    lyrics = "smile 😀 café"
    assert main(compose(folder, "--artist", "Zac Brwn", "--genre", "rock", "--lyrics", lyrics, "--strict")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --strict: artist 'zac brwn' is unknown") and not folder.exists()

    assert main(compose(folder, "--artist", "Zac Brwn", "--genre", "rokc", "--lyrics", lyrics)) == 0
    err = capsys.readouterr().err
    assert "note: artist 'zac brwn' is unknown" in err
    assert "note: genre 'rokc' unknown" in err
    assert "lyric character(s) dropped: '😀'" in err and "written in ASCII (e.g. é -> 'e')" in err
    take_id = only_take(folder)
    used = Project.open(folder).take(take_id).extra["conditioning"]
    assert used["artist"] == "unknown" and used["artist_requested"] == "Zac Brwn"
    assert used["unknown_genres"] == ["rokc"] and used["lyrics_dropped"] == "😀"
    out = tmp_path / "take.wav"
    assert main(["export", str(folder), take_id, "-o", str(out)]) == 0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["artist"] == "unknown" and sidecar["genres"] == []
    assert sidecar["conditioning"]["lyrics_used"] == "smile  cafe"


# ---------------------------------------------------------------------- items 5, 6, 7: levels and export


def test_levels_regions_seeds_and_history_in_the_export(tmp_path, capsys) -> None:
    folder = tmp_path / "song"
    assert main(compose(folder, "--genre", "rock", "--seed", "11")) == 0
    parent = only_take(folder)
    assert main(["continue", str(folder), parent, "--variations", "1", "--seconds", "0.05", "--seed", "12",
                 "--quiet", "--threads", "1"]) == 0  # fmt: skip
    (child,) = [t.id for t in Project.open(folder).children(parent)]
    capsys.readouterr()

    jobs_before = sorted(p.name for p in (folder / "jobs").iterdir())
    assert main(["upsample", str(folder), child, "--levels", "full", "--quiet"]) == 2
    assert "upsample the middle level first" in capsys.readouterr().err
    assert sorted(p.name for p in (folder / "jobs").iterdir()) == jobs_before  # nothing created

    assert main(["upsample", str(folder), child, "--region", "0.03", "0.06", "--levels", "middle,full",
                 "--seed", "13", "--quiet", "--threads", "1"]) == 0  # fmt: skip
    take = Project.open(folder).take(child)
    assert take.status == {"preview": "done", "middle": "partial", "full": "partial"}
    continue_job = take.job_id
    assert "continue" in continue_job  # the upsample job did not replace the job that made the take

    out = tmp_path / "full.wav"
    assert main(["export", str(folder), child, "--level", "full", "--normalise", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["exported_level"] == "full" and sidecar["exported_quality"] == "Full quality"
    start, end = sidecar["region_s"]
    assert f"(Full quality, only {start:.2f}–{end:.2f} s of the take" in err
    assert sidecar["offset_s"] == start and start <= 0.03 < 0.06 <= end
    assert sidecar["audio_format"]["duration_s"] == pytest.approx(end - start, abs=1e-6)
    assert sidecar["seeds"] == [11, 12, 13]
    assert [(j["kind"], j["take"]) for j in sidecar["jobs"]] == [
        ("compose", parent), ("continue", child), ("upsample", child)
    ]  # fmt: skip
    assert sidecar["parent_chain"][-1]["job_id"] == continue_job
    # a normalised export says the peak as written, not only before the gain
    assert sidecar["export"]["peak_after_gain_dbfs"] == pytest.approx(-1.0, abs=1e-6)

    # the default export says which quality it wrote and what else exists
    assert main(["export", str(folder), child, "-o", str(tmp_path / "best.wav")]) == 0
    assert "(Preview quality; Full quality exists only in part: export it with --level full)" in capsys.readouterr().err


def test_old_take_files_keep_their_level_status(tmp_path) -> None:
    project = new_project(tmp_path / "song")
    take = project.add_take()
    path = project.take_dir(take.id) / "take.json"
    data = json.loads(path.read_text())
    data["status"] = {"coarse": "done", "level1": "partial", "full": "empty"}
    path.write_text(json.dumps(data))
    again = Project.open(project.folder).take(take.id)
    assert again.status == {"preview": "done", "middle": "partial", "full": "empty"}
    assert again.best_level == 0


def test_help_texts_use_the_level_names_and_explain_seconds_with_a_prompt(capsys) -> None:
    parser = build_parser()
    for command in ("upsample", "compose", "export"):
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--help"])
    text = capsys.readouterr().out
    assert "levels 1 and 0" not in text and "middle,full" in text and "preview, middle or full" in text
    assert "prompt plus these seconds" in " ".join(text.split())


def test_readme_first_command_mentions_portaudio_for_playback() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = text.index("```sh")
    assert "libportaudio2" in text[:first_block].split("## Set-up")[1]


def test_a_job_that_cannot_run_is_marked_failed_with_the_reason(tmp_path, capsys) -> None:
    project = new_project(tmp_path / "song")
    state = jobs.create_compose(project, tiny_model(), seed=3, device="cpu")
    job_file = state.folder / "job.json"
    info = json.loads(job_file.read_text())
    info["settings"]["precision"] = "fp64"  # written by a newer jukestudio, say
    job_file.write_text(json.dumps(info))
    assert main(["resume", str(project.folder), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"error: job {state.job_id} failed: unknown precision" in err and "Traceback" not in err
    info = json.loads(job_file.read_text())
    assert info["status"] == "failed" and "unknown precision 'fp64'" in info["message"]
