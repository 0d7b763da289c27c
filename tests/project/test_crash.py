"""A process killed in the middle of saving leaves the previous project.json intact and loadable."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jukestudio.project import Project, ProjectSettings

REPO = Path(__file__).resolve().parents[2]
REPEAT = 200_000
BIG = "la " * REPEAT  # ~600 kB of lyrics: a save takes long enough to be caught in the act

STALL_IN_RENAME = """
import os, sys, time
from jukestudio.project import Project

project = Project.open(sys.argv[1])
real_replace = os.replace

def stalled_replace(src, dst):
    if str(dst).endswith("project.json"):
        print("IN_SAVE", flush=True)  # new content written and fsynced, rename not done yet
        time.sleep(120)
    real_replace(src, dst)

os.replace = stalled_replace
project.update_settings(lyrics="NEW " + "la " * int(sys.argv[2]))
project.save()
"""

SAVE_FOREVER = """
import sys
from jukestudio.project import Project

project = Project.open(sys.argv[1])
big = "la " * int(sys.argv[2])
print("READY", flush=True)
i = 0
while True:
    i += 1
    project.update_settings(lyrics=f"{i} " + big, n_takes=1 + i % 7)
    project.save()
"""


def spawn(code: str, folder: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-c", code, str(folder), str(REPEAT)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )


def wait_for(proc: subprocess.Popen[str], word: str) -> None:
    line = proc.stdout.readline() if proc.stdout else ""
    assert line.strip() == word, f"child said {line!r} (exit code {proc.poll()})"


def make_project(folder: Path) -> tuple[Project, str]:
    project = Project.create(folder, ProjectSettings(artist="Bessie Smith", lyrics="old words"))
    take = project.add_take(seed=5)
    return project, take.id


@pytest.mark.slow
def test_kill_during_rename_keeps_previous_file(tmp_path) -> None:
    folder = tmp_path / "song"
    _, take_id = make_project(folder)
    before = (folder / "project.json").read_bytes()
    proc = spawn(STALL_IN_RENAME, folder)
    try:
        wait_for(proc, "IN_SAVE")
        leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".project.json.")]
        assert leftovers, "the child should be between writing the temp file and renaming it"
    finally:
        proc.kill()  # SIGKILL on POSIX: no cleanup handlers run
        proc.wait(30)
    assert (folder / "project.json").read_bytes() == before
    project = Project.open(folder)
    assert project.settings.lyrics == "old words" and project.settings.artist == "Bessie Smith"
    assert take_id in project.takes and project.problems == []
    project.update_settings(lyrics="after the crash")  # and the project works on
    project.save()
    assert Project.open(folder).settings.lyrics == "after the crash"


@pytest.mark.slow
def test_kill_at_random_moments_while_saving(tmp_path) -> None:
    folder = tmp_path / "song"
    _, take_id = make_project(folder)
    rng = random.Random(1234)
    saved_versions = 0
    for _ in range(3):
        proc = spawn(SAVE_FOREVER, folder)
        try:
            wait_for(proc, "READY")
            time.sleep(rng.uniform(0.05, 0.5))
        finally:
            proc.kill()
            proc.wait(30)
        project = Project.open(folder)  # never damaged
        lyrics = project.settings.lyrics
        if lyrics != "old words":
            counter, rest = lyrics.split(" ", 1)
            assert rest == BIG  # a whole save, never half of one
            assert project.settings.n_takes == 1 + int(counter) % 7
            saved_versions += 1
        assert take_id in project.takes
    assert saved_versions > 0, "the child never got to save: the test proved nothing"
