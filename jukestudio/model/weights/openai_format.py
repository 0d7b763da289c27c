"""The original OpenAI checkpoint files (``vqvae.pth.tar``, ``prior_level_{0,1,2}.pth.tar``).

Each file is ``torch.save({'hps': Hyperparams, 'model': state_dict, 'step': n})``. We read it
safely (safe_pickle), rename its keys to HF names (keymap tables), and derive its configuration
from its ``hps`` (original hyperparameter names → HF names), falling back to the preset whose
shapes it matches when there is no ``hps``. File level ↔ prior order: ``prior_level_2`` is the
top prior = ``prior_0``; ``prior_level_0`` the bottom upsampler = ``prior_2``.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from jukestudio.model.config import (
    ATTENTION_PATTERNS,
    PRESETS,
    ConfigError,
    JukeboxConfig,
    JukeboxPriorConfig,
    JukeboxVQVAEConfig,
    preset,
)
from jukestudio.model.config_validate import check_prior, check_vqvae
from jukestudio.model.weights.errors import CheckpointError
from jukestudio.model.weights.keymap import keymap_for, original_to_hf
from jukestudio.model.weights.modules import COMPONENTS, check_state, prior_index
from jukestudio.model.weights.safe_pickle import read_checkpoint, to_plain

log = logging.getLogger(__name__)

_NAME_HINT = re.compile(r"(vqvae|prior_level_([012]))", re.IGNORECASE)
_PATTERN_BY_ORDER = {order: name for name, order in ATTENTION_PATTERNS.items()}
_RELEASED_PRESETS = ("1b_lyrics", "5b_lyrics", "5b")


def component_for_level(level: int) -> str:
    """Original prior level (0 = bottom) → our component name (prior order, 0 = top)."""
    return f"prior_{2 - level}"


def component_from_name(path: Path) -> str | None:
    match = _NAME_HINT.search(path.name)
    if match is None:
        return None
    return "vqvae" if match.group(2) is None else component_for_level(int(match.group(2)))


@dataclass
class OriginalFile:
    """One original checkpoint, renamed to HF keys (component-local: no ``priors.N.`` prefix)."""

    path: Path
    component: str
    state: dict[str, torch.Tensor]
    hps: dict[str, Any] | None


def _content_kind(state: Mapping[str, Any]) -> str:
    if any(k.startswith(("encoders.", "decoders.", "bottleneck.")) for k in state):
        return "vqvae"
    if "prior.x_emb.weight" in state:
        return "upsampler" if any(k.startswith("conditioner_blocks.") for k in state) else "top"
    return "unknown"


def _describe(component: str) -> str:
    return {
        "vqvae": "the VQ-VAE",
        "prior_0": "the top prior (prior_level_2)",
        "prior_1": "the middle upsampler (prior_level_1)",
        "prior_2": "the bottom upsampler (prior_level_0)",
    }[component]


def _resolve_component(path: Path, state: Mapping[str, Any], hps: dict[str, Any] | None, wanted: str | None) -> str:
    kind = _content_kind(state)
    if kind == "unknown":
        if any(k.startswith(("vqvae.", "priors.")) for k in state):
            raise CheckpointError(path, "is a Hugging Face checkpoint: import the folder that holds it and config.json")
        raise CheckpointError(path, "holds no Jukebox VQ-VAE or prior weights (no known keys)")
    if kind == "vqvae":
        found = "vqvae"
    elif kind == "top":
        found = "prior_0"
    else:
        level = hps.get("level") if hps else None
        if isinstance(level, int) and level in (0, 1):
            found = component_for_level(level)
        else:
            hint = wanted or component_from_name(path)
            if hint not in ("prior_1", "prior_2"):
                raise CheckpointError(
                    path,
                    "is an upsampler, but nothing says which one (no hps level); "
                    "name it prior_level_0.pth.tar (bottom) or prior_level_1.pth.tar (middle)",
                )
            found = hint
    for source, expected in (("it was given as", wanted), ("its file name says", component_from_name(path))):
        if expected is not None and expected != found:
            raise CheckpointError(path, f"{source} {_describe(expected)}, but it holds {_describe(found)}")
    return found


def read_original(path: str | Path, component: str | None = None) -> OriginalFile:
    """Read one original file and rename its keys. ``component`` states what the caller expects."""
    path = Path(path)
    data = read_checkpoint(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("model"), Mapping):
        if isinstance(data, Mapping) and any(str(k).startswith(("vqvae.", "priors.")) for k in data):
            raise CheckpointError(path, "is a Hugging Face checkpoint: import the folder that holds it and config.json")
        raise CheckpointError(path, "not an OpenAI Jukebox checkpoint (no 'model' state dict)")
    raw = data["model"]
    bad = [str(k) for k, v in raw.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(path, f"its 'model' entry holds non-tensors: {', '.join(bad[:5])}")
    hps = to_plain(data.get("hps")) if isinstance(data.get("hps"), Mapping) else None
    plain = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in raw.items()}
    found = _resolve_component(path, plain, hps, component)
    state, unknown, clashes = original_to_hf(plain, keymap_for(found))
    if clashes:
        raise CheckpointError(path, f"several keys map to the same weight: {clashes}")
    if unknown:
        raise CheckpointError(path, f"keys that are not part of {_describe(found)}", unexpected=unknown)
    return OriginalFile(path, found, state, hps)


# ----------------------------------------------------------------------------------------------
# Hyperparameters → configs


def vqvae_config_from_hps(h: Mapping[str, Any]) -> JukeboxVQVAEConfig:
    base = JukeboxVQVAEConfig()
    return JukeboxVQVAEConfig(
        nb_discrete_codes=int(h.get("l_bins", base.nb_discrete_codes)),
        embed_dim=int(h.get("emb_width", base.embed_dim)),
        levels=int(h.get("levels", base.levels)),
        res_downs_t=list(h.get("downs_t", base.res_downs_t)),
        res_strides_t=list(h.get("strides_t", base.res_strides_t)),
        multipliers=list(h.get("hvqvae_multipliers") or base.multipliers),
        res_conv_width=int(h.get("width", base.res_conv_width)),
        res_conv_depth=int(h.get("depth", base.res_conv_depth)),
        res_convolution_multiplier=int(h.get("m_conv", base.res_convolution_multiplier)),
        res_dilation_growth_rate=int(h.get("dilation_growth_rate", base.res_dilation_growth_rate)),
        res_dilation_cycle=h.get("dilation_cycle", base.res_dilation_cycle),
        reverse_decoder_dilation=bool(h.get("vqvae_reverse_decoder_dilation", base.reverse_decoder_dilation)),
        lmu=float(h.get("l_mu", base.lmu)),
        commit=float(h.get("commit", base.commit)),
        sample_length=int(h.get("sample_length") or base.sample_length),
        loss_fn=str(h.get("loss_fn", base.loss_fn)),
        lmix_l1=float(h.get("lmix_l1", base.lmix_l1)),
        lmix_l2=float(h.get("lmix_l2", base.lmix_l2)),
        lmix_linf=float(h.get("lmix_linf", base.lmix_linf)),
        linf_k=int(h.get("linf_k", base.linf_k)),
        spectral=float(h.get("spectral", base.spectral)),
        multispectral=float(h.get("multispectral", base.multispectral)),
    )


def _pattern(order: Any, path: Path) -> str:
    try:
        return _PATTERN_BY_ORDER[int(order)]
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(path, f"hps attn_order={order!r} is not a Jukebox attention pattern") from None


def _alignment(h: Mapping[str, Any], pattern: str, depth: int, heads: int) -> tuple[int | None, int | None]:
    """hps alignment layer/head, checked against the model (a shrunk model's hps keep the big one's):
    a layer past the depth → the last lyric layer, a head past the heads → the last head."""
    layer, head = h.get("alignment_layer"), h.get("alignment_head")
    if head is not None and int(head) >= heads:
        log.warning("hps alignment_head=%s is past the %s attention heads; using head %s", head, heads, heads - 1)
        head = heads - 1
    if layer is None or layer < depth:
        return layer, head
    lyric_layers = [d for d in range(depth) if _is_lyric_layer(pattern, d)]
    log.warning("hps alignment_layer=%s is past depth %s; using layer %s", layer, depth, lyric_layers[-1:] or None)
    return (lyric_layers[-1], head) if lyric_layers else (None, None)


def _is_lyric_layer(pattern: str, d: int) -> bool:
    if pattern == "enc_dec_with_lyrics":  # attn_order 12: prime attention where d % 16 == 15 and d % 3 != 2
        return d % 16 == 15 and d % 3 != 2
    if pattern == "large_separated_enc_dec_w_lyrics":  # attn_order 10: encoder-decoder layers
        return d >= 9 and (d - 9) % 10 == 9
    return False


def _transformer_fields(h: Mapping[str, Any], prefix: str, path: Path) -> dict[str, Any]:
    """The transformer hyperparameters of the prior (prefix "") or its lyric encoder ("prime_").

    The original names them alike except width/depth/heads of the prior itself.
    """
    width, depth, heads = (
        ("prime_width", "prime_depth", "prime_heads") if prefix else ("prior_width", "prior_depth", "heads")
    )
    return {
        "hidden_size": int(h[width]),
        "num_layers": int(h[depth]),
        "n_heads": int(h[heads]),
        "attention_pattern": _pattern(h.get(f"{prefix}attn_order", 0), path),
        "blocks": h.get(f"{prefix}blocks"),
        "spread": h.get(f"{prefix}spread"),
        "attention_multiplier": float(h.get(f"{prefix}m_attn", 0.25)),
        "mlp_multiplier": float(h.get(f"{prefix}m_mlp", 1.0)),
        "attn_dropout": float(h.get(f"{prefix}attn_dropout", 0.0)),
        "resid_dropout": float(h.get(f"{prefix}resid_dropout", 0.0)),
        "emb_dropout": float(h.get(f"{prefix}emb_dropout", 0.0)),
        "zero_out": bool(h.get(f"{prefix}zero_out", False)),
        "attn_res_scale": bool(h.get(f"{prefix}res_scale", False)),
        "init_scale": float(h.get(f"{prefix}init_scale", 1.0)),
    }


def _encoder_config_from_hps(h: Mapping[str, Any], path: Path) -> JukeboxPriorConfig:
    n_tokens = int(h["n_tokens"])
    return JukeboxPriorConfig(
        level=0,
        **_transformer_fields(h, "prime_", path),
        n_ctx=n_tokens,
        nb_relevant_lyric_tokens=n_tokens,
        lyric_vocab_size=int(h["n_vocab"]),
        music_vocab_size=int(h["n_vocab"]),
        is_encoder_decoder=False,
        merged_decoder=False,
        metadata_conditioning=False,
        alignment_layer=None,
        alignment_head=None,
    )


def prior_config_from_hps(
    h: Mapping[str, Any], component: str, state: Mapping[str, torch.Tensor], path: Path, vqvae: JukeboxVQVAEConfig
) -> JukeboxPriorConfig:
    """One prior's config from its file's hyperparameters.

    ``music_vocab_size`` comes from the weights: it is the VQ-VAE's ``l_bins``, which a prior
    file's hps need not hold (it may carry the default instead).
    """
    p = prior_index(component)
    try:
        use_tokens = bool(h.get("use_tokens", False))
        n_tokens = int(h.get("n_tokens", 0)) if use_tokens else 0
        single = bool(h.get("single_enc_dec", False))
        n_vocab = int(h.get("n_vocab", 0))
        depth = int(h["prior_depth"])
        pattern = _pattern(h["attn_order"], path)
        rows = int(state["prior.embed_tokens.weight"].shape[0])
        layer, head = _alignment(h, pattern, depth, int(h["heads"]))
        cfg = JukeboxPriorConfig(
            level=p,
            **_transformer_fields(h, "", path),
            n_ctx=int(h["n_ctx"]),
            nb_relevant_lyric_tokens=n_tokens,
            lyric_vocab_size=n_vocab,
            music_vocab_size=rows - n_vocab if single and n_tokens else rows,
            is_encoder_decoder=single,
            merged_decoder=bool(h.get("merged_decoder", False)),
            metadata_conditioning=bool(h.get("labels", True)),
            metadata_dims=list(h.get("y_bins") or [0, 0]),
            max_nb_genres=int(h.get("max_bow_genre_size") or 1),
            timing_dims=int(h.get("t_bins", 64)),
            min_duration=h.get("min_duration"),
            max_duration=h.get("max_duration"),
            res_conv_width=int(h.get("cond_width", 128)),
            res_conv_depth=int(h.get("cond_depth", 3)),
            res_convolution_multiplier=int(h.get("cond_m_conv", 1)),
            res_dilation_growth_rate=int(h.get("cond_dilation_growth_rate", 1)),
            res_dilation_cycle=h.get("cond_dilation_cycle"),
            conv_res_scale=bool(h.get("cond_res_scale", False)) if p > 0 else None,
            alignment_layer=layer,
            alignment_head=head,
            encoder_loss_fraction=float(h.get("prime_loss_fraction", 0.0)),
            sampling_rate=int(h.get("sr", 44100)),
            res_downs_t=list(vqvae.res_downs_t),
            res_strides_t=list(vqvae.res_strides_t),
            encoder_config=_encoder_config_from_hps(h, path) if n_tokens and not single else None,
        )
        check_prior(cfg, "hps")
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise CheckpointError(path, f"its hps do not describe a Jukebox prior ({type(exc).__name__}: {exc})") from None
    if p > 0 and cfg.label_version == "v2":  # the same policy as JukeboxConfig.from_pretrained (config.py)
        cfg.max_nb_genres = max(cfg.max_nb_genres, 5)
    return cfg


def _plausible(config: JukeboxConfig, component: str, state: Mapping[str, Any]) -> bool:
    """A cheap look at a few shapes before building the preset's module tree to compare all keys."""
    if component == "vqvae":
        codebook = state.get("bottleneck.level_blocks.0.codebook")
        vq = config.vqvae_config
        return codebook is not None and tuple(codebook.shape) == (vq.nb_discrete_codes, vq.embed_dim)
    cfg = config.prior_configs[prior_index(component)]
    pos = state.get("prior.pos_emb.pos_emb")
    layers = {k.split(".")[3] for k in state if k.startswith("prior.transformer._attn_mods.")}
    return pos is not None and pos.shape[-1] == cfg.hidden_size and len(layers) == cfg.num_layers


def matching_preset(component: str, state: Mapping[str, torch.Tensor], prefer: str | None = None) -> str | None:
    """The released preset (``prefer`` first) whose ``component`` has exactly these keys and shapes."""
    for name in ([prefer] if prefer else []) + [n for n in _RELEASED_PRESETS if n != prefer]:
        if not _plausible(preset(name), component, state):
            continue
        try:
            check_state(dict(state), preset(name), component, None)
        except CheckpointError:
            continue
        return name
    return None


def config_for_files(files: list[OriginalFile], expect: str | None = None) -> tuple[JukeboxConfig, str | None]:
    """A whole-model config for these files; parts without a file come from a preset.

    ``expect`` names the preset the files must be (e.g. "5b"): the files are then checked
    against it instead of their hps. Returns (config, matched preset or None).
    """
    by_component = {f.component: f for f in files}
    if expect is not None:
        if expect not in PRESETS:
            raise ConfigError(f"unknown preset {expect!r}; known: {', '.join(PRESETS)}")
        config = preset(expect)
        for f in files:
            check_state(f.state, config, f.component, f.path)
        return config, expect
    # The preset for missing parts: the one the top prior matches, else 1b_lyrics' shared parts.
    top = by_component.get("prior_0")
    base_name = matching_preset("prior_0", top.state) if top else None
    config = preset(base_name or "1b_lyrics")
    matched = {c: matching_preset(c, f.state, prefer=base_name) for c, f in by_component.items()}
    ordered = sorted(files, key=lambda f: COMPONENTS.index(f.component))  # the VQ-VAE first: priors use its hops
    for f in ordered:
        _set_component_config(config, f, matched[f.component])
    config.sampling_rate = config.prior_configs[0].sampling_rate
    same = set(matched.values()) == {base_name} if base_name else False
    config.name = base_name if same and len(by_component) == len(COMPONENTS) else "imported"
    return config, base_name if same else None


def _set_component_config(config: JukeboxConfig, f: OriginalFile, matched: str | None) -> None:
    """The file's part of ``config``: from its hps when they fit its weights, else the preset it matches."""
    try:
        if f.hps is None:
            raise CheckpointError(f.path, "has no hps")
        trial = copy.deepcopy(config)
        if f.component == "vqvae":
            try:
                trial.vqvae_config = vqvae_config_from_hps(f.hps)
                check_vqvae(trial.vqvae_config)
            except (TypeError, ValueError) as exc:  # ConfigError included: text where a number belongs, ...
                raise CheckpointError(f.path, f"its hps do not describe a Jukebox VQ-VAE ({exc})") from None
        else:
            p = prior_index(f.component)
            trial.prior_configs[p] = prior_config_from_hps(f.hps, f.component, f.state, f.path, config.vqvae_config)
        check_state(f.state, trial, f.component, f.path)
    except CheckpointError as exc:
        if matched is None:
            if f.hps is None:
                raise CheckpointError(f.path, f"has no hps and matches no released {_describe(f.component)}") from None
            raise
        log.warning("%s: %s; using the %s preset, whose shapes it matches", f.path, exc.problem, matched)
        trial = copy.deepcopy(config)
        source = preset(matched)
        if f.component == "vqvae":
            trial.vqvae_config = source.vqvae_config
        else:
            p = prior_index(f.component)
            trial.prior_configs[p] = source.prior_configs[p]
    config.vqvae_config = trial.vqvae_config
    config.prior_configs = trial.prior_configs
