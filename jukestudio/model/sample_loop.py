"""The sampling cascade's window loop as small pure functions (the original OpenAI semantics).

Levels are in prior order (0 = top). A level of ``total`` tokens is sampled in windows of ``n_ctx``
tokens that advance by ``hop = int(hop_fraction * n_ctx)`` (top 0.125, upsamplers 0.5); the last
window is pulled back so it ends at ``total``. Tokens already present are context: a window is only
sampled where it adds tokens, so replanning from the codes sampled so far gives exactly the windows
that are left (this is what makes jobs resumable). A level shorter than one window is one partial
window from 0. An upsampler window ``[start, start + n_ctx)`` is conditioned on the upper level's
codes ``[start // d, (start + n_ctx) // d)`` (d = 4), which must already exist.

Deliberate differences from Hugging Face's ``JukeboxModel`` loop (see docs/architecture.md and the
reference notes): the upsampler conditioning is exactly the window; a partial window never repeats
its context; the timing label uses the declared song length, not the generated length.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from jukestudio.model.sampling_params import SamplingParams

logger = logging.getLogger(__name__)

StepHook = Callable[[int, int], None]


class DurationError(ValueError):
    """The declared song length does not fit what a prior was trained on (clear message for the user)."""


def get_starts(total_length: int, n_ctx: int, hop_length: int) -> list[int]:
    """Window starts of the original: ``range(0, total - n_ctx + hop, hop)``, the last one clamped."""
    if hop_length <= 0:
        raise ValueError(f"hop length must be positive, got {hop_length}")
    starts = []
    for start in range(0, total_length - n_ctx + hop_length, hop_length):
        if start + n_ctx >= total_length:
            start = total_length - n_ctx  # the last window ends at the end, with as much context as fits
        starts.append(start)
    return starts


@dataclass(frozen=True)
class Window:
    """One window to sample at one level: tokens ``[start, start + length)``, the first ``context`` known."""

    level: int
    start: int
    length: int  # n_ctx, or fewer for a partial window
    context: int  # tokens of the window that already exist (primed into the KV cache)
    index: int = 0  # position among the windows planned for this level

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def new_tokens(self) -> int:
        return self.length - self.context


def plan_level(level: int, total: int, current: int, n_ctx: int, hop: int) -> list[Window]:
    """The windows still to sample to bring a level from ``current`` to ``total`` tokens."""
    if total <= current:
        return []
    if total < n_ctx:
        return [Window(level, 0, total, current, 0)]
    windows, have = [], current
    for start in get_starts(total, n_ctx, hop):
        end = start + n_ctx
        if end <= have:
            continue  # fully known already (a continuation, or windows finished before a resume)
        if start > have:  # cannot happen with hop <= n_ctx; guards a bad hop fraction
            raise ValueError(f"level {level}: window at {start} leaves a gap after token {have} (hop {hop} > n_ctx?)")
        windows.append(Window(level, start, n_ctx, have - start, len(windows)))
        have = end
    return windows


@dataclass(frozen=True)
class LevelGeometry:
    """What the loop needs to know about one prior, derived from the configs (no weights)."""

    level: int
    n_ctx: int
    hop: int  # window advance in tokens
    raw_to_tokens: int  # audio samples per token
    cond_downsample: int | None  # upper-level tokens per window token ratio (None for the top)
    min_duration: float | None
    max_duration: float | None
    has_timing: bool  # the top prior's timing signal (total length, position) is in its labels


def level_geometries(config: Any) -> list[LevelGeometry]:
    """One LevelGeometry per prior (prior order) from a JukeboxConfig."""
    hops = config.vqvae_config.hop_lengths  # VQ order
    n_levels = len(config.prior_configs)
    result = []
    for p, prior in enumerate(config.prior_configs):
        vq_level = n_levels - 1 - p
        raw = hops[vq_level]
        result.append(
            LevelGeometry(
                level=p,
                n_ctx=prior.n_ctx,
                hop=int(config.hop_fraction[p] * prior.n_ctx),
                raw_to_tokens=raw,
                cond_downsample=hops[vq_level + 1] // raw if p > 0 else None,
                min_duration=prior.min_duration,
                max_duration=prior.max_duration,
                has_timing=p == 0 and prior.metadata_conditioning,
            )
        )
    return result


def level_lengths(sample_length: int, geometries: Sequence[LevelGeometry]) -> list[int]:
    """Tokens at each level for ``sample_length`` audio samples."""
    return [sample_length // g.raw_to_tokens for g in geometries]


def plan(
    geometries: Sequence[LevelGeometry], sample_levels: Sequence[int], sample_length: int, current: Sequence[int]
) -> dict[int, list[Window]]:
    """Windows per sampled level, assuming every earlier level finishes first (the cascade order)."""
    totals = level_lengths(sample_length, geometries)
    return {
        p: plan_level(p, totals[p], current[p], geometries[p].n_ctx, geometries[p].hop) for p in sorted(sample_levels)
    }


def check_durations(
    geometries: Sequence[LevelGeometry],
    sample_levels: Sequence[int],
    total_length: int,
    offset: int,
    sample_length: int,
    sampling_rate: int,
) -> None:
    """Raise DurationError before any sampling if the timing labels would leave their trained ranges.

    The top prior embeds the declared song length (``min_duration <= total < max_duration``, the
    original asserts it) and each window's absolute position, whose end (a whole ``n_ctx`` window,
    even for a partial one) must stay within ``max_duration``. The sampled audio must lie inside
    the declared song.
    """
    for p in sample_levels:
        g = geometries[p]
        if not g.has_timing:
            continue
        seconds = total_length / sampling_rate
        if g.min_duration is not None and total_length < g.min_duration * sampling_rate:
            raise DurationError(
                f"the declared song length {seconds:.2f} s is shorter than this model's minimum of "
                f"{g.min_duration:g} s; declare a longer total song length (the take itself may be shorter)"
            )
        if g.max_duration is not None and total_length >= g.max_duration * sampling_rate:
            raise DurationError(
                f"the declared song length {seconds:.2f} s is not below this model's maximum of {g.max_duration:g} s"
            )
        if offset + sample_length > total_length:
            raise DurationError(
                f"the sampled audio ends at {(offset + sample_length) / sampling_rate:.2f} s, after the end of the "
                f"declared song ({seconds:.2f} s); declare a longer total song length"
            )
        window_end = offset + max(sample_length, g.n_ctx * g.raw_to_tokens)
        if g.max_duration is not None and window_end > g.max_duration * sampling_rate:
            raise DurationError(
                f"the last window would end at {window_end / sampling_rate:.2f} s, beyond this model's maximum "
                f"of {g.max_duration:g} s"
            )


def upper_conditioning(
    music_tokens: Sequence[torch.Tensor], geometry: LevelGeometry, window: Window
) -> list[torch.Tensor] | None:
    """The upper level's codes under a whole upsampler window, ``[start // d, (start + n_ctx) // d)``.

    A partial window (shorter than n_ctx) needs the upper codes under its sampled part; the rest of
    the conditioner input is padded with token 0 (the original cannot upsample less than a window).
    """
    if geometry.cond_downsample is None:
        return None
    d = geometry.cond_downsample
    if window.start % d:
        raise ValueError(f"level {window.level}: window start {window.start} is not a multiple of {d}")
    upper = music_tokens[window.level - 1]
    lo, hi = window.start // d, (window.start + geometry.n_ctx) // d
    needed = lo + math.ceil(window.length / d)
    if upper.shape[1] < needed:
        raise ValueError(
            f"level {window.level} window [{window.start}, {window.end}) needs the level above up to token "
            f"{needed}, but only {upper.shape[1]} exist: sample the upper level first"
        )
    cond = upper[:, lo:hi]
    if cond.shape[1] < hi - lo:
        pad = cond.new_zeros(cond.shape[0], hi - lo - cond.shape[1])
        cond = torch.cat([cond, pad], dim=1)
    return [cond]


def batch_slices(n_samples: int, batch_size: int) -> list[slice]:
    batch_size = max(1, batch_size)
    return [slice(i, min(i + batch_size, n_samples)) for i in range(0, n_samples, batch_size)]


def sample_window(
    prior: Any,
    music_tokens: Sequence[torch.Tensor],
    labels: torch.Tensor,
    geometry: LevelGeometry,
    window: Window,
    *,
    total_length: int,
    offset: int,
    params: SamplingParams,
    batch_size: int,
    generator: torch.Generator | None = None,
    on_step: Callable[[int, int, int, int], None] | None = None,
) -> torch.Tensor:
    """Sample one window for all takes (in batches of ``batch_size``); returns the new tokens (N, new).

    ``params`` goes unchanged to ``prior.sample`` (which uses its own level's values).

    ``labels`` is this level's (N, L) label tensor (full lyrics); the window's label (offset, window
    length, lyric window) comes from ``prior.get_metadata``. ``on_step(rows_done, rows, i, n)`` runs
    after every sampled token step of a batch of ``rows`` takes (``rows_done`` finished before it); it
    may raise to cancel.
    """
    level_tokens = music_tokens[window.level]
    n_samples = level_tokens.shape[0]
    context = level_tokens[:, window.start : window.start + window.context]
    conds = upper_conditioning(music_tokens, geometry, window)
    metadata = prior.get_metadata(labels, window.start, total_length, offset=offset)
    pieces = []
    for rows in batch_slices(n_samples, batch_size):
        hook = None
        if on_step is not None:

            def hook(i: int, n: int, done: int = rows.start, count: int = rows.stop - rows.start) -> None:
                on_step(done, count, i, n)

        tokens = prior.sample(
            rows.stop - rows.start,
            music_tokens=context[rows],
            music_tokens_conds=[c[rows] for c in conds] if conds is not None else None,
            metadata=metadata[rows],
            sample_tokens=window.length,
            generator=generator,
            on_step=hook,
            params=params,
        )
        if tokens.shape[1] != window.length:
            raise RuntimeError(
                f"level {window.level}: the prior returned {tokens.shape[1]} tokens for a window of {window.length}"
            )
        pieces.append(tokens[:, window.context :])
    return torch.cat(pieces, dim=0)


# ---------------------------------------------------------------------- CUDA graph of the token step


def _step_stack(prior: Any) -> Any | None:
    """The layer stack whose ``step`` samples one token (JukeboxPrior.prior.transformer)."""
    return getattr(getattr(prior, "prior", None), "transformer", None)


@contextmanager
def compiled_step(prior: Any, device: torch.device) -> Iterator[bool]:
    """While inside: the prior's one-token step is captured once per window shape as a CUDA graph and
    replayed per token (``step_graph``), falling back to eager if a capture fails.

    Only on CUDA (graphs pay off where kernel launches dominate, i.e. a GPU); elsewhere one warning
    is logged and the step stays eager. Yields whether graphs are on.
    """
    from jukestudio.model.step_graph import step_mode

    stack = _step_stack(prior)
    if device.type != "cuda" or stack is None or not hasattr(stack, "sampling_session"):
        why = f"sampling on {device.type}" if device.type != "cuda" else "no per-token step to capture"
        logger.warning("compile=True is for CUDA sampling only (%s): the prior runs eagerly", why)
        yield False
        return
    with step_mode(stack, "cuda_graph"):
        yield True
