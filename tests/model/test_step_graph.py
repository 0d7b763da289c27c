"""The fixed-shape ("static") token step that CUDA graphs replay gives the eager step's codes (CPU).

Every attention kind is covered: block / column / previous-row / prime (1b_lyrics style), cross
attention (5b_lyrics style, with its lyric encoder) and dense.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch

from jukestudio.model import config as presets
from jukestudio.model.attention import BLOCK, CROSS, DENSE, PREV_BLOCK, PRIME, TRANSPOSE
from jukestudio.model.prior import JukeboxPrior
from jukestudio.model.step_graph import StaticStep, step_mode


def small(top, **changes):
    enc = top.encoder_config
    if enc is not None:
        enc = dataclasses.replace(enc, hidden_size=16, num_layers=3, n_heads=2, blocks=4, n_ctx=16,
                                  nb_relevant_lyric_tokens=16)  # fmt: skip
    values = dict(hidden_size=32, n_heads=2, n_ctx=48, blocks=4, music_vocab_size=64, encoder_config=enc,
                  alignment_layer=None, alignment_head=None, min_duration=0.0, max_duration=600.0)  # fmt: skip
    values.update(changes)
    return dataclasses.replace(top, **values)


STYLES = {
    "1b_lyrics": lambda: small(presets._top_1b_lyrics(), num_layers=16, nb_relevant_lyric_tokens=16),
    "5b_lyrics": lambda: small(presets._top_5b(lyrics=True), num_layers=19, nb_relevant_lyric_tokens=16),
    "dense": lambda: small(presets._top_5b(lyrics=False), num_layers=2, attention_pattern="full_dense_attention"),
}


def build(style: str) -> JukeboxPrior:
    prior = JukeboxPrior(STYLES[style]()).eval()
    prior.init_weights(torch.Generator().manual_seed(0))
    with torch.no_grad():  # larger weights than the original init: sharper distributions, a harder test
        for p in prior.prior.transformer.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.15, generator=torch.Generator().manual_seed(p.numel()))
    return prior


def labels(prior: JukeboxPrior, n: int) -> torch.Tensor:
    genres = [3] + [-1] * (prior.config.max_nb_genres - 1)
    lyrics = torch.randint(1, 40, (60,), generator=torch.Generator().manual_seed(1)).tolist()
    return torch.tensor([[0, 0, 0, 2, *genres, *lyrics]]).repeat(n, 1)


def sample(prior: JukeboxPrior, n: int, context: int, seed: int = 4) -> torch.Tensor:
    metadata = prior.get_metadata(labels(prior, n), 0, 44100 * 30)
    codes = torch.randint(0, 64, (n, context), generator=torch.Generator().manual_seed(9))
    g = torch.Generator().manual_seed(seed)
    return prior.sample(n, music_tokens=codes, metadata=metadata, chunk_size=7, generator=g)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_static_step_gives_the_eager_codes(style) -> None:
    prior = build(style)
    kinds = set(prior.prior.transformer.kinds)
    expected = {"1b_lyrics": {BLOCK, TRANSPOSE, PREV_BLOCK, PRIME}, "5b_lyrics": {BLOCK, TRANSPOSE, PREV_BLOCK, CROSS}}
    assert kinds >= expected.get(style, {DENSE})
    stack = prior.prior.transformer
    eager = [sample(prior, 2, 5), sample(prior, 2, 0, seed=6)]
    with step_mode(stack, "static"):
        # two windows of one shape share the kept caches (reset in between) and the step
        static = [sample(prior, 2, 5), sample(prior, 2, 0, seed=6)]
        assert len(stack._sessions) == 1
    assert not stack._sessions and stack.step_mode == "eager"
    for a, b in zip(eager, static, strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(eager[0], eager[1])  # the test would notice a step that ignores its input


def test_static_step_matches_the_eager_step_numerically() -> None:
    prior = build("1b_lyrics")
    stack = prior.prior.transformer
    width, n, length = 32, 3, 40
    g = torch.Generator().manual_seed(2)
    xs = torch.randn(length, n, 1, width, generator=g)
    eager_caches = stack.new_caches(n, length, torch.device("cpu"))
    static_caches = stack.new_caches(n, length, torch.device("cpu"))
    step = StaticStep(stack, static_caches, n, torch.device("cpu"), use_graph=False)
    plan = stack.step_plan()
    with torch.inference_mode():
        for t in range(length):
            a = stack.step(xs[t], t, eager_caches, plan)
            b = step(xs[t], t)
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)


def test_a_failed_graph_capture_falls_back_to_eager_with_one_warning(caplog) -> None:
    prior = build("5b_lyrics")
    expected = sample(prior, 1, 3)
    stack = prior.prior.transformer
    with caplog.at_level(logging.WARNING, "jukestudio.model.step_graph"), step_mode(stack, "cuda_graph"):
        got = sample(prior, 1, 3)  # on a CPU build the capture itself fails
    assert torch.equal(got, expected)
    warnings = [r for r in caplog.records if "CUDA graph failed" in r.getMessage()]
    if torch.cuda.is_available():
        assert not warnings
    else:
        assert len(warnings) == 1 and "sampling eagerly" in warnings[0].getMessage()


def test_a_smaller_batch_drops_the_larger_kept_caches() -> None:
    # the engine's out-of-memory retry samples the window again with half the takes
    prior = build("dense")
    stack = prior.prior.transformer
    with step_mode(stack, "static"):
        sample(prior, 4, 3)
        sample(prior, 2, 3)
        assert [key[0] for key in stack._sessions] == [2]
        sample(prior, 2, 0)  # same shape: reused
        assert [key[0] for key in stack._sessions] == [2]
