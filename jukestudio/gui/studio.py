"""The Studio: one Qt-free facade over the project, engine, model store and audio layers for the window.

The window calls plain methods here; anything slow (``take_audio``, ``load_prompt``, ``export``, and
every ``JobSpec.fn``) is called by the window from a background thread, never on the GUI thread.
torch and the model code are imported lazily inside those calls, so the window starts fast.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jukestudio.audio.constants import SAMPLE_RATE
from jukestudio.gui.song_panel import Vocabulary

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"})
LEVEL_STATUS = {0: "coarse", 1: "level1", 2: "full"}  # deepest finished prior level → badge


@dataclass(frozen=True)
class JobSpec:
    """A job ready to queue: ``fn(report, token)`` runs it on the job thread."""

    job_id: str
    label: str
    kind: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    status: str  # what the user should know: demo, parts missing, verified …
    usable: bool = True


def vocabulary_for(config: Any) -> Vocabulary:
    """Picker search, name checks and dropped lyric characters for a model config (top prior's labels)."""
    from jukestudio.model import vocab
    from jukestudio.model.tokenizer import clean_lyrics

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

    return Vocabulary(
        search_artists=lambda q, n: [m.name for m in vocab.search_artists(q, version, n)],
        search_genres=lambda q, n: [m.name for m in vocab.search_genres(q, version, n)],
        is_artist=is_artist,
        is_genre=is_genre,
        dropped_positions=dropped,
        max_genres=int(top.max_nb_genres),
    )


class ModelCache:
    """Keeps the one loaded model; loading happens on whichever background thread asks first."""

    def __init__(self, loader: Callable[[str], Any] | None = None) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._name: str | None = None
        self._model: Any = None

    def get(self, name: str) -> Any:
        with self._lock:
            if self._name != name or self._model is None:
                loader = self._loader or _load_from_store
                self._model = None  # free the old one before loading the next
                self._model = loader(name)
                self._name = name
            return self._model


def _load_from_store(name: str) -> Any:
    from jukestudio.model.weights.loader import load_model

    model = load_model(name)
    model.eval()
    return model


class Studio:
    """State the window shows and the operations it offers. See the module docstring for threading."""

    sample_rate = SAMPLE_RATE

    def __init__(self, model_loader: Callable[[str], Any] | None = None) -> None:
        self.models = ModelCache(model_loader)
        self.project: Any = None
        self.project_dir: Path | None = None

    # ------------------------------------------------------------------ models
    def list_models(self) -> list[ModelEntry]:
        """Installed models for the picker (imports torch: call it off the GUI thread)."""
        return [_model_entry(info) for info in self.store_models()]

    def store_models(self) -> list[Any]:
        from jukestudio.model.weights import store

        return store.list_models()

    def model_config(self, name: str) -> Any:
        from jukestudio.model.weights import store

        return store.read_entry_config(store.entry_dir(name))

    def import_model(self, paths: list[Path], name: str | None, progress: Callable[[float, str], None]) -> Any:
        from jukestudio.model.weights import store

        return store.import_model(paths, name, progress)

    def ensure_demo_model(self, progress: Callable[[float, str], None] | None = None) -> Any:
        from jukestudio.model.weights.demo import ensure_demo_model

        return ensure_demo_model(progress)

    def verify_model(self, name: str, progress: Callable[[float, str], None]) -> list[str]:
        from jukestudio.model.weights import store

        return store.verify_model(name, progress)

    def remove_model(self, name: str) -> None:
        from jukestudio.model.weights import store

        store.remove_model(name)

    def vocabulary(self, name: str) -> Vocabulary:
        return vocabulary_for(self.model_config(name))

    # ------------------------------------------------------------------ audio
    def load_prompt(self, path: Path) -> np.ndarray:
        from jukestudio.audio.io import load_prompt

        return load_prompt(path)

    def describe_export(self, report: Any) -> str:
        text = f"Exported {Path(report.path).name}"
        if getattr(report, "clipped", 0):
            text += f" ({report.clipped} samples clipped)"
        return text + "."

    @staticmethod
    def describe_kept(result: Any) -> str:
        codes = getattr(result, "codes", None)
        if codes is None:
            return "nothing finished was lost"
        lengths = [int(c.shape[1]) for c in codes]
        return "finished windows kept (tokens per level: " + ", ".join(str(n) for n in lengths) + ")"

    # ------------------------------------------------------------------ project (filled in below)
    dirty = False
    can_undo = False
    can_redo = False

    def unfinished_jobs(self) -> list[str]:
        if self.project_dir is None:
            return []
        from jukestudio.engine.state import unfinished_jobs

        return unfinished_jobs(self.project_dir)


PART_NAMES = {"vqvae": "VQ-VAE", "prior_0": "top prior", "prior_1": "level 1 upsampler", "prior_2": "level 0 upsampler"}


def _model_entry(info: Any) -> ModelEntry:
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
        info.name, "; ".join(parts) or f"{info.preset or 'custom'}: complete", usable="VQ-VAE" not in missing
    )
