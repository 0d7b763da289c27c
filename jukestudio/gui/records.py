"""Plain data shared by the window's parts and the Studio (no Qt): song settings, vocabulary hooks, takes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SongSettings:
    model: str = ""
    artist: str = ""
    genres: list[str] = field(default_factory=list)
    lyrics: str = ""
    total_seconds: float = 180.0  # the declared song length the model is conditioned on
    take_seconds: float = 20.0  # how much to sample now
    n_takes: int = 3
    temperatures: list[float] = field(default_factory=lambda: [0.98, 0.99, 0.99])  # prior order
    seed: int | None = None  # None = a new random seed per compose

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SongSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        settings = cls(**known)
        settings.genres = list(settings.genres or [])
        settings.temperatures = [float(t) for t in (settings.temperatures or [0.98, 0.99, 0.99])][:3]
        return settings


@dataclass
class Vocabulary:
    """What the pickers and the lyrics editor need from the active model's tokenizer."""

    search_artists: Callable[[str, int], list[str]]
    search_genres: Callable[[str, int], list[str]]
    is_artist: Callable[[str], bool]
    is_genre: Callable[[str], bool]
    dropped_positions: Callable[[str], Iterable[int]]
    max_genres: int = 1
    lyrics_note: str | None = None  # why the lyrics editor is off (an instrumental model); None = lyrics used


@dataclass(frozen=True)
class TakeItem:
    take_id: str
    name: str
    parent_id: str | None
    status: str  # a key of BADGES
    duration_s: float
    rating: int = 0  # 0..5
