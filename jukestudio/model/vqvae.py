"""The hierarchical VQ-VAE of Jukebox: audio <-> discrete music tokens at three time scales.

VQ order everywhere in this module: level 0 = hop 8 (finest) ... level 2 = hop 128 (coarsest).
Each level has its own encoder, codebook and decoder; nothing is shared between levels.

Numerically this follows the original OpenAI code (``jukebox/vqvae/*.py``), which Hugging Face
4.40.2 ports bit-exactly for ``encode``/``decode``. ``forward`` follows the original, not HF: HF pairs
level L's latents with codebook ``2 - L``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from jukestudio.model.config import ConfigError, JukeboxVQVAEConfig
from jukestudio.model.vqvae_blocks import Bottleneck, Decoder, Encoder, ResConv1DBlock, ResnetSpec

# STFT settings of the original losses (``hparams.py`` audio defaults): (n_fft, hop_length, window).
SPECTRAL_STFT = (2048, 256, 1536)  # DefaultSTFTValues, for the single-resolution `spectral` loss
MULTISPECTRAL_STFTS = ((2048, 240, 1200), (1024, 120, 600), (512, 50, 240))


@dataclass(frozen=True)
class Bandwidth:
    """Loss normalisers. The original divides each loss by statistics of its training set
    (``calculate_bandwidth``); 1.0 leaves the losses unnormalised. ``from_audio`` estimates them."""

    l1: float = 1.0
    l2: float = 1.0
    spec: float = 1.0

    @classmethod
    def from_audio(cls, audio: torch.Tensor) -> Bandwidth:
        """Statistics of a batch (N, T, 1): mean |x|, variance, mean Frobenius norm of |STFT| per item."""
        x = audio.detach().double().mean(dim=-1)  # (N, T)
        spec = _magnitudes(x, *SPECTRAL_STFT)
        spec_norm = torch.linalg.vector_norm(spec.flatten(1), dim=1).mean()
        return cls(l1=float(x.abs().mean()), l2=float(x.var(unbiased=False)), spec=float(spec_norm))


@dataclass
class VQVAEOutput:
    """Result of ``JukeboxVQVAE.forward``; lists are in VQ order."""

    reconstructions: list[torch.Tensor]  # (N, T, 1) per level, each decoded from that level's codes alone
    music_tokens: list[torch.Tensor]  # (N, T // hop) per level
    loss: torch.Tensor  # recons + spectral * spec + multispectral * multispec + commit * commit_loss
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)  # detached parts of the loss


class JukeboxVQVAE(nn.Module):
    """Hierarchical VQ-VAE (three levels in the released model) with Hugging Face 4.40.2 state-dict names.

    A fresh model has all-zero codebooks (as HF and OpenAI): load weights, or call ``init_weights``.
    The activation is always ReLU, as in both (``config.act_fn`` is not used by the VQ-VAE).
    ``encode``/``decode`` record gradients unless the caller runs them under ``torch.inference_mode()``.
    """

    def __init__(self, config: JukeboxVQVAEConfig) -> None:
        super().__init__()
        levels = config.levels
        multipliers = list(config.multipliers) if config.multipliers is not None else [1] * levels
        for name, values in (
            ("res_downs_t", config.res_downs_t),
            ("res_strides_t", config.res_strides_t),
            ("multipliers", multipliers),
        ):
            if len(values) != levels:
                raise ConfigError(f"vqvae_config.{name} has {len(values)} entries for {levels} levels")
        if any(d < 1 for d in config.res_downs_t) or any(s < 1 for s in config.res_strides_t):
            raise ConfigError("vqvae_config.res_downs_t and res_strides_t must be positive")
        self.config = config
        self.levels = levels
        self.hop_lengths = config.hop_lengths

        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(levels):
            width = config.res_conv_width * multipliers[level]
            spec = ResnetSpec(
                depth=config.res_conv_depth * multipliers[level],
                multiplier=config.res_convolution_multiplier,
                dilation_growth_rate=config.res_dilation_growth_rate,
                dilation_cycle=config.res_dilation_cycle,
                res_scale=config.conv_res_scale,
            )
            downs, strides = config.res_downs_t[: level + 1], config.res_strides_t[: level + 1]
            channels, emb = config.conv_input_shape, config.embed_dim
            self.encoders.append(Encoder(channels, emb, width, downs, strides, spec))
            decoder_spec = replace(spec, reverse_dilation=config.reverse_decoder_dilation)
            self.decoders.append(Decoder(channels, emb, width, downs, strides, decoder_spec))
        self.bottleneck = Bottleneck(levels, config.nb_discrete_codes, config.embed_dim)

    # ------------------------------------------------------------------ inference

    def _check_levels(self, start_level: int, end_level: int | None) -> int:
        end = self.levels if end_level is None else end_level
        if not 0 <= start_level < end <= self.levels:
            raise ValueError(f"need 0 <= start_level < end_level <= {self.levels}, got {start_level}, {end_level}")
        return end

    def _audio_to_channels_first(self, audio: torch.Tensor, deepest_level: int) -> torch.Tensor:
        if audio.dim() != 3 or audio.shape[-1] != self.config.conv_input_shape:
            raise ValueError(
                f"audio must have shape (batch, samples, {self.config.conv_input_shape}), got {tuple(audio.shape)}"
            )
        if audio.shape[1] < self.hop_lengths[deepest_level]:
            raise ValueError(
                f"audio of {audio.shape[1]} samples is shorter than one hop ({self.hop_lengths[deepest_level]})"
                f" of VQ level {deepest_level}"
            )
        return audio.transpose(1, 2).to(self.encoders[0].level_blocks[0].proj_out.weight.dtype)

    def encode(
        self, input_audio: torch.Tensor, start_level: int = 0, end_level: int | None = None, bs_chunks: int = 1
    ) -> list[torch.Tensor]:
        """Audio (N, T, 1) -> tokens ``[(N, T // hop_L) for L in start_level..end_level-1]`` (VQ order).

        Only the encoders of the requested levels run. ``bs_chunks`` splits the batch to bound memory.
        """
        end = self._check_levels(start_level, end_level)
        per_chunk = [
            self._encode(chunk, start_level, end) for chunk in torch.chunk(input_audio, max(1, bs_chunks), dim=0)
        ]
        if len(per_chunk) == 1:
            return per_chunk[0]
        return [torch.cat(level_tokens, dim=0) for level_tokens in zip(*per_chunk)]

    def _encode(self, audio: torch.Tensor, start_level: int, end_level: int) -> list[torch.Tensor]:
        x = self._audio_to_channels_first(audio, end_level - 1)
        return [self.bottleneck[level].quantise(self.encoders[level](x)) for level in range(start_level, end_level)]

    def decode(
        self,
        music_tokens: Sequence[torch.Tensor],
        start_level: int = 0,
        end_level: int | None = None,
        bs_chunks: int = 1,
    ) -> torch.Tensor:
        """Tokens -> audio (N, T_0 * hop_start, 1).

        As in OpenAI and HF, only ``music_tokens[0]`` is decoded, with the codebook and decoder of
        ``start_level``; further entries are accepted (a list from ``encode``) but not used, so nothing
        is computed for them. To decode level L alone: ``decode([tokens_L], start_level=L)``.
        ``bs_chunks`` decodes the batch in that many pieces to bound memory (same audio up to fp32
        rounding, as a convolution's arithmetic may depend on the batch size).
        """
        self._check_levels(start_level, end_level)
        if len(music_tokens) == 0:
            raise ValueError("decode needs at least one tensor of music tokens")
        tokens = music_tokens[0]
        if tokens.dim() != 2:
            raise ValueError(f"music tokens must have shape (batch, length), got {tuple(tokens.shape)}")
        outputs = [self._decode(chunk, start_level) for chunk in torch.chunk(tokens, max(1, bs_chunks), dim=0)]
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0)

    def _decode(self, tokens: torch.Tensor, level: int) -> torch.Tensor:
        latents = self.bottleneck[level].dequantise(tokens)
        return self.decoders[level](latents).transpose(1, 2)

    # ------------------------------------------------------------------ training path

    def forward(self, raw_audio: torch.Tensor, bandwidth: Bandwidth | None = None) -> VQVAEOutput:
        """The original training step without the codebook update: every level encodes the audio,
        quantises with ITS OWN codebook and decodes; losses as ``jukebox/vqvae/vqvae.py``.

        Loss = sum over levels of the reconstruction loss (``loss_fn``: l1 / l2 / linf / lmix) +
        ``spectral`` * spectral loss + ``multispectral`` * multi-resolution STFT loss + ``commit`` *
        sum of the commitment losses. Each term is divided by ``bandwidth`` (see ``Bandwidth``).
        The codebooks stay fixed: the original's EMA codebook update (``update_k``, with ``lmu``) is not
        implemented, so this trains encoders and decoders against the current codebooks only (its
        data-driven first initialisation is ``init_codebooks``).
        """
        cfg = self.config
        bw = bandwidth or Bandwidth()
        x = self._audio_to_channels_first(raw_audio, self.levels - 1)
        target = raw_audio.to(x.dtype)
        tokens, recons, commit_losses = [], [], []
        for level in range(self.levels):
            level_tokens, quantised, commit_loss = self.bottleneck[level](self.encoders[level](x))
            tokens.append(level_tokens)
            recons.append(self.decoders[level](quantised).transpose(1, 2))
            commit_losses.append(commit_loss)

        zero = target.new_zeros(())
        recons_loss, spec_loss, multispec_loss = zero, zero, zero
        metrics: dict[str, torch.Tensor] = {}
        for level in reversed(range(self.levels)):  # the original's summation order
            out = recons[level]
            this_recons = reconstruction_loss(cfg, target, out, bw)
            metrics[f"recons_loss_l{level + 1}"] = this_recons
            recons_loss = recons_loss + this_recons
            if cfg.spectral:
                this_spec = spectral_loss(target, out).mean() / bw.spec
                metrics[f"spectral_loss_l{level + 1}"] = this_spec
                spec_loss = spec_loss + this_spec
            if cfg.multispectral:
                this_multispec = multispectral_loss(target, out).mean() / bw.spec
                metrics[f"multispectral_loss_l{level + 1}"] = this_multispec
                multispec_loss = multispec_loss + this_multispec
        commit_loss = sum(commit_losses, zero)
        loss = recons_loss + cfg.spectral * spec_loss + cfg.multispectral * multispec_loss + cfg.commit * commit_loss
        metrics.update(
            recons_loss=recons_loss, spectral_loss=spec_loss, multispectral_loss=multispec_loss, commit_loss=commit_loss
        )
        return VQVAEOutput(recons, tokens, loss, {k: v.detach() for k, v in metrics.items()})

    # ------------------------------------------------------------------ initialisation

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator | int | None = None) -> None:
        """Reproducible random weights: the same seed gives the same convolution weights on any machine
        (codebooks too, up to the fp32 rounding of the encoders that choose them).

        Convolutions get PyTorch's default scheme (uniform in +-1/sqrt(fan_in), what the original
        trained from), drawn from ``generator``; ``zero_out`` zeroes each residual branch's last conv
        as the original. Codebooks then follow the original ``init_k``: random latent vectors of a
        burst of generator noise.
        """
        if isinstance(generator, int):
            generator = torch.Generator().manual_seed(generator)
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                weight = module.weight
                bound = 1.0 / math.sqrt(weight.shape[1] * weight.shape[2])  # fan_in as torch computes it
                _uniform_(weight, bound, generator)
                if module.bias is not None:
                    _uniform_(module.bias, bound, generator)
        if self.config.zero_out:
            for module in self.modules():
                if isinstance(module, ResConv1DBlock):
                    module.conv1d_2.weight.zero_()
                    module.conv1d_2.bias.zero_()
        device = self.bottleneck[0].codebook.device
        noise = torch.randn(1, 32 * self.hop_lengths[-1], self.config.conv_input_shape, generator=generator)
        self.init_codebooks(noise.mul_(0.1).to(device), generator)

    @torch.no_grad()
    def init_codebooks(self, audio: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Set every level's codebook from the latents of ``audio`` (N, T, 1), as the original ``init_k``."""
        x = self._audio_to_channels_first(audio, self.levels - 1)
        for level in range(self.levels):
            self.bottleneck[level].init_from_latents(self.encoders[level](x), generator)


def _uniform_(tensor: torch.Tensor, bound: float, generator: torch.Generator | None) -> None:
    # Draw on the CPU so a seed gives the same numbers whatever device the model is on.
    values = torch.empty(tensor.shape, dtype=torch.float32).uniform_(-bound, bound, generator=generator)
    tensor.copy_(values)


# ---------------------------------------------------------------------- losses (jukebox/vqvae/vqvae.py)


def reconstruction_loss(
    config: JukeboxVQVAEConfig, target: torch.Tensor, output: torch.Tensor, bandwidth: Bandwidth, kind: str = ""
) -> torch.Tensor:
    """The original ``_loss_fn``: l1, l2, linf (mean of the ``linf_k`` largest squared errors per item)
    or lmix (``lmix_l1`` * l1 + ``lmix_l2`` * l2 + ``lmix_linf`` * linf)."""
    kind = kind or config.loss_fn
    if kind == "l1":
        return (output - target).abs().mean() / bandwidth.l1
    if kind == "l2":
        return (output - target).pow(2).mean() / bandwidth.l2
    if kind == "linf":
        residual = (output - target).pow(2).reshape(target.shape[0], -1)
        k = min(config.linf_k, residual.shape[1])  # the original fails for shorter clips
        return torch.topk(residual, k, dim=1).values.mean() / bandwidth.l2
    if kind == "lmix":
        loss = target.new_zeros(())
        for weight, part in ((config.lmix_l1, "l1"), (config.lmix_l2, "l2"), (config.lmix_linf, "linf")):
            if weight:
                loss = loss + weight * reconstruction_loss(config, target, output, bandwidth, part)
        return loss
    raise ConfigError(f"unknown vqvae loss_fn {kind!r} (expected l1, l2, linf or lmix)")


def _magnitudes(x: torch.Tensor, n_fft: int, hop_length: int, window: int) -> torch.Tensor:
    """|STFT| of (N, T) signals, centred with reflection padding (torch.stft defaults, as the original)."""
    if x.shape[-1] <= n_fft // 2:
        raise ValueError(f"spectral losses need clips longer than {n_fft // 2} samples, got {x.shape[-1]}")
    hann = torch.hann_window(window, device=x.device, dtype=x.dtype)
    return torch.stft(x, n_fft, hop_length, win_length=window, window=hann, return_complex=True).abs()


def _spectral_distance(target: torch.Tensor, output: torch.Tensor, n_fft: int, hop: int, window: int) -> torch.Tensor:
    a = _magnitudes(target.float().mean(dim=-1), n_fft, hop, window)
    b = _magnitudes(output.float().mean(dim=-1), n_fft, hop, window)
    return torch.linalg.vector_norm((a - b).flatten(1), dim=1)


def spectral_loss(target: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """Per item: Frobenius norm of the difference of STFT magnitudes (``use_nonrelative_specloss``)."""
    return _spectral_distance(target, output, *SPECTRAL_STFT)


def multispectral_loss(target: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """Per item: ``spectral_loss`` averaged over three STFT resolutions (``multispectral_loss``)."""
    losses = [_spectral_distance(target, output, *stft) for stft in MULTISPECTRAL_STFTS]
    return sum(losses[1:], losses[0]) / len(losses)
