"""Turning logits into tokens: temperature, top-k, top-p and a sync-free multinomial draw.

All functions work on the last dimension and never move data to the host, so a sampling loop on a
GPU runs without a synchronisation per token. Determinism comes from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import torch

from jukestudio.model.sampling_params import SamplingParams


def apply_temperature(logits: torch.Tensor, temp: float) -> torch.Tensor:
    """``logits / temp`` (the original divides even when ``temp == 1``; so do we, it is exact)."""
    if temp <= 0:
        raise ValueError(f"temperature must be > 0, got {temp}")
    return logits / temp


def top_k_filter(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep the ``top_k`` largest logits (ties with the k-th kept), set the rest to -inf."""
    if top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability reaches
    ``top_p`` (the token that crosses the threshold is kept), set the rest to -inf."""
    if top_p <= 0.0:
        return logits
    sorted_logits, sorted_idx = torch.sort(logits, descending=True, dim=-1)
    cumulative = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)
    remove_sorted = cumulative > top_p
    # shift right: keep the first token above the threshold
    remove_sorted = torch.cat([torch.zeros_like(remove_sorted[..., :1]), remove_sorted[..., :-1]], dim=-1)
    remove = torch.zeros_like(remove_sorted).scatter(-1, sorted_idx, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 0.0) -> torch.Tensor:
    """Top-k then top-p, as the original ``filter_logits``."""
    return top_p_filter(top_k_filter(logits, top_k), top_p)


def multinomial(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw per row from ``softmax(logits)``, as LongTensor (..., 1), without a host sync.

    Uses the exponential-race form: ``argmax(p / E)`` with ``E ~ Exp(1)`` is distributed as
    ``Categorical(p)``. Rows must have at least one finite logit.
    """
    probs = torch.softmax(logits.float(), dim=-1)
    if generator is not None and generator.device.type != probs.device.type:
        # e.g. a CPU generator with a GPU model: draw on the generator's device (same stream of
        # numbers whatever the model's device), then copy without waiting
        noise = torch.empty(probs.shape, device=generator.device).exponential_(generator=generator)
        noise = noise.to(probs.device, non_blocking=True)
    else:
        noise = torch.empty_like(probs).exponential_(generator=generator)
    return torch.argmax(probs / noise, dim=-1, keepdim=True)


def draw_tokens(
    logits: torch.Tensor, params: SamplingParams, level: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The logits filter: the level's temperature, then top-k and top-p, then one draw per row:
    (..., V) logits -> (..., 1) tokens. ``top_k == 1`` is greedy. A new filter is a field of
    :class:`SamplingParams` and a line here."""
    if params.top_k == 1:
        return torch.argmax(logits, dim=-1, keepdim=True)
    logits = apply_temperature(logits, params.temperature(level))
    return multinomial(filter_logits(logits, params.top_k, params.top_p), generator)


def sample_logits(
    logits: torch.Tensor,
    temp: float = 1.0,
    top_k: int = 0,
    top_p: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """:func:`draw_tokens` with loose arguments (the original's ``sample`` keywords)."""
    return draw_tokens(logits, SamplingParams(temperatures=(temp,), top_k=top_k, top_p=top_p), 0, generator)
