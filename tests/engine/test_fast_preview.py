"""Fast preview: weight-only int8 for the top prior's token step on CPU (opt-in, upsamplers stay fp32)."""

from __future__ import annotations

import logging

import pytest
import torch

from jukestudio.engine import jobs, runner
from jukestudio.engine.state import JobState
from jukestudio.model.quantize import (
    Int8Weight,
    fast_preview,
    int8_addmm,
    int8_linear,
    kernel_available,
    quantize_int8,
    quantize_prior,
)
from jukestudio.project import ProjectSettings
from tests.engine.tiny import tiny_labels


def test_int8_matmul_is_close_to_fp32() -> None:
    g = torch.Generator().manual_seed(0)
    w, b, x = torch.randn(256, 96, generator=g), torch.randn(96, generator=g), torch.randn(3, 256, generator=g)
    q = quantize_int8(w)
    assert isinstance(q, Int8Weight) and q.q.dtype == torch.int8 and q.q.shape == (96, 256)
    exact = torch.addmm(b, x, w)
    got = int8_addmm(b, x, q)
    assert got.dtype == torch.float32 and got.shape == exact.shape
    rel = (got - exact).norm() / exact.norm()
    assert 1e-5 < rel < 0.01  # quantised (not the fp32 path in disguise), and close
    assert kernel_available()  # torch 2.13 CPU has aten._weight_int8pack_mm


def test_int8_covers_the_mlps_and_the_logits_head_not_the_attention(model) -> None:
    autoregressive = model.priors[0].prior
    weights = quantize_prior(autoregressive)
    blocks = autoregressive.transformer._attn_mods
    assert set(weights) == {m for b in blocks for m in (b.mlp.c_fc, b.mlp.c_proj)} | {autoregressive.fc_proj_out}
    head = weights[autoregressive.fc_proj_out]
    assert head.q.shape == autoregressive.fc_proj_out.weight.shape  # (vocabulary, width), as nn.Linear
    h = torch.randn(4, autoregressive.width, generator=torch.Generator().manual_seed(2))
    exact = torch.nn.functional.linear(h, autoregressive.fc_proj_out.weight)
    rel = (int8_linear(h, head).float() - exact).norm() / exact.norm()
    assert 1e-5 < rel < 0.01
    assert quantize_prior(autoregressive) is weights  # cached while the weights are unchanged


def test_fast_preview_is_on_for_the_top_level_only_and_close_to_fp32(model) -> None:
    seen = []

    def on_step(window, done, rows, i, n):
        seen.append((window.level, model.priors[window.level].prior.transformer.int8_weights is not None))

    kw = dict(sample_levels=[0, 1], sample_tokens=6, chunk_size=8, total_length_in_seconds=0.9, on_step=on_step)
    labels = tiny_labels(2)
    empty = [torch.zeros(2, 0, dtype=torch.long) for _ in range(3)]
    model._sample(list(empty), labels, generator=torch.Generator().manual_seed(1), fast_preview=True, **kw)
    assert {lv for lv, on in seen if on} == {0} and (1, False) in seen
    assert all(p.prior.transformer.int8_weights is None for p in model.priors)  # off again after


def test_fast_preview_next_token_distributions_match_fp32(model) -> None:
    prior = model.priors[0]
    stack = prior.prior.transformer
    n, length, width = 2, 24, prior.prior.width
    xs = torch.randn(length, n, 1, width, generator=torch.Generator().manual_seed(3)) * 0.5
    proj = prior.prior.fc_proj_out.weight

    def logits():
        caches = stack.new_caches(n, length, torch.device("cpu"))
        plan = stack.step_plan()
        return torch.stack([torch.nn.functional.linear(stack.step(xs[t], t, caches, plan)[:, 0], proj)
                            for t in range(length)])  # fmt: skip

    with torch.inference_mode():
        exact = logits()
        with fast_preview(prior, torch.device("cpu")) as on:
            assert on
            fast = logits()
    kl = torch.nn.functional.kl_div(fast.log_softmax(-1), exact.log_softmax(-1), log_target=True, reduction="none")
    mean_kl = float(kl.sum(-1).mean())
    assert 0 < mean_kl < 0.01
    assert not torch.equal(fast, exact)


def test_fast_preview_elsewhere_warns_and_stays_full_precision(model, caplog) -> None:
    with (
        caplog.at_level(logging.WARNING, "jukestudio.model.quantize"),
        fast_preview(model.priors[0], torch.device("cuda")) as on,
    ):
        assert not on and model.priors[0].prior.transformer.int8_weights is None
    assert "for CPU sampling" in caplog.text


def test_setting_travels_from_project_to_job_and_can_be_chosen_per_job(project, model) -> None:
    assert ProjectSettings().fast_preview is False
    with pytest.raises(ValueError, match="fast_preview"):
        ProjectSettings(fast_preview="yes").validate()
    plain = jobs.create_compose(project, model)
    assert JobState.load(plain.folder).settings["fast_preview"] is False
    chosen = jobs.create_compose(project, model, settings=project.settings.copy(fast_preview=True))
    assert jobs.JobSettings.from_dict(JobState.load(chosen.folder).settings).fast_preview is True
    project.update_settings(fast_preview=True)
    assert JobState.load(jobs.create_compose(project, model).folder).settings["fast_preview"] is True
    result = runner.run_job(chosen.folder, model=model, project=project, device="cpu")
    assert result.status == "done" and result.codes[0].shape[1] > 0
