"""Preview jobs (decode takes to audio through the job machinery) with the tiny fixture model on CPU."""

from __future__ import annotations

import json

import pytest
import torch

from jukestudio.engine import decode, jobs, runner
from jukestudio.engine.progress import Cancelled, CancelToken, Progress
from jukestudio.engine.state import JobState, unfinished_job_ids, unfinished_jobs
from jukestudio.project import Project
from tests.engine.tiny import tiny_project

HOP = (128, 32, 8)  # samples per token, prior order


@pytest.fixture
def project(tmp_path):
    return tiny_project(tmp_path / "song", take_length_s=0.1, seed=3)


def add_takes(project: Project, lengths: list[int], mid: bool = False) -> list[str]:
    """Takes with random top-level codes (and a finished middle level when ``mid``), no previews."""
    gen = torch.Generator().manual_seed(0)
    ids = []
    for n in lengths:
        take = project.add_take(None, origin="compose", seed=0, duration_s=n * HOP[0] / 44100)
        project.write_codes(take.id, 0, torch.randint(0, 16, (n,), generator=gen), complete=True)
        if mid:
            project.write_codes(take.id, 1, torch.randint(0, 16, (4 * n,), generator=gen), complete=True)
        ids.append(take.id)
    return ids


def test_preview_job_decodes_and_caches_each_take(project, model) -> None:
    ids = add_takes(project, [20, 30])
    state = jobs.create_preview(project, model.config, ids)
    assert JobState.load(state.folder).status == "queued" and state.info["kind"] == "preview"
    events: list[Progress] = []
    result = runner.run_job(state.folder, model=model, report=events.append, project=project)
    assert result.status == "done" and result.take_ids == ids
    fresh = Project.open(project.folder)
    for take_id, n in zip(ids, [20, 30], strict=True):
        audio = fresh.read_preview(take_id, 0)
        assert audio.shape == (n * HOP[0],) and abs(audio).max() <= 1.0
        # the same audio as decoding directly
        expected = decode.preview_audio(model, fresh.read_codes(take_id)[0].reshape(1, -1))[0].numpy()
        assert abs(audio - expected).max() < 1e-6
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and events[-1].is_final
    assert events[-1].tokens_done == events[-1].tokens_total == 50
    info = json.loads((state.folder / "job.json").read_text())
    assert info["status"] == "done" and info["progress"]["fraction"] == 1.0
    assert info["progress"]["takes_done"] == 2


def test_preview_uses_best_or_requested_level(project, model) -> None:
    (take_id,) = add_takes(project, [12], mid=True)
    state = jobs.create_preview(project, model.config, [take_id])
    assert state.settings["levels"] == [1]  # the best finished level
    runner.run_job(state.folder, model=model, project=project)
    assert project.read_preview(take_id, 1).shape == (4 * 12 * HOP[1],)
    state = jobs.create_preview(project, model.config, [take_id], level=0)
    runner.run_job(state.folder, model=model, project=project)
    assert project.preview_levels(take_id) == [0, 1]
    with pytest.raises(ValueError, match="has no Full quality codes"):
        jobs.create_preview(project, model.config, [take_id], level=2)


def test_cancel_before_start_then_resume_finishes(project, model) -> None:
    ids = add_takes(project, [10, 10])
    state = jobs.create_preview(project, model.config, ids)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled) as caught:
        runner.run_job(state.folder, model=model, cancel=token, project=project)
    assert caught.value.args[0].status == "cancelled"
    assert JobState.load(state.folder).status == "cancelled"
    assert project.preview_levels(ids[0]) == []
    result = runner.run_job(state.folder, model=model, project=project)
    assert result.status == "done" and all(project.preview_levels(t) == [0] for t in ids)


def test_cancel_after_first_take_keeps_it_and_resume_decodes_the_rest(project, model) -> None:
    ids = add_takes(project, [10, 14])
    state = jobs.create_preview(project, model.config, ids)
    token = CancelToken()
    events: list[Progress] = []

    def report(p: Progress) -> None:
        events.append(p)
        if p.tokens_done >= 10:
            token.cancel()  # after the first take is decoded

    with pytest.raises(Cancelled):
        runner.run_job(state.folder, model=model, report=report, cancel=token, project=project)
    assert project.preview_levels(ids[0]) == [0] and project.preview_levels(ids[1]) == []
    assert JobState.load(state.folder).info["progress"]["takes_done"] == 1
    resumed: list[Progress] = []
    runner.run_job(state.folder, model=model, report=resumed.append, project=project)
    assert resumed[0].message == "resuming" and resumed[0].tokens_done == 10
    assert project.read_preview(ids[1], 0).shape == (14 * HOP[0],)


def test_queued_preview_job_is_resumed_like_the_others(project, model) -> None:
    ids = add_takes(project, [8])
    state = jobs.create_preview(project, model.config, ids)
    assert unfinished_job_ids(project.folder) == [state.job_id]
    assert [r.kind for r in unfinished_jobs(Project.open(project.folder).folder)] == ["preview"]
    # as `jukestudio-cli resume` runs it: no project given, opened from the job folder
    result = runner.run_job(state.folder, model=model)
    assert result.status == "done" and not unfinished_job_ids(project.folder)
    assert Project.open(project.folder).read_preview(ids[0], 0).shape == (8 * HOP[0],)


def test_preview_job_rejects_bad_input(project, model) -> None:
    with pytest.raises(ValueError, match="at least one take"):
        jobs.create_preview(project, model.config, [])
    with pytest.raises(ValueError, match="create_preview_job"):
        jobs.create_job(
            project.folder, "preview", model_name="m", config=model.config, codes=[], labels=[],
            settings=jobs.JobSettings(levels=[0], sample_length=128, total_length=128),
        )  # fmt: skip
