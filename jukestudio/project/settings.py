"""Project-wide settings: what to sing (model, artist, genres, lyrics) and how to sample it."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from jukestudio.project.errors import ProjectCorruptError

log = logging.getLogger(__name__)

N_LEVELS = 3
LEVEL_NAMES = ("coarse", "level1", "full")
"""Prior order: prior 0 (top, hop 128) gives the coarse take, prior 2 (bottom, hop 8) the full one."""


@dataclass
class ProjectSettings:
    model: str = "5b_lyrics"
    artist: str = "unknown"
    genres: list[str] = field(default_factory=list)
    lyrics: str = ""
    total_length_s: float = 180.0
    """Length of the whole song; the model's timing conditioning sees it."""
    take_length_s: float = 20.0
    """How much music one compose/continue step adds."""
    n_takes: int = 3
    """Takes sampled side by side per compose/continue step."""
    temperatures: list[float] = field(default_factory=lambda: [0.98, 0.99, 0.99])
    """Prior order: top prior, middle upsampler, bottom upsampler (OpenAI's defaults)."""
    top_k: int = 0
    top_p: float = 0.0
    seed: int | None = None
    """None: a fresh random seed per job (recorded in each take)."""
    chunk_sizes: list[int] = field(default_factory=lambda: [16, 32, 32])
    """Prior order; smaller chunks use less GPU memory when priming the attention cache."""
    max_batch: int = 3
    """Most takes sampled at once on the GPU; more takes are sampled in turn."""
    fast_preview: bool = False
    """On CPU, sample the top level with int8 weights (faster, near-identical); upsampling stays fp32."""

    def validate(self) -> ProjectSettings:
        """Raise ValueError naming the first bad field; returns self for chaining."""
        problems = []
        if not isinstance(self.model, str) or not self.model:
            problems.append(f"model must be a model name, got {self.model!r}")
        if not isinstance(self.artist, str):
            problems.append(f"artist must be text, got {self.artist!r}")
        if not isinstance(self.genres, list) or not all(isinstance(g, str) for g in self.genres):
            problems.append(f"genres must be a list of names, got {self.genres!r}")
        if not isinstance(self.lyrics, str):
            problems.append("lyrics must be text")
        for name in ("total_length_s", "take_length_s"):
            value = getattr(self, name)
            if not _is_number(value) or value <= 0:
                problems.append(f"{name} must be a number of seconds > 0, got {value!r}")
        if not _is_int(self.n_takes) or not 1 <= self.n_takes <= 256:
            problems.append(f"n_takes must be a whole number 1..256, got {self.n_takes!r}")
        if not _is_list_of(self.temperatures, _is_number) or any(t <= 0 for t in self.temperatures):
            problems.append(f"temperatures must be {N_LEVELS} numbers > 0 (prior order), got {self.temperatures!r}")
        if not _is_int(self.top_k) or self.top_k < 0:
            problems.append(f"top_k must be a whole number ≥ 0, got {self.top_k!r}")
        if not _is_number(self.top_p) or not 0 <= self.top_p <= 1:
            problems.append(f"top_p must be between 0 and 1, got {self.top_p!r}")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed < 2**63):
            problems.append(f"seed must be empty or a whole number ≥ 0, got {self.seed!r}")
        if not _is_list_of(self.chunk_sizes, _is_int) or any(c < 1 for c in self.chunk_sizes):
            problems.append(f"chunk_sizes must be {N_LEVELS} whole numbers ≥ 1, got {self.chunk_sizes!r}")
        if not _is_int(self.max_batch) or self.max_batch < 1:
            problems.append(f"max_batch must be a whole number ≥ 1, got {self.max_batch!r}")
        if not isinstance(self.fast_preview, bool):
            problems.append(f"fast_preview must be true or false, got {self.fast_preview!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "settings") -> ProjectSettings:
        """Build from JSON data; unknown keys are ignored (logged), bad values raise ProjectCorruptError."""
        if not isinstance(data, dict):
            raise ProjectCorruptError(f"{source}: settings must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            log.warning("%s: ignoring unknown settings %s", source, ", ".join(unknown))
        values = {k: v for k, v in data.items() if k in known}
        for key in ("temperatures", "chunk_sizes", "genres"):
            if isinstance(values.get(key), tuple):
                values[key] = list(values[key])
        try:
            return cls(**values).validate()
        except ValueError as exc:
            raise ProjectCorruptError(f"{source}: {exc}") from exc

    def copy(self, **changes: Any) -> ProjectSettings:
        data = self.to_dict()
        unknown = sorted(set(changes) - set(data))
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        data.update(changes)
        for key in ("temperatures", "chunk_sizes", "genres"):
            data[key] = list(data[key])
        return ProjectSettings(**data).validate()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_list_of(value: Any, check: Any) -> bool:
    return isinstance(value, list) and len(value) == N_LEVELS and all(check(v) for v in value)
