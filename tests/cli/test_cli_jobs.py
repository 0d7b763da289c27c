"""`jukestudio-cli compose|resume|export` in real subprocesses: SIGKILL and Ctrl+C mid-job, then resume."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile
import torch

from jukestudio.cli.jobs import ProgressBar
from jukestudio.cli.main import main
from jukestudio.engine import jobs
from jukestudio.engine.progress import Progress, percent_text
from jukestudio.engine.state import read_jobs, unfinished_jobs
from jukestudio.project import Project
from tests.engine.tiny import TINY_HF, tiny_model

SECONDS = 0.16
N_TOP = int(SECONDS * 44100) // 128


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "jukestudio.cli.main", *args]


def compose_args(folder: Path) -> list[str]:
    return [
        "compose", str(folder), "--model", str(TINY_HF), "--artist", "Zac Brown Band", "--genre", "Country",
        "--lyrics", "I met a traveller from an antique land", "--total-seconds", "0.9", "--seconds", str(SECONDS),
        "--takes", "2", "--seed", "5", "--upsample", "--threads", "1", "--quiet", "--device", "cpu",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    return {**os.environ, "JUKESTUDIO_HOME": str(home), "PYTHONPATH": str(Path(__file__).parents[2])}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, env) -> list[list[torch.Tensor]]:
    folder = tmp_path_factory.mktemp("a") / "song"
    subprocess.run(cli(*compose_args(folder)), env=env, check=True, timeout=300, capture_output=True)
    return job_codes(folder)


def job_codes(folder: Path) -> list[list[torch.Tensor]]:
    """Codes of the job's takes, in the job's batch order."""
    (job_dir,) = (folder / "jobs").iterdir()
    info = json.loads((job_dir / "job.json").read_text())
    assert info["status"] == "done"
    project = Project.open(folder)
    return [project.read_codes(t) for t in info["take_ids"]]


def wait_for_windows(folder: Path, level: int, windows: int, proc: subprocess.Popen, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the job finished before it could be interrupted"
        for job_file in (folder / "jobs").glob("*/job.json") if (folder / "jobs").is_dir() else []:
            try:
                info = json.loads(job_file.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            done = info["progress"]["levels"].get(str(level), {}).get("windows_done", 0)
            if done >= windows:
                return info
        time.sleep(0.02)
    raise AssertionError("the job made no progress")


def test_sigkill_mid_job_then_resume_gives_identical_codes(tmp_path, env, uninterrupted) -> None:
    folder = tmp_path / "song"
    proc = subprocess.Popen(cli(*compose_args(folder)), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_windows(folder, level=2, windows=3, proc=proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    (job_dir,) = (folder / "jobs").iterdir()
    info = json.loads((job_dir / "job.json").read_text())
    assert info["status"] == "running"  # what a killed process leaves
    assert [r.id for r in unfinished_jobs(Project.open(folder).folder)] == [info["id"]]

    result = subprocess.run(
        cli("resume", str(folder), "--threads", "1", "--device", "cpu"),
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{info['id']} done" in result.stdout
    resumed = job_codes(folder)
    for got, want in zip(resumed, uninterrupted, strict=True):
        assert [c.shape[0] for c in got] == [N_TOP, 4 * N_TOP, 16 * N_TOP]
        for g, w in zip(got, want, strict=True):
            assert torch.equal(g, w)


def test_ctrl_c_cancels_cleanly_and_resume_by_id_finishes(tmp_path, env, uninterrupted, capsys) -> None:
    folder = tmp_path / "song"
    proc = subprocess.Popen(
        cli(*compose_args(folder)), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        info = wait_for_windows(folder, level=1, windows=1, proc=proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"jukestudio-cli resume {folder} {info['id']}" in err
    job_dir = folder / "jobs" / info["id"]
    assert json.loads((job_dir / "job.json").read_text())["status"] == "cancelled"
    # as the message promises, a plain resume picks up a cancelled job that kept finished windows
    by_id = subprocess.run(
        cli("resume", str(folder), "--threads", "1", "--quiet"),
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert by_id.returncode == 0, by_id.stderr
    for got, want in zip(job_codes(folder), uninterrupted, strict=True):
        for g, w in zip(got, want, strict=True):
            assert torch.equal(g, w)

    take_id = json.loads((job_dir / "job.json").read_text())["take_ids"][0]
    out = tmp_path / "take.wav"
    assert main(["export", str(folder), take_id, "-o", str(out)]) == 0
    audio, sr = soundfile.read(str(out))
    assert sr == 44100 and audio.shape == (N_TOP * 128,)
    assert json.loads(out.with_suffix(".json").read_text())["exported_level"] == "full"


def test_progress_bar_line() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar(Progress("j", 1, 2, 6, 300, 1000, 150.0, 4.6, 0.3))
    bar(Progress("j", 2, 26, 27, 1000, 1000, 150.0, 0.0, 1.0))
    bar.close()
    text = stream.getvalue()
    assert "[Middle quality window 3/6]" in text and " 30.0%" in text and "150.0 tok/s ETA 00:05" in text
    assert text.endswith("100.0%   150.0 tok/s ETA 00:00\n")


def test_the_bar_reads_100_percent_only_when_the_job_is_done() -> None:
    """The tracker caps an unfinished job at 0.999999; rounding that to "100.0%" made a killed run look
    finished while its last window was not yet on disk."""
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar(Progress("j", 2, 7, 8, 999, 1000, 150.0, 0.1, 0.999999))
    assert " 99.9%" in stream.getvalue() and "100.0%" not in stream.getvalue()
    assert "#" * 30 not in stream.getvalue()
    assert [percent_text(f) for f in (0.0, 0.29, 0.5, 0.9999, 1.0)] == ["0%", "29%", "50%", "99%", "100%"]
    assert percent_text(0.123456, 1) == "12.3%"


def test_compose_continue_upsample_commands(tmp_path, capsys) -> None:
    before = torch.get_num_threads()
    folder = tmp_path / "song"
    try:
        args = compose_args(folder)
        args[args.index("--seconds") + 1] = "0.05"
        args.remove("--upsample")
        assert main(args) == 0
        take_id = capsys.readouterr().out.split("takes")[1].split()[0]
        # --compile on CPU: a warning and eager sampling; the setting is kept in the job
        assert (
            main(["continue", str(folder), take_id, "--variations", "2", "--seconds", "0.03", "--quiet", "--compile"])
            == 0
        )
        children = [t.id for t in Project.open(folder).children(take_id)]
        assert len(children) == 2
        assert main(["upsample", str(folder), *children, "--levels", "middle", "--quiet", "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(before)
    project = Project.open(folder)
    compile_flags = {r.kind: r.info["settings"]["compile"] for r in read_jobs(project.folder)[0]}
    assert compile_flags == {"compose": False, "continue": True, "upsample": False}
    n_top = int(0.05 * 44100) // 128 + int(0.03 * 44100) // 128
    for child in children:
        top, mid, low = project.read_codes(child)
        assert top.shape == (n_top,) and mid.shape == (4 * n_top,) and low is None
        assert project.take(child).best_level == 1
    # a queued preview job (decode the best level) is finished by `resume` like the sampling jobs
    state = jobs.create_preview(project, tiny_model().config, children)
    assert main(["resume", str(folder), "--quiet"]) == 0
    assert {r.id: r.status for r in read_jobs(Project.open(folder).folder)[0]}[state.job_id] == "done"
    for child in children:
        assert project.read_preview(child, 1).shape == (4 * n_top * 32,)
