"""Device choice and the per-job memory estimate used to pick how many takes run at once."""

from __future__ import annotations

import pytest
import torch

from jukestudio.engine import device as devices
from jukestudio.model.config import preset

GB = 1e9


@pytest.mark.parametrize(
    ("name", "level", "low", "high"),
    [
        # the original README: KV cache "about 400 MB" per sample for 1b, "about 1 GB" for 5b_lyrics
        ("1b_lyrics", 0, 0.3, 0.45),
        ("5b_lyrics", 0, 0.9, 1.1),
        ("5b", 1, 0.3, 0.45),  # upsampler, ~0.38 GB by the notes' arithmetic
    ],
)
def test_kv_cache_estimate_matches_the_published_figures(name, level, low, high) -> None:
    estimate = devices.estimate_prior_memory(preset(name).prior_configs[level], n_params=0, bytes_per_value=2)
    assert low * GB <= estimate.kv_bytes_per_sample <= high * GB


def test_batch_fits_the_free_memory() -> None:
    config = preset("5b_lyrics").prior_configs[0]
    estimate = devices.estimate_prior_memory(config, n_params=5_640_506_800, bytes_per_value=2)
    gpu = torch.device("cuda")
    # 16 GB free (a V100): weights 11.3 GB leave room for 2 takes (the README: "5B can fit only up to 3")
    batch = devices.choose_batch(estimate, n_samples=8, max_batch=16, device=gpu, free_bytes=int(16 * GB))
    assert batch == 2
    assert devices.choose_batch(estimate, 8, 16, gpu, free_bytes=int(80 * GB)) == 8
    assert devices.choose_batch(estimate, 8, 3, gpu, free_bytes=int(80 * GB)) == 3
    assert devices.choose_batch(estimate, 8, 16, gpu, free_bytes=int(8 * GB)) == 1
    assert devices.choose_batch(estimate, 8, 16, torch.device("cpu")) == 8


def test_pick_device_never_needs_cuda() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert devices.pick_device(None).type == expected
    assert devices.pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            devices.pick_device("cuda")
