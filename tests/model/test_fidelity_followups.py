"""Two fidelity follow-ups to the original code: the alignment head of a shrunk model's hps, and the
upsamplers' conditioner when the VQ-VAE's levels downsample differently (original indexing)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

from jukestudio.model.config import JukeboxConfig, preset
from jukestudio.model.modeling import JukeboxModel
from jukestudio.model.sample_loop import level_geometries
from jukestudio.model.weights.hf_format import TensorSource
from jukestudio.model.weights.loader import fill_module
from jukestudio.model.weights.modules import COMPONENTS, meta_component
from jukestudio.model.weights.openai_format import config_for_files, read_original
from tests.conftest import ORIG_TINY

FILES = {"vqvae": "vqvae", "prior_0": "prior_level_2", "prior_1": "prior_level_1", "prior_2": "prior_level_0"}


@torch.no_grad()
def test_an_alignment_head_past_the_models_heads_is_clamped_and_alignments_run() -> None:
    originals = [read_original(ORIG_TINY / "tiny" / "orig" / f"{FILES[c]}.pth.tar") for c in COMPONENTS]
    top = next(o for o in originals if o.component == "prior_0")
    heads = int(top.hps["heads"])
    originals[originals.index(top)] = dataclasses.replace(top, hps={**top.hps, "alignment_head": heads + 3})
    config, _ = config_for_files(originals)
    assert config.prior_configs[0].alignment_head == heads - 1
    prior = fill_module(
        meta_component(config, "prior_0"), TensorSource.from_state(top.state), component="prior_0"
    ).eval()
    ref = load_file(str(ORIG_TINY / "tiny" / "reference.safetensors"))
    alignment = prior.get_alignment(ref["alignment.tokens"], ref["prior0.labels"], 19968)
    assert alignment.shape[0] == 1 and alignment.min() >= 0.0 and alignment.max() <= 1.0


def _uneven_config() -> JukeboxConfig:
    """The demo model with a top VQ level that downsamples x8 (downs_t (3, 2, 3): hops 8, 32, 256)."""
    config = preset("demo")
    config.vqvae_config.res_downs_t = [3, 2, 3]
    for prior in config.prior_configs:
        prior.res_downs_t = [3, 2, 3]
        prior.n_ctx = 64 if prior.level else prior.n_ctx
        prior.blocks = 8 if prior.level else prior.blocks
    return config


@torch.no_grad()
def test_upsamplers_condition_like_the_original_when_levels_downsample_differently() -> None:
    config = _uneven_config()
    torch.manual_seed(0)
    model = JukeboxModel(config).eval()
    geometries = level_geometries(config)
    middle, bottom = model.priors[1], model.priors[2]
    # the middle upsampler reads the top level (x8 coarser), the bottom one the middle (x4)
    assert (middle.cond_downsample, bottom.cond_downsample) == (8, 4)
    assert [g.cond_downsample for g in geometries[1:]] == [8, 4]
    for prior, d in ((middle, 8), (bottom, 4)):
        upper = torch.randint(0, 256, (1, prior.n_ctx // d))
        cond = prior.conditioner_blocks(upper)
        assert cond.shape == (1, prior.n_ctx, config.prior_configs[prior.level].hidden_size)
    # and the cascade runs: one middle window under 8 top codes
    top = torch.randint(0, 256, (1, 8))
    labels = [torch.zeros(1, 4 + p.max_nb_genres + (p.nb_relevant_lyric_tokens if p.level == 0 else 0),
                          dtype=torch.long) for p in config.prior_configs]  # fmt: skip
    codes = model.upsample(
        [top, torch.zeros(1, 0, dtype=torch.long), torch.zeros(1, 0, dtype=torch.long)], labels,
        sample_levels=[1], chunk_size=16, total_length_in_seconds=0.5,
        generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    assert codes[1].shape == (1, 8 * 8)
    assert config.vqvae_config.hop_lengths == [8, 32, 256]


@pytest.mark.parametrize("name", ["1b_lyrics", "demo"])
def test_released_geometry_is_unchanged(name: str) -> None:
    config = preset(name)
    priors = [meta_component(config, c) for c in ("prior_1", "prior_2")]
    assert [p.cond_downsample for p in priors] == [4, 4]
