"""Sampling jobs on a project with the tiny fixture model (CPU): modes, determinism, cancel/resume, progress."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from jukestudio.engine import decode, jobs, runner
from jukestudio.engine.progress import Cancelled, CancelToken, Progress
from jukestudio.engine.state import JobState, read_jobs, unfinished_job_ids, unfinished_jobs
from jukestudio.model.sample_loop import DurationError
from jukestudio.model.sampling_params import SamplingParams
from jukestudio.project import Project, ProjectSettings
from tests.conftest import ORIG_TINY
from tests.engine.tiny import TINY_HF, tiny_project

SR = 44100
TOP, MID, LOW = 128, 32, 8  # samples per token, prior order


@pytest.fixture
def project(tmp_path):
    return tiny_project(
        tmp_path / "song", lyrics="I met a traveller from an antique land", take_length_s=0.16, seed=7
    )


def codes_of(project: Project, take_ids: list[str]) -> list[list[torch.Tensor | None]]:
    fresh = Project.open(project.folder)
    return [fresh.read_codes(t) for t in take_ids]


def test_compose_all_levels_gives_right_lengths_and_takes(project, model) -> None:
    state = jobs.create_compose(project, model, levels=(0, 1, 2))
    events: list[Progress] = []
    result = runner.run_job(state.folder, model=model, report=events.append, project=project)
    n_top = int(0.16 * SR) // TOP
    assert [c.shape for c in result.codes] == [(2, n_top), (2, n_top * 4), (2, n_top * 16)]
    stored = codes_of(project, result.take_ids)
    for i, levels in enumerate(stored):
        for level, codes in enumerate(levels):
            assert torch.equal(codes, result.codes[level][i])
    fresh = Project.open(project.folder)
    assert all(fresh.take(t).best_level == 2 for t in result.take_ids)
    assert fresh.read_preview(result.take_ids[0], 0).shape == (n_top * TOP,)
    # preview mode: decode any finished level of a take into the project's preview cache
    audio = decode.preview_take(fresh, model, result.take_ids[1], level=2)
    assert audio.shape == (n_top * TOP,) and abs(audio).max() <= 1.0
    assert fresh.preview_levels(result.take_ids[1]) == [0, 2]
    info = json.loads((state.folder / "job.json").read_text())
    assert info["status"] == "done" and info["take_ids"] == result.take_ids
    assert {r.id for r in read_jobs(fresh.folder)[0]} == {state.job_id} and not unfinished_jobs(fresh.folder)

    # progress: monotonic, ends at 100 %, every level's windows counted
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and events[-1].is_final
    assert events[-1].tokens_done == events[-1].tokens_total == 2 * n_top * 21
    assert {e.level for e in events} == {0, 1, 2}
    assert all(e.window < e.n_windows for e in events if e.level == 2 and e.fraction < 1)
    assert any(e.eta_s is not None and e.eta_s > 0 for e in events)


def test_same_seed_same_codes_other_seed_other_codes(project, model) -> None:
    runs = []
    for seed in (3, 3, 4):
        state = jobs.create_compose(project, model, seed=seed)
        runs.append(runner.run_job(state.folder, model=model, project=project).codes[0])
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])
    assert not torch.equal(runs[0][0], runs[0][1])  # the takes of a batch differ


class CancelAfter:
    """Report callback that cancels the job after ``n`` step events of ``level``."""

    def __init__(self, token: CancelToken, level: int, n: int) -> None:
        self.token, self.level, self.n, self.seen = token, level, n, 0

    def __call__(self, progress: Progress) -> None:
        if progress.level == self.level and progress.fraction < 1:
            self.seen += 1
            if self.seen >= self.n:
                self.token.cancel()


@pytest.mark.parametrize(("level", "after"), [(0, 60), (1, 100)])
def test_cancel_mid_level_then_resume_is_identical(project, model, level, after) -> None:
    # 0.2 s: top windows of 52, 6, 6 and 4 new tokens; level 1: 64 then 32 per window
    reference = jobs.create_compose(project, model, levels=(0, 1), seed=11, seconds=0.2)
    expected = runner.run_job(reference.folder, model=model, project=project).codes

    state = jobs.create_compose(project, model, levels=(0, 1), seed=11, seconds=0.2)
    token = CancelToken()
    with pytest.raises(Cancelled) as info:
        report = CancelAfter(token, level, after)
        runner.run_job(state.folder, model=model, report=report, cancel=token, project=project)
    kept = info.value.args[0]
    assert kept.status == "cancelled"
    saved = JobState.load(state.folder)
    assert saved.status == "cancelled"
    # what was kept is a prefix of the uninterrupted run (finished windows only), and stopped mid-job
    for p in range(3):
        assert torch.equal(saved.codes[p], expected[p][:, : saved.codes[p].shape[1]])
    assert saved.codes[level].shape[1] < expected[level].shape[1]
    unfinished = unfinished_jobs(project.folder)
    assert unfinished_job_ids(project.folder) == [] and state.job_id not in {j.id for j in unfinished}

    events: list[Progress] = []
    resumed = runner.run_job(state.folder, model=model, report=events.append, project=project)
    for p in range(3):
        assert torch.equal(resumed.codes[p], expected[p])
    assert events[0].fraction > 0 and events[-1].fraction == 1.0
    assert [e.fraction for e in events] == sorted(e.fraction for e in events)


def test_continue_extends_a_take_into_variations(project, model) -> None:
    first = runner.run_job(jobs.create_compose(project, model, n_takes=1).folder, model=model, project=project)
    parent = first.take_ids[0]
    parent_codes = first.codes[0][0]
    state = jobs.create_continue(project, model, parent, n_variations=3, seconds=0.05)
    result = runner.run_job(state.folder, model=model, project=project)
    added = int(0.05 * SR) // TOP
    assert result.codes[0].shape == (3, parent_codes.numel() + added)
    assert torch.equal(result.codes[0][:, : parent_codes.numel()], parent_codes.repeat(3, 1))
    assert len({tuple(row.tolist()) for row in result.codes[0]}) > 1
    fresh = Project.open(project.folder)
    for take_id in result.take_ids:
        take = fresh.take(take_id)
        assert take.parent_id == parent and take.origin == "continue"
        assert take.continued_from_s == pytest.approx(parent_codes.numel() * TOP / SR)


def test_upsample_chosen_takes_respects_the_upper_level(project, model, monkeypatch) -> None:
    composed = runner.run_job(jobs.create_compose(project, model).folder, model=model, project=project)
    seen = []
    for level in (1, 2):
        prior = model.priors[level]
        original = prior.sample

        def spy(*args, _original=original, _level=level, **kwargs):
            seen.append((_level, kwargs["music_tokens_conds"][0].clone(), kwargs["music_tokens"].shape[1]))
            return _original(*args, **kwargs)

        monkeypatch.setattr(prior, "sample", spy)
    state = jobs.create_upsample(project, model, composed.take_ids)
    result = runner.run_job(state.folder, model=model, project=project)
    n_top = composed.codes[0].shape[1]
    assert [c.shape[1] for c in result.codes] == [n_top, 4 * n_top, 16 * n_top]
    assert torch.equal(result.codes[0], composed.codes[0])
    # every upsampler window was conditioned on exactly the upper codes under it
    n_ctx = model.config.prior_configs[1].n_ctx
    windows = {1: 0, 2: 0}
    for level, cond, _context in seen:
        upper = result.codes[level - 1]
        matches = [
            start
            for start in range(0, result.codes[level].shape[1] - n_ctx + 1, 4)
            if torch.equal(cond, upper[:, start // 4 : (start + n_ctx) // 4])
        ]
        assert matches, f"level {level}: conditioning is not a window of the level above"
        windows[level] += 1
    assert windows[1] > 1 and windows[2] > 1
    fresh = Project.open(project.folder)
    for i, take_id in enumerate(composed.take_ids):
        assert fresh.take(take_id).best_level == 2
        assert torch.equal(fresh.read_codes(take_id)[2], result.codes[2][i])


def test_upsample_a_region_only(project, model) -> None:
    composed = runner.run_job(jobs.create_compose(project, model, n_takes=1).folder, model=model, project=project)
    take_id = composed.take_ids[0]
    state = jobs.create_upsample(project, model, [take_id], region_s=(0.05, 0.1), levels=(1,))
    result = runner.run_job(state.folder, model=model, project=project)
    first, last = int(0.05 * SR) // TOP, -(-int(0.1 * SR) // TOP)
    assert state.settings["offset"] == first * TOP
    assert torch.equal(result.codes[0], composed.codes[0][:, first:last])
    assert result.codes[1].shape == (1, (last - first) * 4)
    fresh = Project.open(project.folder)
    assert fresh.take(take_id).level_status(1) == "partial"
    # the take keeps the job that made it; the upsample joins its history with its seed and region
    assert fresh.take(take_id).job_id == composed.job_id
    history = fresh.take(take_id).extra["jobs"]
    assert [(e["id"], e["kind"]) for e in history] == [(composed.job_id, "compose"), (state.job_id, "upsample")]
    assert history[1]["levels"] == ["middle"] and history[1]["region_s"] == [first * TOP / SR, last * TOP / SR]
    assert JobState.load(state.folder).info["source"]["region_tokens"] == [first, last]


def test_primed_compose_keeps_the_prompt(project, model) -> None:
    wave = load_file(str(ORIG_TINY / "tiny" / "reference.safetensors"))["wave"]
    prompt = model.encode_prompt(wave)
    assert [c.shape[1] for c in prompt] == [64, 256, 1024]
    state = jobs.create_compose(project, model, prompt=wave[0, :, 0].numpy(), seconds=0.05)
    result = runner.run_job(state.folder, model=model, project=project)
    added = int(0.05 * SR) // TOP
    assert result.codes[0].shape == (2, 64 + added)
    assert torch.equal(result.codes[0][:, :64], prompt[0].repeat(2, 1))
    fresh = Project.open(project.folder)
    take = fresh.take(result.take_ids[0])
    assert take.level_status(0) == "done" and take.level_status(1) == "partial"
    assert torch.equal(fresh.read_codes(take.id)[1], prompt[1][0])
    # upsampling the take continues the prompt's lower codes instead of replacing them
    up = runner.run_job(
        jobs.create_upsample(project, model, [take.id], levels=(1,)).folder, model=model, project=project
    )
    assert torch.equal(up.codes[1][:, :256], prompt[1])
    assert up.codes[1].shape[1] == 4 * (64 + added)


def test_duration_rules_are_checked_when_the_job_is_created(project, model) -> None:
    config = copy.deepcopy(model.config)
    config.prior_configs[0].min_duration = 0.5
    with pytest.raises(DurationError, match=r"0\.30 s is shorter than this model's minimum of 0\.5 s"):
        project.update_settings(total_length_s=0.3)
        jobs.create_compose(project, SimpleNamespace(config=config))
    project.update_settings(total_length_s=1.5)
    with pytest.raises(DurationError, match="maximum of 1 s"):
        jobs.create_compose(project, model)
    assert not list((project.folder / "jobs").iterdir())


def test_out_of_memory_retries_the_window_with_half_the_batch(model, monkeypatch) -> None:
    prior = model.priors[0]
    original = prior.sample
    calls = []

    def flaky(n_samples, **kwargs):
        calls.append(n_samples)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(n_samples, **kwargs)

    monkeypatch.setattr(prior, "sample", flaky)
    messages = []
    labels = jobs.labels_for(model.config, ProjectSettings(artist="x", genres=["Country"], lyrics="la la"))
    generator = torch.Generator().manual_seed(0)
    codes = model.ancestral_sample(
        labels,
        2,
        sample_levels=[0],
        sample_length=20 * TOP,
        chunk_size=8,
        generator=generator,
        on_message=messages.append,
    )
    assert calls == [2, 1, 1]
    assert codes[0].shape == (2, 20)
    assert messages and "retrying the window with 1 takes at a time" in messages[0]


def test_a_job_created_without_take_ids_finishes_into_new_takes(project, model) -> None:
    # jobs created elsewhere (the GUI) may leave choosing take ids to the engine
    params = SamplingParams(chunk_sizes=(8, 8, 8), seed=1)
    settings = jobs.compose_settings(model.config, 0.05, total_seconds=0.9, params=params)
    state = jobs.create_job(
        project.folder, "compose", model_name=str(TINY_HF), config=model.config,
        codes=[torch.zeros(2, 0, dtype=torch.long) for _ in range(3)],
        labels=jobs.labels_for(model.config, project.settings), settings=settings,
    )  # fmt: skip
    assert state.info["take_ids"] == []
    result = runner.run_job(state.folder, model=model, project=project)
    assert len(result.take_ids) == 2
    assert json.loads((state.folder / "job.json").read_text())["take_ids"] == result.take_ids
    assert all(project.take(t).job_id == state.job_id for t in result.take_ids)


def test_one_process_runs_a_job_at_a_time(project, model) -> None:
    import os
    import subprocess
    import sys

    state = jobs.create_compose(project, model, seconds=0.03)
    lock = state.folder / runner.LOCK_FILE
    lock.write_text(str(os.getppid()))  # a live process that is not us
    with pytest.raises(RuntimeError, match="being run by process"):
        runner.run_job(state.folder, model=model, project=project)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(dead.stdout.strip())  # left by a killed process: taken over
    assert runner.run_job(state.folder, model=model, project=project).status == "done"
    assert not lock.exists()
