"""Plain data shared by the window's parts and the Studio (no Qt): vocabulary hooks, takes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass
class Vocabulary:
    """What the pickers and the lyrics editor need from the active model's tokenizer."""

    search_artists: Callable[[str, int], list[str]]
    search_genres: Callable[[str, int], list[str]]
    is_artist: Callable[[str], bool]
    is_genre: Callable[[str], bool]
    dropped_positions: Callable[[str], Iterable[int]]
    max_genres: int = 1


@dataclass(frozen=True)
class TakeItem:
    take_id: str
    name: str
    parent_id: str | None
    status: str  # a key of BADGES
    duration_s: float
    rating: int = 0  # 0..5
