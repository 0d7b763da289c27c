"""The boundary for model configurations (``config.json``, a store entry's config, a checkpoint's hps).

``check_config_data`` looks at the raw JSON before anything is built (shape and nesting);
``check_config`` checks every field of the built dataclasses against a table of types and ranges
(bounds from :mod:`jukestudio.limits`); ``check_component_size`` counts a component's parameters
on the meta device before any memory is committed. Each raises :class:`ConfigError` naming the
field (``prior_config_list[0].num_layers: ...``); callers add the file name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jukestudio import limits

if TYPE_CHECKING:
    from torch import nn

    from jukestudio.model.config import JukeboxConfig, JukeboxPriorConfig, JukeboxVQVAEConfig

# attention_pattern names (HF) ↔ OpenAI attn_order
ATTENTION_PATTERNS = {
    "full_dense_attention": 0,
    "raw_column_previous_row_attention": 2,
    "large_separated_enc_dec_w_lyrics": 10,
    "enc_dec_with_lyrics": 12,
}


class ConfigError(ValueError):
    """A configuration file or dict that does not describe a Jukebox model."""


Check = Callable[[Any], str | None]  # None = fine, else what is wrong


def _int(lo: int, hi: int, optional: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            return f"must be a whole number {lo}..{hi}, got {_short(v)}"
        if not lo <= v <= hi:
            return f"must be {lo}..{hi}, got {v}"
        return None

    return check


def _num(lo: float, hi: float, optional: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return f"must be a number {lo:g}..{hi:g}, got {_short(v)}"
        if not lo <= v <= hi:
            return f"must be {lo:g}..{hi:g}, got {v:g}"
        return None

    return check


def _bool(optional: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if (v is None and optional) or isinstance(v, bool):
            return None
        return f"must be true or false, got {_short(v)}"

    return check


def _text(max_len: int = 64) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, str) or len(v) > max_len:
            return f"must be a short text, got {_short(v)}"
        return None

    return check


def _list(item: Check, noun: str, min_len: int, max_len: int) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, list) or not min_len <= len(v) <= max_len:
            return f"must be a list of {min_len}..{max_len} {noun}, got {_short(v)}"
        for i, x in enumerate(v):
            if (problem := item(x)) is not None:
                return f"item {i} {problem}"
        return None

    return check


def _int_list(lo: int, hi: int, min_len: int = 1, max_len: int = limits.MAX_LEVELS) -> Check:
    return _list(_int(lo, hi), "whole numbers", min_len, max_len)


def _num_list(lo: float, hi: float) -> Check:
    return _list(_num(lo, hi), "numbers", 1, limits.MAX_LEVELS)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


W, L, V = limits.MAX_WIDTH, limits.MAX_LAYERS, limits.MAX_VOCAB

_VQVAE: dict[str, Check] = {
    "act_fn": _text(),
    "nb_discrete_codes": _int(1, V),
    "commit": _num(0, 1e6),
    "conv_input_shape": _int(1, limits.MAX_AUDIO_CHANNELS),
    "conv_res_scale": _bool(),
    "embed_dim": _int(1, W),
    "hop_fraction": _num_list(1e-6, 1.0),
    "levels": _int(1, limits.MAX_LEVELS),
    "lmu": _num(0, 1),
    "multipliers": _int_list(1, 64),
    "res_conv_depth": _int(1, L),
    "res_conv_width": _int(1, W),
    "res_convolution_multiplier": _int(1, 64),
    "res_dilation_cycle": _int(1, L, optional=True),
    "res_dilation_growth_rate": _int(1, 64),
    "res_downs_t": _int_list(0, limits.MAX_DOWNS),
    "res_strides_t": _int_list(1, limits.MAX_STRIDE),
    "sample_length": _int(1, limits.MAX_SAMPLE_LENGTH),
    "init_scale": _num(0, 1e3),
    "zero_out": _bool(),
    "reverse_decoder_dilation": _bool(),
}

_PRIOR: dict[str, Check] = {
    "act_fn": _text(),
    "level": _int(0, limits.MAX_LEVELS - 1),
    "alignment_head": _int(0, limits.MAX_HEADS, optional=True),
    "alignment_layer": _int(0, L, optional=True),
    "attention_multiplier": _num(1e-3, 64),
    "attention_pattern": _text(),
    "attn_dropout": _num(0, 1),
    "attn_res_scale": _bool(),
    "blocks": _int(1, limits.MAX_CTX, optional=True),
    "conv_res_scale": _bool(optional=True),
    "num_layers": _int(1, L),
    "emb_dropout": _num(0, 1),
    "encoder_loss_fraction": _num(0, 1e3),
    "hidden_size": _int(1, W),
    "init_scale": _num(0, 1e3),
    "is_encoder_decoder": _bool(),
    "lyric_vocab_size": _int(0, V),
    "mask": _bool(),
    "max_duration": _num(0, 1e6, optional=True),
    "max_nb_genres": _int(0, limits.MAX_GENRES),
    "merged_decoder": _bool(),
    "metadata_conditioning": _bool(),
    "metadata_dims": _int_list(0, V, min_len=2, max_len=2),
    "min_duration": _num(0, 1e6, optional=True),
    "mlp_multiplier": _num(1e-3, 64),
    "music_vocab_size": _int(1, V),
    "n_ctx": _int(1, limits.MAX_CTX),
    "n_heads": _int(1, limits.MAX_HEADS),
    "nb_relevant_lyric_tokens": _int(0, limits.MAX_CTX),
    "res_conv_depth": _int(1, L),
    "res_conv_width": _int(1, W),
    "res_convolution_multiplier": _int(1, 64),
    "res_dilation_cycle": _int(1, L, optional=True),
    "res_dilation_growth_rate": _int(1, 64),
    "res_downs_t": _int_list(0, limits.MAX_DOWNS),
    "res_strides_t": _int_list(1, limits.MAX_STRIDE),
    "resid_dropout": _num(0, 1),
    "sampling_rate": _int(1, limits.MAX_SAMPLE_RATE),
    "spread": _int(1, limits.MAX_CTX, optional=True),
    "timing_dims": _int(0, V),
    "zero_out": _bool(),
}

_TOP: dict[str, Check] = {
    "nb_priors": _int(1, limits.MAX_LEVELS),
    "sampling_rate": _int(1, limits.MAX_SAMPLE_RATE),
    "name": _text(256),
    "untrained": _bool(),
}

MAX_HOP = 1 << 20


def check_config_data(data: Any) -> None:
    """The raw JSON of a config: an object of objects, not nested deeper than a config can be."""
    if not isinstance(data, dict):
        raise ConfigError(f"a Jukebox config must be a JSON object, got {type(data).__name__}")
    _check_depth(data, "config", 0)
    if not isinstance(data.get("vqvae_config"), dict):
        raise ConfigError(f"vqvae_config must be a JSON object, got {_short(data.get('vqvae_config'))}")
    priors = data.get("prior_config_list")
    if not isinstance(priors, list) or not 1 <= len(priors) <= limits.MAX_LEVELS:
        raise ConfigError(f"prior_config_list must be a list of 1..{limits.MAX_LEVELS} objects, got {_short(priors)}")
    for i, prior in enumerate(priors):
        if not isinstance(prior, dict):
            raise ConfigError(f"prior_config_list[{i}] must be a JSON object, got {_short(prior)}")
        encoder = prior.get("encoder_config")
        if encoder is not None and not isinstance(encoder, dict):
            raise ConfigError(f"prior_config_list[{i}].encoder_config must be an object or null, got {_short(encoder)}")
        if isinstance(encoder, dict) and encoder.get("encoder_config") is not None:
            raise ConfigError(f"prior_config_list[{i}].encoder_config: a lyric encoder has no encoder of its own")


def _check_depth(value: Any, where: str, depth: int) -> None:
    if depth > limits.MAX_CONFIG_DEPTH:
        raise ConfigError(f"{where}: nested deeper than {limits.MAX_CONFIG_DEPTH} levels (not a Jukebox config)")
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                _check_depth(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, (dict, list)):
                _check_depth(item, f"{where}[{i}]", depth + 1)


def _check_fields(obj: Any, table: dict[str, Check], where: str) -> None:
    for name, check in table.items():
        problem = check(getattr(obj, name))
        if problem is not None:
            raise ConfigError(f"{where}.{name} {problem}" if where else f"{name} {problem}")


def check_vqvae(vq: JukeboxVQVAEConfig, where: str = "vqvae_config") -> None:
    _check_fields(vq, _VQVAE, where)
    for name in ("res_downs_t", "res_strides_t", "multipliers"):
        if len(getattr(vq, name)) != vq.levels:
            raise ConfigError(f"{where}.{name} must list one value per level ({vq.levels}), got {getattr(vq, name)}")
    _check_hops(vq.res_downs_t, vq.res_strides_t, where)
    if vq.res_conv_width * max(vq.multipliers) > limits.MAX_WIDTH:
        raise ConfigError(f"{where}: res_conv_width × multipliers exceeds {limits.MAX_WIDTH}")


def _check_hops(downs: list[int], strides: list[int], where: str) -> None:
    hop = 1
    for down, stride in zip(downs, strides):
        hop *= stride**down
        if hop > MAX_HOP:
            raise ConfigError(f"{where}: res_strides_t ** res_downs_t give a hop over {MAX_HOP} samples per code")


def check_prior(cfg: JukeboxPriorConfig, where: str, encoder: bool = False) -> None:
    _check_fields(cfg, _PRIOR, where)
    if cfg.attention_pattern not in ATTENTION_PATTERNS:
        known = sorted(ATTENTION_PATTERNS)
        raise ConfigError(f"{where}.attention_pattern {cfg.attention_pattern!r} is unknown; known: {known}")
    if cfg.hidden_size % cfg.n_heads:
        raise ConfigError(f"{where}: hidden_size {cfg.hidden_size} is not divisible by n_heads {cfg.n_heads}")
    for name, scale in (("attention_multiplier", cfg.attention_multiplier), ("mlp_multiplier", cfg.mlp_multiplier)):
        if int(cfg.hidden_size * scale) < 1 or cfg.hidden_size * scale > 4 * limits.MAX_WIDTH:
            raise ConfigError(f"{where}.{name} {scale:g} makes a layer of {cfg.hidden_size * scale:g} units")
    if encoder:  # HF configs carry the prior's alignment fields on the lyric encoder too (unused there)
        pass
    elif cfg.alignment_layer is not None and cfg.alignment_layer >= cfg.num_layers:
        raise ConfigError(f"{where}.alignment_layer {cfg.alignment_layer} is past num_layers {cfg.num_layers}")
    estimate = cfg.num_layers * cfg.hidden_size**2 * (4 * cfg.attention_multiplier + 2 * cfg.mlp_multiplier * 4)
    if estimate > limits.MAX_MODEL_PARAMS:  # before even the meta build, which is slow for absurd sizes
        raise ConfigError(
            f"{where}: {cfg.num_layers} layers of width {cfg.hidden_size} make about {estimate / 1e9:.0f} billion "
            f"parameters (the limit is {limits.MAX_MODEL_PARAMS / 1e9:.0f} billion)"
        )
    if len(cfg.res_downs_t) != len(cfg.res_strides_t):
        raise ConfigError(f"{where}: res_downs_t and res_strides_t must have the same length")
    _check_hops(cfg.res_downs_t, cfg.res_strides_t, where)
    if cfg.encoder_config is not None:
        check_prior(cfg.encoder_config, f"{where}.encoder_config", encoder=True)


def check_config(config: JukeboxConfig) -> JukeboxConfig:
    """Every field of a whole-model config; returns it for chaining."""
    _check_fields(config, _TOP, "")
    check_vqvae(config.vqvae_config)
    if not 1 <= len(config.prior_configs) <= limits.MAX_LEVELS:
        raise ConfigError(f"prior_config_list must hold 1..{limits.MAX_LEVELS} priors")
    for i, prior in enumerate(config.prior_configs):
        check_prior(prior, f"prior_config_list[{i}]")
    return config


def check_component_size(module: nn.Module, component: str) -> None:
    """A module built on the meta device: refuse it before real memory is committed if it is absurdly big."""
    total = sum(p.numel() for p in module.parameters())
    if total > limits.MAX_MODEL_PARAMS:
        raise ConfigError(
            f"{component} would have {total / 1e9:.1f} billion parameters (the limit is "
            f"{limits.MAX_MODEL_PARAMS / 1e9:.0f} billion; the released 5B prior has 5)"
        )
