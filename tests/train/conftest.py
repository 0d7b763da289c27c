"""Fixtures for training tests: a few seconds of the procedural data set and a very small architecture."""

from __future__ import annotations

from pathlib import Path

import pytest

from jukestudio.model.config import JukeboxConfig
from jukestudio.train.loop import Schedule
from jukestudio.train.pipeline import Plan
from jukestudio.train.presets import tiny
from jukestudio.train.synthetic import build


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """9 clips of 2 s (3 styles x 3 instruments) plus 9 held-out ones."""
    folder = tmp_path_factory.mktemp("tiny-data")
    build(folder, clips_per_pair=2, seconds=2.0, seed=5, valid=1)
    return folder


def micro_config() -> JukeboxConfig:
    """The tiny architecture (real hops 8/32/128, same classes) shrunk so a step takes milliseconds."""
    config = tiny()
    vq = config.vqvae_config
    vq.res_conv_width, vq.res_conv_depth, vq.embed_dim, vq.nb_discrete_codes = 8, 1, 8, 32
    for prior in config.prior_configs:
        prior.hidden_size, prior.num_layers, prior.n_ctx, prior.blocks = 32, 3, 64, 4
        prior.music_vocab_size = 32
        prior.res_conv_width, prior.res_conv_depth = 16, 1
    return config


def micro_plan(steps: int = 6, checkpoint_every: int = 2, seed: int = 3) -> Plan:
    def schedule(offset: int, batch: int) -> Schedule:
        return Schedule(
            steps=steps, batch_size=batch, lr=3e-3, warmup=1, checkpoint_every=checkpoint_every, log_every=1,
            seed=seed + offset,
        )

    return Plan(vqvae=schedule(0, 2), priors=(schedule(1, 2), schedule(2, 2), schedule(3, 2)), crop_length=4096)
