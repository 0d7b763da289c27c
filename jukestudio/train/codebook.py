"""The original's codebook learning (``jukebox/vqvae/bottleneck.py`` ``BottleneckBlock.update_k``).

Codebooks are not trained by gradients: each code is the exponential moving average (``lmu``) of
the latents assigned to it. A code whose average usage falls below ``threshold`` (1.0, as the
original) is dead and restarted on a random latent of the current batch. The EMA sums live here,
beside the model, so the model's state dict (and file format) stays the released one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from jukestudio.model.vqvae_blocks import Codebook


@dataclass
class CodebookStats:
    """What one update did (for logs and curves)."""

    used: int  # codes hit in this batch (>= threshold)
    restarted: int  # dead codes replaced by batch latents
    entropy: float  # of this batch's code usage, nats
    change: float  # RMS change of the codebook


class EmaCodebook:
    """EMA state of one level's codebook: ``k_sum`` (codes, width) and ``k_elem`` (codes,)."""

    def __init__(self, codebook: Codebook, mu: float, threshold: float = 1.0) -> None:
        self.codebook = codebook
        self.mu = float(mu)
        self.threshold = float(threshold)
        self.k_sum = codebook.codebook.detach().clone()
        self.k_elem = torch.ones(codebook.nb_codes)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"k_sum": self.k_sum.clone(), "k_elem": self.k_elem.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.k_sum = state["k_sum"].clone()
        self.k_elem = state["k_elem"].clone()

    @torch.no_grad()
    def reset_from_codebook(self) -> None:
        """After a data-driven ``init_k``: the sums restart from the new codes (as the original)."""
        self.k_sum = self.codebook.codebook.detach().clone()
        self.k_elem = torch.ones(self.codebook.nb_codes)

    @torch.no_grad()
    def update(self, latents: torch.Tensor, tokens: torch.Tensor, generator: torch.Generator) -> CodebookStats:
        """One ``update_k``: latents (N, C, T) from the encoder, tokens (N, T) their nearest codes."""
        width = latents.shape[1]
        nb_codes = self.codebook.nb_codes
        x = latents.detach().transpose(1, 2).reshape(-1, width).float()
        index = tokens.reshape(-1)
        onehot = torch.zeros(nb_codes, x.shape[0])
        onehot.scatter_(0, index.view(1, -1), 1.0)
        batch_sum = onehot @ x
        batch_elem = onehot.sum(dim=1)
        # Candidates for restarts: the batch's latents, tiled with a little noise if too few (_tile).
        y = x
        if y.shape[0] < nb_codes:
            repeats = -(-nb_codes // y.shape[0])
            y = y.repeat(repeats, 1)
            y = y + torch.randn(y.shape, generator=generator) * (0.01 / math.sqrt(width))
        rand = y[torch.randperm(y.shape[0], generator=generator)[:nb_codes]]
        old = self.codebook.codebook.detach().clone()
        self.k_sum = self.mu * self.k_sum + (1.0 - self.mu) * batch_sum
        self.k_elem = self.mu * self.k_elem + (1.0 - self.mu) * batch_elem
        usage = (self.k_elem >= self.threshold).float().unsqueeze(1)
        new = usage * (self.k_sum / self.k_elem.clamp(min=1e-12).unsqueeze(1)) + (1.0 - usage) * rand
        self.codebook.codebook.copy_(new)
        prob = batch_elem / batch_elem.sum()
        entropy = float(-(prob * torch.log(prob + 1e-8)).sum())
        change = float(torch.linalg.vector_norm(new - old) / math.sqrt(old.numel()))
        return CodebookStats(int((batch_elem >= self.threshold).sum()), int((1.0 - usage).sum()), entropy, change)
