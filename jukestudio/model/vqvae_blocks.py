"""Building blocks of the Jukebox VQ-VAE: dilated residual convolutions, encoder, decoder, codebooks.

Module and attribute names are chosen so that state-dict keys equal Hugging Face 4.40.2's
(``downsample_block``, ``resnet_block``, ``conv1d_1``, ``proj_in``, ``level_blocks``, ``codebook`` ...).
Tensors are channels-first inside the convolutions: (N, C, T).

The blocks take plain sizes, not a config, so the upsampler's music-token conditioner can reuse
``DecoderConvBlock`` with its own widths (``ResnetSpec(..., reverse_dilation=False)`` there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Rows of the (rows, codebook size) distance matrix computed at once when quantising: bounds the
# memory of encoding long audio (a 24 s window at hop 8 has 132k latents; 2048 codes => 1 GiB at once).
_QUANTISE_ELEMENTS = 1 << 25


@dataclass(frozen=True)
class ResnetSpec:
    """Shape of a stack of dilated residual blocks (OpenAI ``Resnet1D`` arguments)."""

    depth: int
    multiplier: int = 1  # hidden width = multiplier * width (m_conv)
    dilation_growth_rate: int = 1
    dilation_cycle: int | None = None
    res_scale: bool = False  # scale each residual branch by 1/sqrt(depth)
    reverse_dilation: bool = False  # decoders run the dilations from large to small


class ResConv1DBlock(nn.Module):
    """x + scale * conv1x1(relu(dilated_conv3(relu(x))))."""

    def __init__(self, width: int, hidden: int, dilation: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1d_1 = nn.Conv1d(width, hidden, 3, 1, padding=dilation, dilation=dilation)
        self.conv1d_2 = nn.Conv1d(hidden, width, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1d_1(F.relu(x))
        h = self.conv1d_2(F.relu_(h))
        # In place on fresh conv outputs (autograd-safe: a conv's backward does not need its output).
        if self.res_scale != 1.0:
            h.mul_(self.res_scale)
        return h.add_(x)


class Resnet1D(nn.Module):
    def __init__(self, width: int, spec: ResnetSpec) -> None:
        super().__init__()
        scale = 1.0 / math.sqrt(spec.depth) if spec.res_scale else 1.0
        blocks = []
        for depth in range(spec.depth):
            exponent = depth if spec.dilation_cycle is None else depth % spec.dilation_cycle
            blocks.append(ResConv1DBlock(width, spec.multiplier * width, spec.dilation_growth_rate**exponent, scale))
        if spec.reverse_dilation:
            blocks.reverse()
        self.resnet_block = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resnet_block:
            x = block(x)
        return x


class EncoderConvBlock(nn.Module):
    """down_t times [strided conv (T -> T / stride), resnet], then a conv to the embedding width."""

    def __init__(self, in_width: int, emb_width: int, width: int, down_t: int, stride_t: int, spec: ResnetSpec) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for i in range(down_t):
            blocks.append(nn.Conv1d(in_width if i == 0 else width, width, 2 * stride_t, stride_t, stride_t // 2))
            blocks.append(Resnet1D(width, spec))
        self.downsample_block = nn.ModuleList(blocks)
        self.proj_out = nn.Conv1d(width, emb_width, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.downsample_block:
            x = block(x)
        return self.proj_out(x)


class DecoderConvBlock(nn.Module):
    """A conv from the embedding width, then down_t times [resnet, transposed conv (T -> T * stride)]."""

    def __init__(self, emb_width: int, width: int, down_t: int, stride_t: int, spec: ResnetSpec) -> None:
        super().__init__()
        self.proj_in = nn.Conv1d(emb_width, width, 3, 1, 1)
        blocks: list[nn.Module] = []
        for i in range(down_t):
            blocks.append(Resnet1D(width, spec))
            out_width = emb_width if i == down_t - 1 else width
            blocks.append(nn.ConvTranspose1d(width, out_width, 2 * stride_t, stride_t, stride_t // 2))
        self.upsample_block = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj_in(x)
        for block in self.upsample_block:
            x = block(x)
        return x


class Encoder(nn.Module):
    """Audio (N, channels, T) -> latents (N, emb_width, T / prod(stride**down)); one per VQ level."""

    def __init__(
        self,
        channels: int,
        emb_width: int,
        width: int,
        downs_t: list[int],
        strides_t: list[int],
        spec: ResnetSpec,
    ) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleList(
            EncoderConvBlock(channels if i == 0 else emb_width, emb_width, width, down_t, stride_t, spec)
            for i, (down_t, stride_t) in enumerate(zip(downs_t, strides_t))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.level_blocks:
            x = block(x)
        return x


class Decoder(nn.Module):
    """Latents of the deepest level -> audio (N, channels, T).

    Only the original's ``all_levels=False`` path exists: Jukebox never adds skip latents from other
    levels (each level has its own decoder that starts from its own codes).
    """

    def __init__(
        self,
        channels: int,
        emb_width: int,
        width: int,
        downs_t: list[int],
        strides_t: list[int],
        spec: ResnetSpec,
    ) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleList(
            DecoderConvBlock(emb_width, width, down_t, stride_t, spec) for down_t, stride_t in zip(downs_t, strides_t)
        )
        self.out = nn.Conv1d(emb_width, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in reversed(self.level_blocks):
            x = block(x)
        return self.out(x)


class Codebook(nn.Module):
    """One level's codebook (``nb_discrete_codes`` vectors of ``emb_width``): nearest-neighbour lookup.

    The codebook is a buffer: the original learns it by an exponential moving average of the latents
    assigned to each code (``update_k``), not by gradients. That update is not implemented here.
    """

    def __init__(self, nb_codes: int, emb_width: int) -> None:
        super().__init__()
        self.register_buffer("codebook", torch.zeros(nb_codes, emb_width))

    @property
    def nb_codes(self) -> int:
        return self.codebook.shape[0]

    def quantise(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, C, T) latents -> (N, T) indices of the nearest codes (squared Euclidean distance)."""
        n, width, t = latents.shape
        x = latents.detach().transpose(1, 2).reshape(n * t, width)
        codebook_t = self.codebook.t()  # (C, codes)
        code_norms = codebook_t.pow(2).sum(dim=0, keepdim=True)  # (1, codes)
        rows = max(1, _QUANTISE_ELEMENTS // max(1, self.nb_codes))
        tokens = torch.empty(n * t, dtype=torch.long, device=latents.device)
        with torch.no_grad():  # indices carry no gradient; do not record the distance matrix
            for start in range(0, n * t, rows):
                part = x[start : start + rows]
                # |x|^2 - 2 x.k + |k|^2 in the original's order of operations, so near-ties round the same.
                distance = torch.matmul(part, codebook_t).mul_(-2)
                distance.add_(part.pow(2).sum(dim=-1, keepdim=True)).add_(code_norms)
                tokens[start : start + rows] = torch.min(distance, dim=-1).indices
        return tokens.view(n, t)

    def dequantise(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, T) indices -> (N, C, T) code vectors."""
        if tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"music tokens must be an integer tensor, got {tokens.dtype}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.nb_codes):
            raise ValueError(
                f"music tokens must lie in [0, {self.nb_codes}), got [{int(tokens.min())}, {int(tokens.max())}]"
            )
        return F.embedding(tokens, self.codebook).transpose(1, 2)

    def forward(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training path: (tokens (N, T), quantised latents (N, C, T), commit loss).

        The quantised latents are ``x + (q - x).detach()``, passing gradients straight through to the
        encoder in training mode; in eval mode they are detached. Both as in the original (which keeps
        the ``x + (q - x)`` rounding in eval mode too).
        """
        tokens = self.quantise(latents)
        codes = self.dequantise(tokens)
        commit_loss = torch.linalg.vector_norm(codes.detach() - latents) ** 2 / latents.numel()
        quantised = latents + (codes - latents).detach()
        if not self.training:
            quantised = quantised.detach()
        return tokens, quantised, commit_loss

    @torch.no_grad()
    def init_from_latents(self, latents: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """The original ``init_k``: codes = a random choice of latent vectors (tiled with noise if too few)."""
        width = latents.shape[1]
        x = latents.transpose(1, 2).reshape(-1, width)
        if x.shape[0] < self.nb_codes:
            repeats = -(-self.nb_codes // x.shape[0])
            x = x.repeat(repeats, 1)
            # Random draws happen on the CPU, so a seed gives the same codebook on every device.
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
            x = x + noise * (0.01 / math.sqrt(width))
        order = torch.randperm(x.shape[0], generator=generator)[: self.nb_codes]
        self.codebook.copy_(x[order.to(x.device)])


class Bottleneck(nn.Module):
    """One codebook per VQ level, held as ``level_blocks`` (HF / OpenAI key names)."""

    def __init__(self, levels: int, nb_codes: int, emb_width: int) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleList(Codebook(nb_codes, emb_width) for _ in range(levels))

    def __getitem__(self, level: int) -> Codebook:
        return self.level_blocks[level]  # type: ignore[return-value]
