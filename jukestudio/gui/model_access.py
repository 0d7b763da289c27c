"""The model store as the window sees it: installed models in words, the loaded model, vocabularies."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jukestudio.gui.records import Vocabulary


@dataclass(frozen=True)
class ModelEntry:
    name: str
    status: str  # what the user should know: demo, parts missing, verified …
    usable: bool = True


INSTRUMENTAL_NOTE = "This model is instrumental (its top prior reads no lyrics, like 5b): lyrics are not used."


def vocabulary_for(config: Any) -> Vocabulary:
    """Picker search, name checks and dropped lyric characters for a model config (top prior's labels)."""
    from jukestudio.model import vocab
    from jukestudio.model.tokenizer import JukeboxTokenizer, TooManyGenresError, clean_lyrics

    top = config.prior_configs[0]
    version = top.label_version
    lyric_version = vocab.lyric_version_for_size(top.lyric_vocab_size) if top.has_lyrics else None
    artists, genres = vocab.artist_table(version), vocab.genre_table(version)

    def is_artist(name: str) -> bool:
        return artists.get(vocab.normalise(name, version)) is not None

    def is_genre(name: str) -> bool:
        if version == "v2":  # a bag of words: every word must be known
            words = [w for w in vocab.norm(name).split("_") if w]
            return bool(words) and all(genres.get(w) is not None for w in words)
        return genres.get(vocab.normalise(name, version)) is not None

    def dropped(text: str) -> list[int]:
        return clean_lyrics(text, lyric_version).dropped_positions if lyric_version else []

    tokenizer = JukeboxTokenizer.for_config(config)

    def analyse(artist: str, genres: list[str]) -> tuple[bool, list[str]]:
        """The tokenizer's own verdict: what the engine will look up is what is checked here."""
        extra: list[str] = []
        while True:  # more genres than the model takes: the extra ones count as not usable
            try:
                report = tokenizer.analyse(artist, genres, "")
                break
            except TooManyGenresError:
                genres, extra = genres[:-1], [genres[-1], *extra]
        keys = set(report.unknown_genres)
        return report.unknown_artist, [g for g in genres if set(vocab.genre_keys([g], version)) & keys] + extra

    return Vocabulary(
        search_artists=lambda q, n: distinct_names([m.name for m in vocab.search_artists(q, version, n)]),
        search_genres=lambda q, n: distinct_names([m.name for m in vocab.search_genres(q, version, n)]),
        is_artist=is_artist,
        is_genre=is_genre,
        dropped_positions=dropped,
        max_genres=int(top.max_nb_genres),
        analyse=analyse,
        has_lyrics=any(p.has_lyrics for p in config.prior_configs),
        min_song_s=max([p.min_duration or 0.0 for p in config.prior_configs] or [0.0]),
        max_song_s=min([p.max_duration for p in config.prior_configs if p.max_duration] or [600.0]),
        lyrics_note=None if top.has_lyrics else INSTRUMENTAL_NOTE,
    )


def distinct_names(names: list[str]) -> list[str]:
    """Names as a musician sees them, each once: copies that differ only by invisible marks (``jazz``
    and ``jazz\u200e`` are two ids in the table) are shown once, as the best-ranked spelling; the
    table and its ids are untouched."""
    seen: set[str] = set()
    shown = []
    for name in names:
        visible = "".join(c for c in name if unicodedata.category(c) != "Cf").strip()
        if visible not in seen:
            seen.add(visible)
            shown.append(name)
    return shown


class ModelCache:
    """Keeps the one loaded model; loading happens on whichever background thread asks first.

    Decoding needs only the VQ-VAE: ``get(name, decoder_only=True)`` loads just that part unless the
    whole model is loaded anyway.
    """

    def __init__(self, loader: Callable[..., Any] | None = None) -> None:
        self._loader = loader or _load_from_store
        self._lock = threading.Lock()
        self._full: tuple[str, Any] | None = None
        self._decoder: tuple[str, Any] | None = None

    def get(self, name: str, decoder_only: bool = False) -> Any:
        with self._lock:
            if self._full is not None and self._full[0] == name:
                return self._full[1]
            if decoder_only:
                if self._decoder is None or self._decoder[0] != name:
                    self._decoder = None
                    self._decoder = (name, self._loader(name, ["vqvae"]))
                return self._decoder[1]
            self._full = None  # free the old model before loading the next
            self._full = (name, self._loader(name, None))
            return self._full[1]


def _load_from_store(name: str, components: list[str] | None = None) -> Any:
    from jukestudio.model.weights.loader import load_model

    return load_model(name, components)


PART_NAMES = {  # the parts in the window's quality words (technical names in parentheses)
    "vqvae": "audio decoder (VQ-VAE)",
    "prior_0": "Preview composer (top prior)",
    "prior_1": "Middle upsampler",
    "prior_2": "Full-quality upsampler",
}


def model_entry(info: Any) -> ModelEntry:
    """One line a musician understands: demo or not, and what is missing."""
    if info.problem:
        return ModelEntry(info.name, f"damaged: {info.problem}", usable=False)
    missing = [label for part, label in PART_NAMES.items() if part not in info.components]
    parts = []
    if info.untrained:
        parts.append("demo model: random weights, produces noise")
    if missing:
        parts.append("missing: " + ", ".join(missing) + " (it can compose only what its parts allow)")
    return ModelEntry(
        info.name,
        "; ".join(parts) or f"{info.preset or 'own architecture'}: all parts present",
        usable="vqvae" in info.components,
    )
