"""The optional `compile` sampling setting on CPU: carried in job state, eager with a warning, same codes.

torch.compile itself is never run here (slow, and CUDA graphs need a GPU): the hook is checked with a
stand-in compiler.
"""

from __future__ import annotations

import logging

import pytest
import torch

from jukestudio.engine import jobs, runner
from jukestudio.engine.state import JobState
from jukestudio.model import sample_loop
from jukestudio.project import Project, ProjectSettings
from tests.engine.tiny import TINY_HF, tiny_labels


@pytest.fixture
def project(tmp_path):
    settings = ProjectSettings(
        model=str(TINY_HF), artist="Zac Brown Band", genres=["Country"], lyrics="I met a traveller",
        total_length_s=0.9, take_length_s=0.06, n_takes=2, seed=11, chunk_sizes=[8, 8, 8], max_batch=2,
    )  # fmt: skip
    return Project.create(tmp_path / "song", settings)


def test_setting_is_saved_in_job_state_and_defaults_off(project, model) -> None:
    state = jobs.create_compose(project, model, compile=True, device="cpu")
    assert JobState.load(state.folder).settings["compile"] is True
    assert jobs.JobSettings.from_dict(JobState.load(state.folder).settings).compile is True
    plain = jobs.create_compose(project, model)
    assert JobState.load(plain.folder).settings["compile"] is False
    old = {k: v for k, v in plain.settings.items() if k != "compile"}  # a job.json from before the setting
    assert jobs.JobSettings.from_dict(old).compile is False


def test_compile_on_cpu_runs_eagerly_with_one_warning_and_same_codes(project, model, caplog) -> None:
    eager = jobs.create_compose(project, model, levels=(0, 1), seed=5, compile=False)
    compiled = jobs.create_compose(project, model, levels=(0, 1), seed=5, compile=True)
    a = runner.run_job(eager.folder, model=model, project=project, device="cpu")
    with caplog.at_level(logging.WARNING, logger="jukestudio.model.sample_loop"):
        b = runner.run_job(compiled.folder, model=model, project=project, device="cpu")
    warnings = [r for r in caplog.records if "compile=True" in r.getMessage()]
    assert len(warnings) == 1 and "eagerly" in warnings[0].getMessage()  # once, not once per level
    assert b.status == "done" and len(a.codes) == len(b.codes)
    for x, y in zip(a.codes, b.codes, strict=True):
        assert torch.equal(x, y)
    assert a.codes[1].shape[1] > 0  # the upsampler level ran too


def sample_top(model, n: int = 12) -> torch.Tensor:
    prior = model.priors[0]
    metadata = prior.get_metadata(tiny_labels(1)[0], 0, 39690, offset=0)
    generator = torch.Generator().manual_seed(3)
    return prior.sample(1, metadata=metadata, sample_tokens=n, generator=generator, temp=1.0)


def test_compiled_step_wraps_the_per_token_step(model, monkeypatch) -> None:
    stack = model.priors[0].prior.transformer
    calls = []

    def fake_compile(fn, mode=None):
        assert mode == "reduce-overhead"

        def run(*args, **kwargs):
            calls.append(args[1])  # the position t
            return fn(*args, **kwargs)

        return run

    expected = sample_top(model)
    monkeypatch.setattr(torch, "compile", fake_compile)
    with sample_loop.compiled_step(model.priors[0], torch.device("cuda")) as wrapped:
        got = sample_top(model)
    # one call per sampled token (the lyrics prior's positions start after its lyric context)
    assert wrapped and len(calls) == 12 and calls == list(range(calls[0], calls[0] + 12))
    assert torch.equal(got, expected)
    assert "step" not in stack.__dict__  # the method is back after the window


def test_failing_compile_falls_back_to_eager_with_a_warning(model, monkeypatch, caplog) -> None:
    def broken_compile(fn, mode=None):
        def run(*args, **kwargs):
            raise RuntimeError("backend compiler failed")

        return run

    expected = sample_top(model)
    monkeypatch.setattr(torch, "compile", broken_compile)
    cuda = torch.device("cuda")  # only the device's type is looked at: nothing runs there
    with (
        caplog.at_level(logging.WARNING, "jukestudio.model.sample_loop"),
        sample_loop.compiled_step(model.priors[0], cuda),
    ):
        got = sample_top(model)
    assert torch.equal(got, expected)
    failures = [r for r in caplog.records if "sampling eagerly" in r.getMessage()]
    assert len(failures) == 1 and "backend compiler failed" in failures[0].getMessage()


def test_unavailable_compile_warns_and_stays_eager(model, monkeypatch, caplog) -> None:
    def refusing_compile(fn, mode=None):
        raise RuntimeError("torch.compile is not supported on this Python")

    monkeypatch.setattr(torch, "compile", refusing_compile)
    cuda = torch.device("cuda")
    with (
        caplog.at_level(logging.WARNING, "jukestudio.model.sample_loop"),
        sample_loop.compiled_step(model.priors[0], cuda) as wrapped,
    ):
        pass
    assert not wrapped and "not supported" in caplog.text
