"""Progress says a window is done only once it is on disk, at every level (upsamplers included),
and a job whose finish fails says why instead of staying "running"."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from jukestudio.engine import jobs, runner
from jukestudio.engine.progress import Progress
from jukestudio.engine.state import JobState
from tests.engine.tiny import tiny_project


@pytest.fixture
def project(tmp_path):
    return tiny_project(tmp_path / "song", take_length_s=0.05, seed=7)


def windows_on_disk(folder) -> dict[int, int]:
    levels = json.loads((folder / "job.json").read_text())["progress"]["levels"]
    return {int(level): entry["windows_done"] for level, entry in levels.items()}


def test_every_report_counts_only_windows_already_saved(project, model) -> None:
    state = jobs.create_compose(project, model, levels=(0, 1, 2))
    seen: list[tuple[Progress, dict[int, int]]] = []
    runner.run_job(state.folder, model=model, report=lambda p: seen.append((p, windows_on_disk(state.folder))),
                 project=project)  # fmt: skip
    n_windows = {int(lv): e["n_windows"] for lv, e in json.loads((state.folder / "job.json").read_text())[
        "progress"]["levels"].items()}  # fmt: skip
    assert {p.level for p, _ in seen} == {0, 1, 2}
    for p, on_disk in seen:
        assert p.window <= on_disk[p.level], (p, on_disk)
        # the cascade: the levels above the one being sampled are complete on disk
        assert all(on_disk[lower] == n_windows[lower] for lower in range(p.level)), (p, on_disk)
    assert any(p.window > 0 for p, _ in seen if p.level == 2)


def test_a_window_whose_save_fails_is_not_counted(project, model, monkeypatch) -> None:
    state = jobs.create_compose(project, model, levels=(0, 1))
    saves = []
    real_save = JobState.save

    def save(self, tensors: bool = True) -> None:
        if tensors:
            saves.append(1)
            if len(saves) == 3:  # the 3rd window's codes cannot be written
                raise OSError("disk full")
        real_save(self, tensors)

    monkeypatch.setattr(JobState, "save", save)
    with pytest.raises(OSError, match="disk full"):
        runner.run_job(state.folder, model=model, project=project)
    info = json.loads((state.folder / "job.json").read_text())
    assert info["status"] == "failed" and "disk full" in info["message"]
    codes = load_file(str(state.folder / "state.safetensors"))
    # two windows saved (the top window, the first upsampler window): job.json counts exactly those
    assert sum(windows_on_disk(state.folder).values()) == 2
    assert codes["codes_1"].shape[1] > 0


def test_a_job_whose_takes_cannot_be_written_is_failed_with_the_reason(project, model) -> None:
    composed = runner.run_job(jobs.create_compose(project, model).folder, model=model, project=project)
    state = jobs.create_upsample(project, model, composed.take_ids[:1], levels=(1,))
    project.delete_take(composed.take_ids[0])  # gone before the upsampling finishes
    with pytest.raises(KeyError, match=composed.take_ids[0]):
        runner.run_job(state.folder, model=model, project=project)
    info = json.loads((state.folder / "job.json").read_text())
    assert info["status"] == "failed" and composed.take_ids[0] in info["message"] and "resume" in info["message"]
    assert (state.folder / "state.safetensors").exists()  # the codes stay for a resume by id
