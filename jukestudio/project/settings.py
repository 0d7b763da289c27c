"""Project-wide settings: what to sing (model, artist, genres, lyrics) and how to sample it."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from jukestudio.levels import LEVEL_KEYS
from jukestudio.model.sampling_params import SamplingParams
from jukestudio.project.errors import ProjectCorruptError
from jukestudio.project.validate import settings_problems

log = logging.getLogger(__name__)

N_LEVELS = 3
_SAMPLING = SamplingParams()  # the sampling defaults live in that record only
LEVEL_NAMES = LEVEL_KEYS
"""Prior order: prior 0 (top, hop 128) gives the preview, prior 2 (bottom, hop 8) the full quality."""


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
    temperatures: list[float] = field(default_factory=lambda: list(_SAMPLING.temperatures))
    """Prior order: top prior, middle upsampler, bottom upsampler (OpenAI's defaults)."""
    top_k: int = _SAMPLING.top_k
    top_p: float = _SAMPLING.top_p
    seed: int | None = None
    """None: a fresh random seed per job (recorded in each take)."""
    chunk_sizes: list[int] = field(default_factory=lambda: list(_SAMPLING.chunk_sizes))
    """Prior order; smaller chunks use less GPU memory when priming the attention cache."""
    max_batch: int = _SAMPLING.max_batch_size
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
        if not _is_list_of(self.temperatures, _is_number):
            problems.append(f"temperatures must be {N_LEVELS} numbers > 0 (prior order), got {self.temperatures!r}")
        if not _is_list_of(self.chunk_sizes, _is_int):
            problems.append(f"chunk_sizes must be {N_LEVELS} whole numbers ≥ 1, got {self.chunk_sizes!r}")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed < 2**63):
            problems.append(f"seed must be empty or a whole number ≥ 0, got {self.seed!r}")
        if not problems:  # the sampling values are checked by their record, the one home of their rules
            problems += self.sampling_params(0).problems()
        problems += settings_problems(self)  # upper bounds and unencodable text (project/validate.py)
        if not isinstance(self.fast_preview, bool):
            problems.append(f"fast_preview must be true or false, got {self.fast_preview!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def sampling_params(self, seed: int) -> SamplingParams:
        """The frozen record a job samples with (the seed chosen for that job)."""
        return SamplingParams(
            temperatures=tuple(self.temperatures),
            top_k=self.top_k,
            top_p=self.top_p,
            chunk_sizes=tuple(self.chunk_sizes),
            max_batch_size=self.max_batch,
            lower_batch_size=self.max_batch,
            seed=seed,
        )

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
