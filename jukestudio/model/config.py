"""Jukebox configurations: dataclasses with the Hugging Face names and defaults, plus presets.

Conventions (the Hugging Face Jukebox API, which jukestudio's public names follow):

* ``JukeboxConfig.prior_configs[p]``: p = 0 is the **top** prior (hop 128), 1 the middle upsampler
  (hop 32), 2 the bottom upsampler (hop 8). ``hop_fraction`` is listed in the same order.
* VQ-VAE lists (``encode``/``decode``) use VQ order: 0 = hop 8 … 2 = hop 128. Prior p ↔ VQ level 2 - p.

Field semantics follow the original OpenAI hyperparameters (``jukebox/hparams.py``); the mapping of
names is documented field by field below where it is not obvious.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from jukestudio import limits

# the validator owns what a config may say; config only uses it (one direction, no cycle)
from jukestudio.model.config_validate import ATTENTION_PATTERNS, ConfigError, check_config, check_config_data

V2_METADATA_DIMS = (120, 4111)  # (genres, artists) of the v2 id tables
V3_METADATA_DIMS = (604, 7898)


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build a dataclass from a dict, ignoring keys it does not know (HF adds bookkeeping keys)."""
    known = {f.name for f in fields(cls)}
    return cls(**{k: copy.deepcopy(v) for k, v in data.items() if k in known})


@dataclass
class JukeboxVQVAEConfig:
    """The hierarchical VQ-VAE. Defaults are the released model (``vqvae`` in hparams.py)."""

    act_fn: str = "relu"
    nb_discrete_codes: int = 2048  # l_bins
    commit: float = 0.02
    conv_input_shape: int = 1  # mono audio
    conv_res_scale: bool = False
    embed_dim: int = 64  # emb_width
    hop_fraction: list[float] = field(default_factory=lambda: [0.125, 0.5, 0.5])  # prior order
    levels: int = 3
    lmu: float = 0.99  # l_mu (codebook EMA)
    multipliers: list[int] = field(default_factory=lambda: [2, 1, 1])  # hvqvae_multipliers, VQ order
    res_conv_depth: int = 4  # depth
    res_conv_width: int = 32  # width
    res_convolution_multiplier: int = 1  # m_conv
    res_dilation_cycle: int | None = None
    res_dilation_growth_rate: int = 3
    res_downs_t: list[int] = field(default_factory=lambda: [3, 2, 2])
    res_strides_t: list[int] = field(default_factory=lambda: [2, 2, 2])
    sample_length: int = 1058304
    init_scale: float = 0.2
    zero_out: bool = False
    # Training losses of the original (not in the HF config): lmix = l2 + linf_k-largest, multispectral.
    loss_fn: str = "lmix"
    lmix_l1: float = 0.0
    lmix_l2: float = 1.0
    lmix_linf: float = 0.02
    linf_k: int = 2048
    spectral: float = 0.0
    multispectral: float = 1.0
    reverse_decoder_dilation: bool = True
    model_type: str = "jukebox_vqvae"

    @property
    def hop_lengths(self) -> list[int]:
        """Samples per code at each VQ level (8, 32, 128 for the released model)."""
        hops, total = [], 1
        for down, stride in zip(self.res_downs_t, self.res_strides_t):
            total *= stride**down
            hops.append(total)
        return hops

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JukeboxVQVAEConfig:
        return _from_dict(cls, data)


@dataclass
class JukeboxPriorConfig:
    """One prior (the top, lyrics-conditioned prior or an upsampler). HF names; OpenAI names in comments."""

    act_fn: str = "quick_gelu"
    level: int = 0  # prior order: 0 = top
    alignment_head: int | None = 2
    alignment_layer: int | None = 68
    attention_multiplier: float = 0.25  # m_attn
    attention_pattern: str = "enc_dec_with_lyrics"  # attn_order, see ATTENTION_PATTERNS
    attn_dropout: float = 0.0
    attn_res_scale: bool = False  # res_scale
    blocks: int = 64
    conv_res_scale: bool | None = None  # cond_res_scale (upsampler conditioner): True for the middle one
    num_layers: int = 72  # prior_depth
    emb_dropout: float = 0.0
    encoder_config: JukeboxPriorConfig | None = None  # the separate lyric encoder (5b_lyrics style)
    encoder_loss_fraction: float = 0.4  # prime_loss_fraction
    hidden_size: int = 2048  # prior_width
    init_scale: float = 0.2
    is_encoder_decoder: bool = True  # OpenAI single_enc_dec: lyrics as a prefix of one sequence (1b style)
    lyric_vocab_size: int = 80  # n_vocab
    mask: bool = True  # causal masks; HF defaults to False (non-causal), the original always masks
    max_duration: float | None = 600.0
    max_nb_genres: int = 1  # max_bow_genre_size
    merged_decoder: bool = True
    metadata_conditioning: bool = True
    metadata_dims: list[int] = field(default_factory=lambda: list(V3_METADATA_DIMS))  # y_bins (genres, artists)
    min_duration: float | None = 0.0
    mlp_multiplier: float = 1.0  # m_mlp
    music_vocab_size: int = 2048
    n_ctx: int = 6144  # music tokens per window
    n_heads: int = 2
    nb_relevant_lyric_tokens: int = 384  # n_tokens
    res_conv_depth: int = 3  # cond_depth
    res_conv_width: int = 128  # cond_width
    res_convolution_multiplier: int = 1  # cond_m_conv
    res_dilation_cycle: int | None = None  # cond_dilation_cycle
    res_dilation_growth_rate: int = 1  # cond_dilation_growth_rate
    res_downs_t: list[int] = field(default_factory=lambda: [3, 2, 2])
    res_strides_t: list[int] = field(default_factory=lambda: [2, 2, 2])
    resid_dropout: float = 0.0
    sampling_rate: int = 44100
    spread: int | None = None
    timing_dims: int = 64  # t_bins
    zero_out: bool = False
    model_type: str = "jukebox_prior"

    def __post_init__(self) -> None:
        if isinstance(self.encoder_config, dict):
            self.encoder_config = JukeboxPriorConfig.from_dict(self.encoder_config)
        if self.attention_pattern not in ATTENTION_PATTERNS:
            raise ConfigError(
                f"unknown attention_pattern {self.attention_pattern!r}; known: {sorted(ATTENTION_PATTERNS)}"
            )

    @property
    def label_version(self) -> str:
        """Which id tables this prior was trained with: 'v3' (1b_lyrics top) or 'v2' (all others)."""
        return "v3" if tuple(self.metadata_dims) == V3_METADATA_DIMS else "v2"

    @property
    def has_lyrics(self) -> bool:
        return self.nb_relevant_lyric_tokens > 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["encoder_config"] = self.encoder_config.to_dict() if self.encoder_config else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JukeboxPriorConfig:
        return _from_dict(cls, data)


# Values HF's JukeboxModel copies from the top-level config onto every prior (set_shared_params).
_HF_SHARED = (
    "sampling_rate",
    "timing_dims",
    "min_duration",
    "max_duration",
    "max_nb_genres",
    "metadata_conditioning",
)


@dataclass
class JukeboxConfig:
    """A whole model: VQ-VAE + priors (prior order: index 0 = top)."""

    vqvae_config: JukeboxVQVAEConfig = field(default_factory=JukeboxVQVAEConfig)
    prior_configs: list[JukeboxPriorConfig] = field(default_factory=list)
    nb_priors: int = 3
    sampling_rate: int = 44100
    name: str = "custom"
    untrained: bool = False  # random weights (demo / tests): the GUI labels such models

    @property
    def hop_fraction(self) -> list[float]:
        return self.vqvae_config.hop_fraction

    @classmethod
    def from_configs(
        cls, prior_configs: list[JukeboxPriorConfig], vqvae_config: JukeboxVQVAEConfig, **kwargs: Any
    ) -> JukeboxConfig:
        return cls(
            vqvae_config=copy.deepcopy(vqvae_config),
            prior_configs=copy.deepcopy(list(prior_configs)),
            nb_priors=len(prior_configs),
            **kwargs,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_type": "jukebox",
            "name": self.name,
            "untrained": self.untrained,
            "nb_priors": self.nb_priors,
            "sampling_rate": self.sampling_rate,
            "hop_fraction": list(self.hop_fraction),
            "vqvae_config": self.vqvae_config.to_dict(),
            "prior_config_list": [p.to_dict() for p in self.prior_configs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JukeboxConfig:
        """Read our own JSON or a Hugging Face ``config.json`` (``model_type == 'jukebox'``).

        Untrusted data: checked (config_validate) before anything is built and after, field by field.
        """
        check_config_data(data)
        try:
            return check_config(cls._from_checked_data(data))
        except (TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"not a valid Jukebox config ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_checked_data(cls, data: dict[str, Any]) -> JukeboxConfig:
        if data.get("model_type") not in (None, "jukebox"):
            raise ConfigError(f"not a Jukebox config (model_type={data.get('model_type')!r})")
        if "prior_config_list" not in data or "vqvae_config" not in data:
            raise ConfigError("a Jukebox config needs 'vqvae_config' and 'prior_config_list'")
        vqvae_data = dict(data["vqvae_config"])
        if "hop_fraction" in data and "hop_fraction" not in vqvae_data:
            vqvae_data["hop_fraction"] = data["hop_fraction"]
        vqvae = JukeboxVQVAEConfig.from_dict(vqvae_data)
        priors = [JukeboxPriorConfig.from_dict(p) for p in data["prior_config_list"]]
        if "transformers_version" in data or "architectures" in data:
            _apply_hf_shared_params(priors, data)
        return cls(
            vqvae_config=vqvae,
            prior_configs=priors,
            nb_priors=int(data.get("nb_priors", len(priors))),
            sampling_rate=int(data.get("sampling_rate", 44100)),
            name=str(data.get("name", "custom")),
            untrained=bool(data.get("untrained", False)),
        )

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json_file(cls, path: str | Path) -> JukeboxConfig:
        from jukestudio.fileguard import read_small_file

        path = Path(path)
        try:
            data = json.loads(read_small_file(path, limits.MAX_CONFIG_BYTES, "config").decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ConfigError(f"{path}: cannot read a JSON config ({exc})") from None
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        try:
            return cls.from_dict(data)
        except (TypeError, KeyError, ValueError) as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> JukeboxConfig:
        """Read ``config.json`` of a Hugging Face model folder."""
        return cls.from_json_file(Path(directory) / "config.json")


def _apply_hf_shared_params(priors: list[JukeboxPriorConfig], data: dict[str, Any]) -> None:
    """Do what HF's ``JukeboxModel.set_shared_params`` does, so the same file gives the same model.

    Deviation kept from the original: v2 upsamplers keep 5 genre slots (``max_bow_genre_size=5``),
    since the tokenizer gives them a bag of up to 5 genre words (HF shares the top prior's value).
    """
    for prior in priors:
        for name in _HF_SHARED:
            if name in data:
                setattr(prior, name, copy.deepcopy(data[name]))
        if prior.level > 0 and prior.label_version == "v2":
            prior.max_nb_genres = max(prior.max_nb_genres, 5)


# ----------------------------------------------------------------------------------------------
# Presets: exact hyperparameters of the released models (jukebox/hparams.py)


def _upsampler(level: int) -> JukeboxPriorConfig:
    return JukeboxPriorConfig(
        level=level,
        hidden_size=1920,
        num_layers=72,
        n_heads=1,
        attention_pattern="raw_column_previous_row_attention",
        blocks=128,
        n_ctx=8192,
        nb_relevant_lyric_tokens=0,
        is_encoder_decoder=False,
        lyric_vocab_size=0,
        music_vocab_size=2048,
        metadata_dims=list(V2_METADATA_DIMS),
        max_nb_genres=5,
        merged_decoder=False,
        init_scale=0.4,
        res_conv_width=1024,
        res_conv_depth=16,
        res_dilation_cycle=8,
        res_dilation_growth_rate=3,
        conv_res_scale=level == 1,  # only the middle upsampler scales its conditioner residuals
        alignment_layer=None,
        alignment_head=None,
        min_duration=None,
        max_duration=None,
        timing_dims=128,
        encoder_loss_fraction=0.0,
    )


def _top_1b_lyrics() -> JukeboxPriorConfig:
    return JukeboxPriorConfig(
        level=0,
        hidden_size=2048,
        num_layers=72,
        n_heads=2,
        attention_pattern="enc_dec_with_lyrics",
        blocks=64,
        n_ctx=6144,
        nb_relevant_lyric_tokens=384,
        is_encoder_decoder=True,
        lyric_vocab_size=79,
        music_vocab_size=2048,
        metadata_dims=list(V3_METADATA_DIMS),
        max_nb_genres=1,
        merged_decoder=False,
        init_scale=0.2,
        alignment_layer=63,
        alignment_head=0,
        timing_dims=64,
        min_duration=17.84,
        max_duration=600.0,
        encoder_loss_fraction=0.4,
    )


def _top_5b(lyrics: bool) -> JukeboxPriorConfig:
    encoder = None
    if lyrics:
        encoder = JukeboxPriorConfig(
            level=0,
            hidden_size=1280,
            num_layers=18,
            n_heads=4,
            attention_pattern="raw_column_previous_row_attention",
            blocks=32,
            n_ctx=512,
            nb_relevant_lyric_tokens=512,
            is_encoder_decoder=False,
            lyric_vocab_size=80,
            music_vocab_size=80,
            metadata_conditioning=False,
            merged_decoder=False,
            init_scale=0.7,
            alignment_layer=None,
            alignment_head=None,
        )
    return JukeboxPriorConfig(
        level=0,
        hidden_size=4800,
        num_layers=79 if lyrics else 72,
        n_heads=8,
        attention_pattern="large_separated_enc_dec_w_lyrics" if lyrics else "raw_column_previous_row_attention",
        blocks=128,
        n_ctx=8192,
        nb_relevant_lyric_tokens=512 if lyrics else 0,
        is_encoder_decoder=False,
        lyric_vocab_size=80 if lyrics else 0,
        music_vocab_size=2048,
        metadata_dims=list(V2_METADATA_DIMS),
        max_nb_genres=5,
        merged_decoder=True,
        init_scale=0.1,
        alignment_layer=68 if lyrics else None,
        alignment_head=2 if lyrics else None,
        timing_dims=128,
        min_duration=23.8 if lyrics else 60.0,
        max_duration=600.0,
        encoder_config=encoder,
        encoder_loss_fraction=0.4 if lyrics else 0.0,
    )


def _released(name: str, top: JukeboxPriorConfig) -> JukeboxConfig:
    return JukeboxConfig.from_configs([top, _upsampler(1), _upsampler(2)], JukeboxVQVAEConfig(), name=name)


def _demo() -> JukeboxConfig:
    """A small model with the real architecture (1b_lyrics style) for trying workflows on any machine.

    Random weights: it produces noise. Geometry is real (hops 8/32/128, 3 priors, lyrics prefix,
    prime attention, the music-token conditioner), sizes are small so it samples fast on a CPU.
    """
    vqvae = JukeboxVQVAEConfig(embed_dim=16, nb_discrete_codes=256, res_conv_width=8, res_conv_depth=2)
    top = _top_1b_lyrics()
    top.hidden_size, top.num_layers, top.n_heads = 64, 16, 2
    top.n_ctx, top.blocks, top.nb_relevant_lyric_tokens = 512, 16, 64
    top.music_vocab_size, top.alignment_layer, top.alignment_head = 256, 15, 0
    uppers = []
    for level in (1, 2):
        up = _upsampler(level)
        up.hidden_size, up.num_layers, up.n_heads = 64, 6, 1
        up.n_ctx, up.blocks, up.music_vocab_size = 512, 16, 256
        up.res_conv_width, up.res_conv_depth, up.res_dilation_cycle = 32, 4, 2
        uppers.append(up)
    return JukeboxConfig.from_configs([top, *uppers], vqvae, name="demo", untrained=True)


PRESETS = {
    "1b_lyrics": lambda: _released("1b_lyrics", _top_1b_lyrics()),
    "5b_lyrics": lambda: _released("5b_lyrics", _top_5b(lyrics=True)),
    "5b": lambda: _released("5b", _top_5b(lyrics=False)),
    "demo": _demo,
}


def preset(name: str) -> JukeboxConfig:
    """A fresh copy of a named configuration ("1b_lyrics", "5b_lyrics", "5b", "demo")."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
