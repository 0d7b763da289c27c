"""The optional `compile` (CUDA graph) sampling setting on CPU: carried in job state, eager with a warning, same codes.

CUDA graphs need a GPU: here the capture fails and the step falls back to eager (same codes); the
graph path's fixed-shape step itself is checked on the CPU in tests/model/test_step_graph.py.
"""

from __future__ import annotations

import logging

import torch

from jukestudio.engine import jobs, runner
from jukestudio.engine.state import JobState
from jukestudio.model import sample_loop
from tests.engine.tiny import tiny_labels


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


def test_compiled_step_captures_the_token_step_on_cuda_and_falls_back_here(model, caplog) -> None:
    stack = model.priors[0].prior.transformer
    expected = sample_top(model)
    cuda = torch.device("cuda")  # only the device's type is looked at: the capture itself runs where the model is
    with (
        caplog.at_level(logging.WARNING, "jukestudio.model.step_graph"),
        sample_loop.compiled_step(model.priors[0], cuda) as wrapped,
    ):
        assert wrapped and stack.step_mode == "cuda_graph"
        got = sample_top(model)
    assert torch.equal(got, expected)
    assert stack.step_mode == "eager" and not stack._sessions  # graphs and kept caches freed after the level
    if not torch.cuda.is_available():  # the capture fails on a CPU build: one warning, eager codes
        assert "sampling eagerly" in caplog.text
