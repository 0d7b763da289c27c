"""The CLI and the window make the same takes: a compose from a prompt, killed after a saved window and
finished by `jukestudio-cli resume`, equals the same job finished in-process the way the window does it
(``Studio.resume_jobs``) — codes, lyric words, prompt take, settings, sidecar metadata, ids aside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from jukestudio.audio.io import load_prompt
from jukestudio.engine import jobs
from jukestudio.engine.progress import CancelToken
from jukestudio.engine.state import read_jobs
from jukestudio.project import Project, ProjectSettings
from tests.engine.tiny import TINY_HF, tiny_model

LYRICS = "I met a traveller from an antique land"
SECONDS = 0.03
SETTINGS = dict(artist="Zac Brown Band", genres=["Country"], lyrics=LYRICS, total_length_s=0.9, take_length_s=SECONDS)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "jukestudio.cli.main", *args]


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {**os.environ, "JUKESTUDIO_HOME": str(tmp_path / "home"), "PYTHONPATH": str(Path(__file__).parents[2])}


@pytest.fixture
def prompt_wav(tmp_path) -> Path:
    path = tmp_path / "hum.wav"
    t = np.arange(int(0.1 * 44100)) / 44100  # the shortest prompt accepted: a short job
    sf.write(path, 0.3 * np.sin(2 * np.pi * 220 * t), 44100)
    return path


def wait_for_a_saved_window(folder: Path, proc: subprocess.Popen, timeout: float = 240) -> dict:
    """job.json once a window of the middle level is saved (the top level is done by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the job finished before it could be killed"
        for job_file in folder.glob("jobs/*/job.json"):
            try:
                info = json.loads(job_file.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if info["progress"]["levels"].get("1", {}).get("windows_done", 0) >= 1:
                return info
        time.sleep(0.02)
    raise AssertionError("the job saved no window")


def without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k not in ("id", "job_id", "parent_id", "take")}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def takes_of(folder: Path) -> list[dict]:
    """Every take as comparable data: its record, codes, preview levels and export sidecar, ids aside."""
    project = Project.open(folder)
    out = []
    for _depth, take in project.walk():
        record = take.to_dict()
        record = {k: v for k, v in record.items() if k not in ("created", "modified", "updated")}
        record["parent_name"] = project.take(take.parent_id).name if take.parent_id else None
        record["codes"] = [None if c is None else c.tolist() for c in project.read_codes(take.id)]
        record["previews"] = project.preview_levels(take.id)
        record["sidecar"] = project.export_metadata(take.id)
        out.append(without_ids(record))
    return out


@pytest.mark.slow
def test_killed_cli_compose_resumed_by_cli_equals_the_window_path(tmp_path, env, prompt_wav) -> None:
    folder = tmp_path / "cli"
    args = [
        "compose", str(folder), "--model", str(TINY_HF), "--artist", SETTINGS["artist"], "--genre", "Country",
        "--lyrics", LYRICS, "--total-seconds", "0.9", "--seconds", str(SECONDS), "--takes", "2", "--seed", "5",
        "--prompt", str(prompt_wav), "--upsample", "--threads", "1", "--quiet", "--device", "cpu",
    ]  # fmt: skip
    proc = subprocess.Popen(cli(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        info = wait_for_a_saved_window(folder, proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert json.loads((folder / "jobs" / info["id"] / "job.json").read_text())["status"] == "running"
    resumed = subprocess.run(
        cli("resume", str(folder), "--threads", "1", "--quiet", "--device", "cpu"),
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr

    # the same job in-process: created by the same engine function, finished the way the window does
    from jukestudio.gui.studio import Studio
    from jukestudio.model.weights.loader import load_model

    studio = Studio(model_loader=load_model)
    studio.new_project(tmp_path / "window", ProjectSettings(model=str(TINY_HF), n_takes=2, **SETTINGS))
    jobs.create_compose(
        studio.project, tiny_model(), prompt=load_prompt(prompt_wav), prompt_name="hum.wav", levels=(0, 1, 2), seed=5
    )
    (spec,) = studio.resume_jobs()
    result = spec.fn(lambda _progress: None, CancelToken())
    assert result.status == "done"
    studio.close()

    by_cli, by_window = takes_of(folder), takes_of(tmp_path / "window")
    assert [t["name"] for t in by_cli] == ["Prompt: hum.wav", "Prompt: hum.wav.1", "Prompt: hum.wav.2"]
    prompt, *composed = by_cli
    assert prompt["origin"] == "prompt" and all(t["parent_name"] == "Prompt: hum.wav" for t in composed)
    assert all(t["extra"]["words"] for t in composed)  # --lyrics on a lyrics model: the takes have words
    assert all(w in LYRICS.split() for t in composed for _s, _e, w in t["extra"]["words"])
    assert by_cli == by_window
    (job,) = read_jobs(folder)[0]
    assert job.status == "done" and job.info["settings"]["seed"] == 5


def test_top_k_and_top_p_flags_go_into_the_job_and_its_takes_only(tmp_path, capsys) -> None:
    from jukestudio.cli.main import main

    folder = tmp_path / "song"
    base = [
        "compose", str(folder), "--model", str(TINY_HF), "--artist", "Zac Brown Band", "--genre", "Country",
        "--total-seconds", "0.9", "--seconds", "0.03", "--takes", "1", "--seed", "1", "--quiet", "--threads", "1",
    ]  # fmt: skip
    assert main([*base, "--top-k", "3", "--top-p", "0.5"]) == 0
    (job,) = read_jobs(folder)[0]
    assert (job.info["settings"]["top_k"], job.info["settings"]["top_p"]) == (3, 0.5)
    project = Project.open(folder)
    assert (project.settings.top_k, project.settings.top_p) == (0, 0.0)  # the project's own settings stay
    (take,) = project.takes.values()
    assert (take.settings.top_k, take.settings.top_p) == (3, 0.5)  # the take says how it was made
    assert main([*base, "--top-p", "2"]) == 2
    assert "error: top_p must be between 0 and 1" in capsys.readouterr().err
    assert len(read_jobs(folder)[0]) == 1  # nothing half-made
