"""Helpers that build Hugging Face 4.40.2 ``JukeboxPrior`` oracles from our configs.

HF leaves most parameters as ``torch.empty`` garbage and defaults to ``mask=False`` (non-causal);
these helpers always set ``mask=True`` and fill every parameter from a seeded generator.
"""

from __future__ import annotations

import copy

import torch

from jukestudio.model.config import JukeboxPriorConfig
from jukestudio.model.prior import JukeboxPrior


def hf_prior_config(config: JukeboxPriorConfig):
    from transformers.models.jukebox.configuration_jukebox import JukeboxPriorConfig as HFPriorConfig

    data = copy.deepcopy(config.to_dict())
    data.pop("model_type", None)
    data["mask"] = True
    return HFPriorConfig(**data)


@torch.no_grad()
def randomize_(module: torch.nn.Module, seed: int = 0, std: float = 0.08) -> None:
    """Fill every parameter: LayerNorm near identity, everything else N(0, std)."""
    g = torch.Generator().manual_seed(seed)
    done: set[int] = set()
    for name, param in module.named_parameters(remove_duplicate=True):
        if id(param) in done:
            continue
        done.add(id(param))
        noise = torch.randn(param.shape, generator=g, dtype=torch.float32)
        if "layer_norm" in name or "final_layer_norm" in name:
            value = (1.0 + 0.1 * noise) if name.endswith("weight") else 0.1 * noise
        else:
            value = std * noise
        param.copy_(value.to(param.dtype))


def build_hf_prior(config: JukeboxPriorConfig, level: int | None = None, seed: int = 0):
    from transformers.models.jukebox.modeling_jukebox import JukeboxPrior as HFJukeboxPrior

    hf = HFJukeboxPrior(hf_prior_config(config), level=level).eval()
    randomize_(hf, seed)
    return hf


def pair(config: JukeboxPriorConfig, level: int | None = None, seed: int = 0):
    """(ours, hf) with identical random weights (strict load of HF's state dict into ours)."""
    hf = build_hf_prior(config, level, seed)
    ours = JukeboxPrior(config, level).eval()
    ours.load_state_dict(hf.state_dict(), strict=True)
    return ours, hf


def small_configs() -> dict[str, JukeboxPriorConfig]:
    """Small priors of each kind, with geometry chosen to exercise block boundaries."""
    top1b = JukeboxPriorConfig(
        level=0,
        hidden_size=32,
        num_layers=32,
        n_heads=2,
        attention_pattern="enc_dec_with_lyrics",
        blocks=8,
        n_ctx=28,  # + 12 lyric tokens = 40 positions = 8 rows of 5
        nb_relevant_lyric_tokens=12,
        is_encoder_decoder=True,
        lyric_vocab_size=79,
        music_vocab_size=48,
        metadata_dims=[604, 7898],
        max_nb_genres=1,
        merged_decoder=False,
        alignment_layer=31,
        alignment_head=1,
        timing_dims=64,
        min_duration=0.1,
        max_duration=2.0,
    )
    encoder = JukeboxPriorConfig(
        level=0,
        hidden_size=24,
        num_layers=3,
        n_heads=2,
        attention_pattern="raw_column_previous_row_attention",
        blocks=4,
        n_ctx=16,
        nb_relevant_lyric_tokens=16,
        is_encoder_decoder=False,
        lyric_vocab_size=80,
        music_vocab_size=80,
        metadata_conditioning=False,
        merged_decoder=False,
        init_scale=0.7,
    )
    top5b = JukeboxPriorConfig(
        level=0,
        hidden_size=32,
        num_layers=20,
        n_heads=2,
        attention_pattern="large_separated_enc_dec_w_lyrics",
        blocks=8,
        n_ctx=64,
        nb_relevant_lyric_tokens=16,
        is_encoder_decoder=False,
        lyric_vocab_size=80,
        music_vocab_size=48,
        metadata_dims=[120, 4111],
        max_nb_genres=5,
        merged_decoder=True,
        alignment_layer=18,
        alignment_head=1,
        timing_dims=128,
        min_duration=0.1,
        max_duration=2.0,
        encoder_config=encoder,
    )
    ups = {}
    for level in (1, 2):
        ups[level] = JukeboxPriorConfig(
            level=level,
            hidden_size=32,
            num_layers=6,
            n_heads=1,
            attention_pattern="raw_column_previous_row_attention",
            blocks=8,
            n_ctx=64,
            nb_relevant_lyric_tokens=0,
            is_encoder_decoder=False,
            lyric_vocab_size=0,
            music_vocab_size=48,
            metadata_dims=[120, 4111],
            max_nb_genres=5,
            merged_decoder=False,
            res_conv_width=16,
            res_conv_depth=4,
            res_dilation_cycle=2,
            res_dilation_growth_rate=3,
            conv_res_scale=level == 1,
            alignment_layer=None,
            alignment_head=None,
            min_duration=None,
            max_duration=None,
        )
    return {"top1b": top1b, "top5b": top5b, "middle": ups[1], "bottom": ups[2]}
