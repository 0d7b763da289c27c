"""Where jobs run and how many takes fit at once: CUDA when present, else CPU; never a hard CUDA need."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from jukestudio.model.config import JukeboxPriorConfig

logger = logging.getLogger(__name__)

HEADROOM = 0.85  # use at most this share of free GPU memory (allocator fragmentation, activations)


def pick_device(preference: str | None = None) -> torch.device:
    """``preference`` "cpu"/"cuda"/"cuda:1"/None (auto: CUDA when available)."""
    if preference and preference != "auto":
        device = torch.device(preference)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("a CUDA device was asked for, but PyTorch sees no CUDA GPU on this machine")
        return device
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


@dataclass(frozen=True)
class MemoryEstimate:
    weights_bytes: int
    kv_bytes_per_sample: int
    activation_bytes_per_sample: int

    def total(self, n_samples: int) -> int:
        return self.weights_bytes + n_samples * (self.kv_bytes_per_sample + self.activation_bytes_per_sample)


def estimate_prior_memory(config: JukeboxPriorConfig, n_params: int, bytes_per_value: int = 4) -> MemoryEstimate:
    """Weights + KV cache + per-step activations of one prior, following our static cache layout.

    Dense and transpose-block ("column") layers keep the whole window; block layers one block,
    previous-block layers two, prime layers the lyric prefix, cross layers the lyric states.
    """
    from jukestudio.model.attention import BLOCK, CROSS, DENSE, PREV_BLOCK, PRIME, TRANSPOSE, attention_kind

    n_state = int(config.hidden_size * config.attention_multiplier)
    n_lyrics = config.nb_relevant_lyric_tokens if config.is_encoder_decoder else 0
    seq = config.n_ctx + n_lyrics
    block_ctx = max(1, seq // config.blocks)
    prime_len = (config.nb_relevant_lyric_tokens // config.blocks + 1) * config.blocks
    kept = {DENSE: seq, TRANSPOSE: seq, BLOCK: block_ctx, PREV_BLOCK: 2 * block_ctx, PRIME: prime_len}
    kept[CROSS] = config.nb_relevant_lyric_tokens
    positions = sum(kept[attention_kind(config.attention_pattern, d)] for d in range(config.num_layers))
    kv = positions * 2 * n_state * bytes_per_value
    # per step: the conditioning (n_ctx x width, fp32) and a few layer-wide buffers
    act = seq * config.hidden_size * 4 + 16 * config.hidden_size * bytes_per_value
    return MemoryEstimate(n_params * bytes_per_value, kv, act)


def choose_batch(
    estimate: MemoryEstimate, n_samples: int, max_batch: int, device: torch.device, free_bytes: int | None = None
) -> int:
    """Most takes sampled at once that fit the device (all of them, up to ``max_batch``, on CPU)."""
    limit = max(1, min(n_samples, max_batch))
    if device.type != "cuda":
        return limit
    if free_bytes is None:
        free_bytes, _ = torch.cuda.mem_get_info(device)
    budget = int(free_bytes * HEADROOM) - estimate.weights_bytes
    per_sample = estimate.kv_bytes_per_sample + estimate.activation_bytes_per_sample
    fit = budget // per_sample if per_sample > 0 else limit
    if fit < 1:
        logger.warning("the prior's weights barely fit the GPU; trying one take at a time")
        return 1
    return int(min(limit, fit))
