"""A take: one sampled variation, a node in the project's take tree."""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from jukestudio.levels import OLD_KEYS
from jukestudio.project.errors import ProjectCorruptError
from jukestudio.project.settings import LEVEL_NAMES, N_LEVELS, ProjectSettings

LEVEL_STATES = ("empty", "partial", "done")
ORIGINS = ("compose", "continue", "prompt", "import")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def new_take_id() -> str:
    return f"t{time.strftime('%Y%m%d%H%M%S', time.gmtime())}{secrets.token_hex(3)}"


def check_take_id(take_id: Any) -> str:
    """Take ids become folder names: allow only plain names (no '..', no separators)."""
    if not isinstance(take_id, str) or not _ID.match(take_id):
        raise ValueError(f"invalid take id {take_id!r}: use letters, digits, '-' and '_' (at most 64)")
    return take_id


_last_stamp = [0]
_stamp_lock = threading.Lock()


def now_iso() -> str:
    """UTC time with microseconds, strictly increasing within the process so creation order sorts."""
    with _stamp_lock:
        micros = max(time.time_ns() // 1000, _last_stamp[0] + 1)
        _last_stamp[0] = micros
    seconds, fraction = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:06d}Z"


@dataclass(frozen=True)
class Trim:
    """The part of a take to use (export, audition, continue from); ``end_s`` None = to the end."""

    start_s: float = 0.0
    end_s: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.start_s) or self.start_s < 0:
            raise ValueError(f"trim start must be ≥ 0 s, got {self.start_s}")
        if self.end_s is not None and (not math.isfinite(self.end_s) or self.end_s <= self.start_s):
            raise ValueError(f"trim end must be after its start ({self.start_s} s), got {self.end_s}")

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": self.start_s, "end_s": self.end_s}


@dataclass
class Take:
    """Read-only by convention: change takes through :class:`~jukestudio.project.document.Project`
    methods, which save, notify listeners and record undo steps."""

    id: str
    parent_id: str | None = None
    name: str = ""
    created: str = field(default_factory=now_iso)
    origin: str = "compose"
    continued_from_s: float | None = None
    """Where in the parent this take branches off (its codes up to there are the parent's)."""
    settings: ProjectSettings = field(default_factory=ProjectSettings)
    """Snapshot of the settings the take was sampled with."""
    seed: int | None = None
    status: dict[str, str] = field(default_factory=lambda: dict.fromkeys(LEVEL_NAMES, "empty"))
    duration_s: float = 0.0
    rating: int = 0
    """0 = unrated, 1..5 stars."""
    notes: str = ""
    trim: Trim | None = None
    job_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form JSON data for the engine (sample index in its batch, model hash, …)."""

    def level_status(self, prior_level: int) -> str:
        return self.status[LEVEL_NAMES[prior_level]]

    @property
    def best_level(self) -> int | None:
        """Highest-quality finished prior level (2 = full), or None when no level is done."""
        done = [p for p in range(N_LEVELS) if self.level_status(p) == "done"]
        return max(done) if done else None

    def job_for_level(self, prior_level: int) -> dict[str, Any] | None:
        """The entry of ``extra["jobs"]`` (the take's job history) of the latest job that sampled this
        level: id, kind, seed, levels, region_s. None for takes written before the history existed."""
        key = LEVEL_NAMES[prior_level]
        found = None
        for entry in self.extra.get("jobs") or []:
            if isinstance(entry, dict) and key in (entry.get("levels") or []):
                found = entry
        return found

    def copy(self, **changes: Any) -> Take:
        return replace(self, **{"status": dict(self.status), "extra": dict(self.extra), **changes})

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "name": self.name,
            "created": self.created,
            "origin": self.origin,
            "continued_from_s": self.continued_from_s,
            "settings": self.settings.to_dict(),
            "seed": self.seed,
            "status": dict(self.status),
            "duration_s": self.duration_s,
            "rating": self.rating,
            "notes": self.notes,
            "trim": self.trim.to_dict() if self.trim else None,
            "job_id": self.job_id,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Take:
        """Parse take.json content; anything malformed raises ProjectCorruptError naming ``source``."""
        if not isinstance(data, dict):
            raise ProjectCorruptError(f"{source}: a take must be a JSON object")
        try:
            take_id = check_take_id(data.get("id"))
            parent = data.get("parent_id")
            if parent is not None:
                check_take_id(parent)
            status = data.get("status") or {}
            if isinstance(status, dict):  # take.json files written before the level vocabulary
                status = {OLD_KEYS.get(k, k): v for k, v in status.items()}
            if not isinstance(status, dict) or any(status.get(n, "empty") not in LEVEL_STATES for n in LEVEL_NAMES):
                raise ValueError(f"status must map {', '.join(LEVEL_NAMES)} to one of {', '.join(LEVEL_STATES)}")
            trim = data.get("trim")
            take = cls(
                id=take_id,
                parent_id=parent,
                name=_typed(data, "name", str, ""),
                created=_typed(data, "created", str, ""),
                origin=_typed(data, "origin", str, "compose"),
                continued_from_s=_optional_number(data, "continued_from_s"),
                settings=ProjectSettings.from_dict(data.get("settings", {}), source),
                seed=_optional_int(data, "seed"),
                status={n: status.get(n, "empty") for n in LEVEL_NAMES},
                duration_s=_optional_number(data, "duration_s") or 0.0,
                rating=_optional_int(data, "rating") or 0,
                notes=_typed(data, "notes", str, ""),
                trim=Trim(float(trim["start_s"]), _optional_number(trim, "end_s")) if trim else None,
                job_id=data.get("job_id") if isinstance(data.get("job_id"), str) else None,
                extra=_typed(data, "extra", dict, {}),
            )
            if not 0 <= take.rating <= 5:
                raise ValueError(f"rating must be 0..5, got {take.rating}")
        except ProjectCorruptError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise ProjectCorruptError(f"{source}: {exc}") from exc
        return take


def _typed(data: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ValueError(f"{key} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _optional_number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} must be a number, got {value!r}")
    return float(value)


def _optional_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    return value
