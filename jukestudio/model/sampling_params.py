"""How tokens are drawn: one frozen record, from the project's settings down to the logits filter.

:class:`SamplingParams` is built once per job (``ProjectSettings.sampling_params``), stored flat in
the job's ``job.json`` settings and passed unchanged through ``JukeboxModel.sample_with`` →
``sample_loop.sample_window`` → ``JukeboxPrior.sample`` → the transformer → ``sampling.sample_logits``.
The Hugging Face–style keyword arguments (``temp``, ``top_k``, ``top_p``, ``chunk_size``,
``sampling_temperature``…) are turned into one with :meth:`SamplingParams.from_hf_kwargs`.

The defaults here are the only ones (OpenAI's sampling notebook: top prior 0.98, upsamplers 0.99).
No torch: the window and ``project.settings`` import this at start-up.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

N_LEVELS = 3
DEFAULT_TEMPERATURES = (0.98, 0.99, 0.99)
"""Prior order: top prior, middle upsampler, bottom upsampler."""
DEFAULT_CHUNK_SIZES = (16, 32, 32)
DEFAULT_BATCH = 3
HF_CHUNK_SIZE = 32
HF_BATCH = 16
"""Defaults of Hugging Face's ``JukeboxModel._sample`` keywords (its API, kept for callers of it)."""
MAX_SEED = 2**31 - 1
"""Seeds drawn for "random" fit the window's seed box, so a take's seed can be typed in again."""


def choose_seed(fixed: int | None = None) -> int:
    """The one place a seed is drawn: ``fixed`` when given, else a fresh random one."""
    return int(fixed) if fixed is not None else secrets.randbelow(MAX_SEED + 1)


@dataclass(frozen=True)
class SamplingParams:
    """Everything that decides which tokens are drawn, per level where it differs (prior order)."""

    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    top_k: int = 0
    """Keep the k most likely tokens (0 = off, 1 = greedy)."""
    top_p: float = 0.0
    """Keep the smallest set of tokens whose probability reaches p (0 = off)."""
    chunk_sizes: tuple[int, ...] = DEFAULT_CHUNK_SIZES
    """Positions primed at once into the attention cache (smaller = less GPU memory; 0 = all at once)."""
    max_batch_size: int = DEFAULT_BATCH
    """Most takes sampled at once by the top prior."""
    lower_batch_size: int = DEFAULT_BATCH
    """Most takes sampled at once by the upsamplers."""
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        object.__setattr__(self, "chunk_sizes", tuple(int(c) for c in self.chunk_sizes))

    # ------------------------------------------------------------------ per level

    def temperature(self, level: int) -> float:
        return self.temperatures[min(level, len(self.temperatures) - 1)]

    def chunk_size(self, level: int) -> int:
        return self.chunk_sizes[min(level, len(self.chunk_sizes) - 1)]

    def batch_size(self, level: int) -> int:
        return self.max_batch_size if level == 0 else self.lower_batch_size

    def problems(self) -> list[str]:
        """What is wrong with the values, one message per field (empty when fine)."""
        out = []
        if not all(_is_number(t) and t > 0 for t in self.temperatures) or not self.temperatures:
            out.append(f"temperatures must be numbers > 0 (prior order), got {list(self.temperatures)!r}")
        if not _is_int(self.top_k) or self.top_k < 0:
            out.append(f"top_k must be a whole number ≥ 0, got {self.top_k!r}")
        if not _is_number(self.top_p) or not 0 <= self.top_p <= 1:
            out.append(f"top_p must be between 0 and 1, got {self.top_p!r}")
        if not self.chunk_sizes or any(c < 0 for c in self.chunk_sizes):
            out.append(f"chunk_sizes must be whole numbers ≥ 0 (0 = all at once), got {list(self.chunk_sizes)!r}")
        for name in ("max_batch_size", "lower_batch_size"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                out.append(f"{name} must be a whole number ≥ 1, got {value!r}")
        return out

    # ------------------------------------------------------------------ conversions

    def with_seed(self, seed: int) -> SamplingParams:
        return replace(self, seed=int(seed))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["temperatures"] = list(self.temperatures)
        data["chunk_sizes"] = list(self.chunk_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingParams:
        """From a job.json's settings (other keys are ignored; a missing or null field takes its default)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        if "chunk_sizes" not in values and data.get("chunk_size") is not None:  # job.json before chunk_sizes
            values["chunk_sizes"] = (int(data["chunk_size"]),) * N_LEVELS
        return cls(**values)

    @classmethod
    def from_hf_kwargs(
        cls,
        n_levels: int = N_LEVELS,
        *,
        sampling_temperature: float = DEFAULT_TEMPERATURES[0],
        temperatures: Sequence[float] | None = None,
        temp: float | None = None,
        top_k: int = 0,
        top_p: float = 0.0,
        chunk_size: int | None = HF_CHUNK_SIZE,
        chunk_sizes: Sequence[int] | None = None,
        max_batch_size: int = HF_BATCH,
        lower_batch_size: int = HF_BATCH,
        seed: int = 0,
    ) -> SamplingParams:
        """The record behind Hugging Face's sampling keywords: ``sampling_temperature`` is the top
        prior's (upsamplers keep the default), ``temp`` one temperature for every level,
        ``temperatures``/``chunk_sizes`` per level override the single values."""
        if temperatures is None:
            if temp is not None:
                temperatures = [temp] * n_levels
            else:
                temperatures = [sampling_temperature, *DEFAULT_TEMPERATURES[1:]][:n_levels]
                temperatures += [DEFAULT_TEMPERATURES[-1]] * (n_levels - len(temperatures))
        if chunk_sizes is None:
            chunk_sizes = [chunk_size or 0] * n_levels
        return cls(
            temperatures=tuple(temperatures),  # type: ignore[arg-type]
            top_k=top_k,
            top_p=top_p,
            chunk_sizes=tuple(chunk_sizes),
            max_batch_size=max_batch_size,
            lower_batch_size=lower_batch_size,
            seed=seed,
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
