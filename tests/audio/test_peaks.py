"""PeakPyramid against a brute-force min/max over every bucket's samples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jukestudio.audio.peaks import PeakPyramid


def brute_force(audio: np.ndarray, start: int, end: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    start, end = max(0, start), min(len(audio), end)
    if end <= start:
        return np.zeros(n), np.zeros(n)
    span = end - start
    mins, maxs = np.empty(n), np.empty(n)
    for i in range(n):
        lo = start + i * span // n
        hi = max(start + (i + 1) * span // n, lo + 1)
        mins[i], maxs[i] = audio[lo:hi].min(), audio[lo:hi].max()
    return mins, maxs


@settings(max_examples=300, deadline=None)
@given(
    length=st.integers(0, 4000),
    base=st.integers(1, 32),
    factor=st.integers(2, 6),
    start=st.integers(-10, 4010),
    width=st.integers(-10, 4010),
    n=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_brute_force(length, base, factor, start, width, n, seed) -> None:
    audio = np.random.default_rng(seed).standard_normal(length).astype(np.float32)
    pyramid = PeakPyramid(audio, base=base, factor=factor)
    mins, maxs = pyramid.range(start, start + width, n)
    want_min, want_max = brute_force(audio, start, start + width, n)
    np.testing.assert_array_equal(mins, want_min)
    np.testing.assert_array_equal(maxs, want_max)


def test_long_audio_all_zoom_levels_exact_at_spot_checks() -> None:
    rng = np.random.default_rng(3)
    audio = rng.standard_normal(3_000_000).astype(np.float32)
    audio[1_234_567] = 9.0  # a lone transient must survive any zoom
    pyramid = PeakPyramid(audio)
    assert pyramid.nbytes() < audio.nbytes / 10
    for start, end, n in [(0, len(audio), 1000), (1_000_000, 1_500_000, 777), (1_234_000, 1_235_000, 640)]:
        mins, maxs = pyramid.range(start, end, n)
        want_min, want_max = brute_force(audio, start, end, n)
        np.testing.assert_array_equal(mins, want_min)
        np.testing.assert_array_equal(maxs, want_max)
        assert maxs.max() == 9.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="base"):
        PeakPyramid(np.zeros(10), base=0)
    with pytest.raises(ValueError, match="mono"):
        PeakPyramid(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="n_buckets"):
        PeakPyramid(np.zeros(10)).range(0, 10, 0)
