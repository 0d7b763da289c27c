"""The window plan of the sampling cascade (pure functions, no weights)."""

from __future__ import annotations

import itertools

import pytest
import torch
from transformers.models.jukebox.modeling_jukebox import get_starts as hf_get_starts

from jukestudio.model import sample_loop
from jukestudio.model.config import preset
from jukestudio.model.sample_loop import DurationError, Window, get_starts, plan_level

SR = 44100


GEOMETRIES = [(52, 6), (64, 32), (6144, 768), (8192, 1024), (8192, 4096)]
TOTALS = [52, 53, 57, 64, 100, 6144, 20671, 62015, 82684, 330736]


@pytest.mark.parametrize(("total", "n_ctx", "hop"), [(t, n, h) for n, h in GEOMETRIES for t in TOTALS if t >= n])
def test_get_starts_matches_reference_implementation(total: int, n_ctx: int, hop: int) -> None:
    assert get_starts(total, n_ctx, hop) == hf_get_starts(total, n_ctx, hop)


@pytest.mark.parametrize(
    ("name", "seconds", "tokens", "windows"),
    [
        # counts from the original-jukebox notes (§3.2): 60 s and 180 s of the 5b model
        ("5b", 60, (20671, 82684, 330736), (14, 20, 80)),
        ("5b", 180, (62015, 248060, 992240), (54, 60, 242)),
        ("5b_lyrics", 60, (20671, 82684, 330736), (14, 20, 80)),
    ],
)
def test_plan_for_released_geometry(name: str, seconds: int, tokens: tuple, windows: tuple) -> None:
    config = preset(name)
    geometries = sample_loop.level_geometries(config)
    assert [g.hop for g in geometries] == [1024, 4096, 4096]
    assert [g.raw_to_tokens for g in geometries] == [128, 32, 8]
    assert [g.cond_downsample for g in geometries] == [None, 4, 4]
    length = seconds * SR // 128 * 128
    assert tuple(sample_loop.level_lengths(length, geometries)) == tokens
    plan = sample_loop.plan(geometries, [0, 1, 2], length, [0, 0, 0])
    assert tuple(len(plan[p]) for p in range(3)) == windows
    for p, ws in plan.items():
        # every token sampled exactly once, windows contiguous, each ends where the next one's new part starts
        assert sum(w.new_tokens for w in ws) == sample_loop.level_lengths(length, geometries)[p]
        for a, b in itertools.pairwise(ws):
            assert b.start + b.context == a.end
        assert all(w.start % 4 == 0 for w in ws) or p == 0


def test_plan_1b_top_uses_eighth_hop() -> None:
    geometries = sample_loop.level_geometries(preset("1b_lyrics"))
    top = geometries[0]
    assert (top.n_ctx, top.hop) == (6144, 768)
    ws = plan_level(0, 8000, 0, top.n_ctx, top.hop)
    assert [w.start for w in ws] == [0, 768, 1536, 1856]
    assert [w.new_tokens for w in ws] == [6144, 768, 768, 320]
    assert ws[-1].end == 8000


def test_partial_window_and_continuation() -> None:
    assert plan_level(0, 17, 0, 52, 6) == [Window(0, 0, 17, 0, 0)]
    # continuing a short take inside one window: one window from 0 with the take as context
    assert plan_level(0, 51, 17, 52, 6) == [Window(0, 0, 51, 17, 0)]
    # continuing past a window: only the windows that add tokens, each primed with what exists
    ws = plan_level(0, 70, 60, 52, 6)
    assert [(w.start, w.context, w.new_tokens) for w in ws] == [(12, 48, 4), (18, 46, 6)]
    assert plan_level(0, 40, 40, 52, 6) == []


def test_replanning_after_each_window_gives_the_remaining_windows() -> None:
    full = plan_level(1, 300, 0, 64, 32)
    have = 0
    for i, window in enumerate(full):
        assert [(w.start, w.length) for w in plan_level(1, 300, have, 64, 32)] == [
            (w.start, w.length) for w in full[i:]
        ]
        have = window.end


def test_upper_conditioning_is_exactly_the_window() -> None:
    geometry = sample_loop.level_geometries(preset("5b"))[1]
    upper = torch.arange(4096).unsqueeze(0)
    window = Window(1, 4096, 8192, 4096)
    (cond,) = sample_loop.upper_conditioning([upper, torch.zeros(1, 8192, dtype=torch.long)], geometry, window)
    assert torch.equal(cond, upper[:, 1024:3072])
    with pytest.raises(ValueError, match="needs the level above"):
        sample_loop.upper_conditioning([upper[:, :3000], upper], geometry, window)
    with pytest.raises(ValueError, match="multiple of 4"):
        sample_loop.upper_conditioning([upper, upper], geometry, Window(1, 6, 8192, 0))


def test_duration_rules_of_the_top_prior() -> None:
    config = preset("1b_lyrics")
    geometries = sample_loop.level_geometries(config)
    length = 10 * SR // 128 * 128
    with pytest.raises(DurationError, match=r"shorter than this model.s minimum of 17\.84 s"):
        sample_loop.check_durations(geometries, [0], length, 0, length, SR)
    sample_loop.check_durations(geometries, [0], 180 * SR, 0, length, SR)  # 10 s of a 3-minute song
    with pytest.raises(DurationError, match="maximum of 600 s"):
        sample_loop.check_durations(geometries, [0], 600 * SR, 0, length, SR)
    with pytest.raises(DurationError, match="after the end of the declared song"):
        sample_loop.check_durations(geometries, [0], 20 * SR, 15 * SR, length, SR)
    # upsamplers have no timing labels: nothing to check
    sample_loop.check_durations(geometries, [1, 2], length, 0, length, SR)
