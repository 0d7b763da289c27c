"""Weight-only int8 for the fast CPU preview of the top prior.

The MLP matrices of the transformer (``JukeboxConv1D``, stored (in, out); 2/3 of its weight bytes) become
int8 with one scale per output channel; the one-token step multiplies them with torch's own CPU kernel
``aten._weight_int8pack_mm`` (activations in bf16, accumulation in fp32 inside the kernel). A batch-1
step on a CPU is bound by the weight bytes it reads; the MLP's and the logits projection's shrink to a
quarter. Attention projections, priming (``forward_chunk``), LayerNorm, softmax and embeddings stay
fp32, and the fp32 weights are kept, so switching off is free.
Without the kernel (an old or unusual torch build), or for an inner dimension it cannot take, the same
int8 weights are multiplied after an on-the-fly conversion: correct, not faster.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import torch
from torch import nn

logger = logging.getLogger(__name__)

_KERNEL = getattr(torch.ops.aten, "_weight_int8pack_mm", None)
# The CPU kernel crashes (segfault, torch 2.13) when the inner dimension is not a multiple of 16; every
# released prior's widths are, tiny test models are not: those matrices take the fallback.
KERNEL_K_MULTIPLE = 16


class Int8Weight(NamedTuple):
    q: torch.Tensor  # (out, in) int8
    scales: torch.Tensor  # (out,) bf16, the kernel's activation dtype


def quantize_int8(weight: torch.Tensor, out_dim: int = 1) -> Int8Weight:
    """Per-output-channel symmetric int8 of a matrix ((in, out) as Conv1D stores it; ``out_dim=0`` for
    (out, in) as nn.Linear). The scale is rounded to bf16 first and the matrix divided by that
    rounded scale, so the kernel's bf16 scales add no error."""
    w = weight.detach().float()
    if out_dim == 1:
        w = w.t()
    scales = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12).to(torch.bfloat16)
    q = torch.round(w / scales.float()[:, None]).clamp(-127, 127).to(torch.int8)
    return Int8Weight(q.contiguous(), scales)


def int8_linear(x: torch.Tensor, weight: Int8Weight) -> torch.Tensor:
    """``x @ W.T`` in bf16 out of the kernel; (B, in) -> (B, out)."""
    a = x.to(torch.bfloat16)
    if _KERNEL is not None and a.shape[-1] % KERNEL_K_MULTIPLE == 0:
        return _KERNEL(a, weight.q, weight.scales)
    return torch.nn.functional.linear(a, weight.q.to(torch.bfloat16)) * weight.scales


def int8_addmm(bias: torch.Tensor, x: torch.Tensor, weight: Int8Weight | torch.Tensor) -> torch.Tensor:
    """``bias + x @ W`` for an int8 ``weight``; (B, in) fp32 -> (B, out) fp32 (one op adds and widens).
    A plain (in, out) tensor (a matrix left in full precision) goes to ``torch.addmm``."""
    if isinstance(weight, torch.Tensor):
        return torch.addmm(bias, x, weight)
    return torch.add(bias, int8_linear(x, weight))


def quantize_prior(autoregressive: nn.Module) -> dict[nn.Module, Int8Weight]:
    """int8 copies of the MLP matrices of the layer stack and of the logits projection, keyed by
    module; kept on the stack and reused while the weights are unchanged (same storage, version).

    The MLP holds 2/3 of a layer's weight bytes; the logits projection is read once per token whole
    (vocabulary x width). The attention projections stay fp32: their error is amplified by the q·k
    softmax. On bench/sampling.py's weights (width 512, 12 layers) the mean KL from fp32 is 0.0062
    nats/token for the MLP alone, 0.0074 with the logits (+7 % tokens/s), 0.0099 with the attention
    output projection too (no faster) and 0.0169 with every matrix.
    """
    stack = autoregressive.transformer  # its MLPs are the modules with a c_fc (transformer imports us)
    mlps = [m for mlp in stack.modules() if hasattr(mlp, "c_fc") for m in (mlp.c_fc, mlp.c_proj)]
    head = autoregressive.fc_proj_out  # nn.Linear: (out, in)
    key = tuple((m.weight.data_ptr(), m.weight._version, m.weight.shape) for m in [*mlps, head])
    cached = getattr(stack, "_int8_cache", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    weights = {m: quantize_int8(m.weight) for m in mlps}
    weights[head] = quantize_int8(head.weight, out_dim=0)
    stack._int8_cache = (key, weights)
    return weights


def kernel_available() -> bool:
    return _KERNEL is not None


@contextmanager
def fast_preview(prior: Any, device: torch.device) -> Iterator[bool]:
    """While inside, the prior's one-token step uses int8 weights (CPU only; elsewhere a warning and
    full precision). Yields whether int8 is on."""
    stack = getattr(getattr(prior, "prior", None), "transformer", None)
    if device.type != "cpu" or stack is None or not hasattr(stack, "int8_weights"):
        logger.warning("fast preview (int8) is for CPU sampling: the prior runs at full precision")
        yield False
        return
    if stack.compute_dtype is not None:
        logger.warning("fast preview (int8) needs the fp32 transformer: the prior runs at full precision")
        yield False
        return
    if _KERNEL is None:
        logger.warning("this PyTorch has no int8 weight kernel: fast preview is exact but not faster")
    stack.int8_weights = quantize_prior(prior.prior)
    try:
        yield True
    finally:
        stack.int8_weights = None
