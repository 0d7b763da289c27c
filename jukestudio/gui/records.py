"""Plain data shared by the window's parts and the Studio (no Qt): vocabulary hooks, takes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class InputCheck:
    """What the model will use for the song panel's artist and genres, and what the musician should know."""

    artist: str  # the artist the model knows ("" = none: the model's "unknown" label)
    genres: list[str]  # the genres it knows
    notes: list[str]  # one line each: "no artist: …", "'foo' is not a genre the model knows: …"
    unknown: list[str]  # typed names the model does not know (composing would silently drop them)


@dataclass
class Vocabulary:
    """What the pickers and the lyrics editor need from the active model's tokenizer."""

    search_artists: Callable[[str, int], list[str]]
    search_genres: Callable[[str, int], list[str]]
    is_artist: Callable[[str], bool]
    is_genre: Callable[[str], bool]
    dropped_positions: Callable[[str], Iterable[int]]
    max_genres: int = 1
    analyse: Callable[[str, list[str]], tuple[bool, list[str]]] | None = None
    """``analyse(artist, genres) -> (artist unknown?, unknown genres)`` from the model's tokenizer."""
    has_lyrics: bool = True
    min_song_s: float = 0.0  # the declared song length the model was trained for: min ≤ length < max
    max_song_s: float = 600.0
    lyrics_note: str | None = None  # why the lyrics editor is off (an instrumental model); None = lyrics used


def check_inputs(vocab: Vocabulary | None, artist: str, genres: list[str], lyrics: str) -> InputCheck:
    """Say what the model will use: unknown names are named (the model would use "unknown" for
    them), empty fields are noted, lyrics a model without lyrics ignores are noted."""
    artist, genres = artist.strip(), [g for g in (g.strip() for g in genres) if g]
    notes: list[str] = []
    unknown: list[str] = []
    if vocab is not None and vocab.analyse is not None:
        artist_unknown, unknown_genres = vocab.analyse(artist or "unknown", genres)
    elif vocab is not None:
        artist_unknown = bool(artist) and not vocab.is_artist(artist)
        unknown_genres = [g for g in genres if not vocab.is_genre(g)]
    else:
        artist_unknown, unknown_genres = False, []
    used_artist = artist
    if artist and artist_unknown:
        unknown.append(artist)
        used_artist = ""
        notes.append(f"Artist “{artist}” is not one the model knows: it would compose with no artist.")
    elif not artist:
        notes.append("No artist: the model composes with its “unknown artist” label.")
    used_genres = [g for g in genres if g not in unknown_genres]
    for g in genres:
        if g not in used_genres:
            unknown.append(g)
            notes.append(f"Genre “{g}” is unknown to the model (or one too many for it): it would be left out.")
    if not genres:
        notes.append("No genre: the model composes with no genre.")
    if vocab is not None and vocab.has_lyrics and not lyrics.strip():
        notes.append("No lyrics: the takes will be instrumental (or wordless).")
    if vocab is not None and not vocab.has_lyrics and lyrics.strip():
        notes.append("This model does not read lyrics: they are kept with the song but not sung.")
    return InputCheck(used_artist, used_genres, notes, unknown)


@dataclass(frozen=True)
class TakeItem:
    take_id: str
    name: str
    parent_id: str | None
    status: str  # a key of BADGES
    duration_s: float
    rating: int = 0  # 0..5
    detail: str = ""  # shown with the badge, e.g. which part of a "partial" take is full quality
