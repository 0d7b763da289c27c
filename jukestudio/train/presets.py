"""Architectures to train from scratch: the real Jukebox classes at sizes a CPU can train.

``tiny``: the released geometry (44.1 kHz mono, hops 8 / 32 / 128, three priors, a no-lyrics top
prior like ``5b`` with the v2 label tables) at a small width, depth and codebook. It trains in
about an hour on two CPU cores and samples faster than real time.
"""

from __future__ import annotations

from jukestudio.model.config import V2_METADATA_DIMS, JukeboxConfig, JukeboxPriorConfig, JukeboxVQVAEConfig
from jukestudio.train.loop import Schedule
from jukestudio.train.pipeline import Plan

ARCHITECTURES = ("tiny",)


def _prior(level: int, width: int, layers: int, n_ctx: int, blocks: int, codes: int) -> JukeboxPriorConfig:
    top = level == 0
    return JukeboxPriorConfig(
        level=level,
        hidden_size=width,
        num_layers=layers,
        n_heads=2,
        attention_pattern="raw_column_previous_row_attention",
        blocks=blocks,
        n_ctx=n_ctx,
        nb_relevant_lyric_tokens=0,
        is_encoder_decoder=False,
        lyric_vocab_size=0,
        music_vocab_size=codes,
        metadata_dims=list(V2_METADATA_DIMS),
        max_nb_genres=1,
        merged_decoder=False,
        init_scale=0.4 if not top else 1.0,  # a narrow top prior learns far faster from GPT-2's 0.02 std
        res_conv_width=64,
        res_conv_depth=4,
        res_dilation_cycle=2,
        res_dilation_growth_rate=3,
        conv_res_scale=level == 1,
        alignment_layer=None,
        alignment_head=None,
        # The timing signal is trained on random declared song lengths, so any length in range works.
        min_duration=1.0 if top else None,
        max_duration=600.0 if top else None,
        timing_dims=32,
        encoder_loss_fraction=0.0,
    )


def tiny() -> JukeboxConfig:
    codes = 256
    vqvae = JukeboxVQVAEConfig(
        embed_dim=32,
        nb_discrete_codes=codes,
        res_conv_width=32,
        res_conv_depth=3,
        multipliers=[1, 1, 1],
        sample_length=32768,
    )
    priors = [
        _prior(0, width=160, layers=6, n_ctx=1024, blocks=16, codes=codes),
        _prior(1, width=128, layers=3, n_ctx=512, blocks=16, codes=codes),
        _prior(2, width=128, layers=3, n_ctx=512, blocks=16, codes=codes),
    ]
    return JukeboxConfig.from_configs(priors, vqvae, name="jukestudio-tiny")


def architecture(name: str) -> JukeboxConfig:
    if name != "tiny":
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    return tiny()


def tiny_plan(seed: int = 1913, scale: float = 1.0) -> Plan:
    """The schedules ``jukestudio-tiny`` was trained with (``scale`` shortens every stage, for tests)."""

    def steps(n: int) -> int:
        return max(2, int(n * scale))

    return Plan(
        vqvae=Schedule(steps=steps(600), batch_size=4, lr=6e-4, warmup=min(40, steps(600) // 2), seed=seed),
        priors=(
            Schedule(steps=steps(3000), batch_size=4, lr=2e-3, warmup=min(40, steps(3000) // 2), seed=seed + 1),
            Schedule(steps=steps(1200), batch_size=8, lr=1e-3, warmup=min(40, steps(1200) // 2), seed=seed + 2),
            Schedule(steps=steps(1200), batch_size=8, lr=1e-3, warmup=min(40, steps(1200) // 2), seed=seed + 3),
        ),
        crop_length=8192,
    )


PLANS = {"tiny": tiny_plan}
