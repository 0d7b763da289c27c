"""A training folder: audio files plus ``labels.csv`` naming each file's artist and genre.

    DATA_DIR/labels.csv     file,artist,genre[,split]     (split: train (default) or valid)
    DATA_DIR/<file>         any format jukestudio reads; decoded to 44.1 kHz mono float32

Names are looked up in the model's label tables with the model's own tokenizer, so a trained model
is conditioned exactly as sampling will condition it. Unknown names are an error (one line, naming
the file and the name), not a silent id 0.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from jukestudio.audio.io import AudioError, load_prompt
from jukestudio.model.config import JukeboxConfig
from jukestudio.model.tokenizer import JukeboxTokenizer

LABELS_FILE = "labels.csv"


class DataError(ValueError):
    """A training folder that cannot be used as it is."""


@dataclass(frozen=True)
class Clip:
    name: str
    artist: str
    genre: str
    split: str
    audio: np.ndarray  # float32 mono, 44.1 kHz


@dataclass(frozen=True)
class LabelledClips:
    folder: Path
    clips: tuple[Clip, ...]

    def split(self, which: str) -> list[Clip]:
        return [c for c in self.clips if c.split == which]


def read_labels(folder: Path) -> list[tuple[str, str, str, str]]:
    """``(file, artist, genre, split)`` rows of ``labels.csv``."""
    path = folder / LABELS_FILE
    if not path.is_file():
        raise DataError(f"{folder}: no {LABELS_FILE} (one row per file: file,artist,genre[,split])")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    out = []
    for number, row in enumerate(rows, start=2):
        file, artist = (row.get("file") or "").strip(), (row.get("artist") or "").strip()
        genre = (row.get("genre") or "").strip()
        split = (row.get("split") or "train").strip() or "train"
        if not file or not artist or not genre:
            raise DataError(f"{path}, line {number}: needs file, artist and genre")
        if split not in ("train", "valid"):
            raise DataError(f"{path}, line {number}: split must be 'train' or 'valid', got {split!r}")
        out.append((file, artist, genre, split))
    if not out:
        raise DataError(f"{path}: lists no files")
    return out


def load_clips(
    folder: str | Path, splits: Sequence[str] = ("train", "valid"), min_seconds: float = 1.0
) -> LabelledClips:
    """Decode every listed file of the given splits (44.1 kHz mono float32)."""
    folder = Path(folder)
    clips = []
    for file, artist, genre, split in read_labels(folder):
        if split not in splits:
            continue
        try:
            audio = load_prompt(folder / file, min_duration_s=min_seconds)
        except AudioError as exc:
            raise DataError(str(exc)) from exc
        clips.append(Clip(file, artist, genre, split, np.ascontiguousarray(audio, dtype=np.float32)))
    if not clips:
        raise DataError(f"{folder}: no clips in splits {list(splits)}")
    return LabelledClips(folder, tuple(clips))


def label_rows(config: JukeboxConfig, clips: Sequence[Clip]) -> list[torch.Tensor]:
    """Per prior (prior order), a (n_clips, 4 + genre slots) LongTensor of label rows (timing zero)."""
    tokenizer = JukeboxTokenizer.for_config(config)
    per_prior: list[list[list[int]]] = [[] for _ in config.prior_configs]
    for clip in clips:
        report = tokenizer.analyse(clip.artist, [clip.genre], "")
        if report.unknown_artist or report.unknown_genres:
            problem = f"artist {clip.artist!r}" if report.unknown_artist else f"genre {report.unknown_genres[0]!r}"
            raise DataError(f"{clip.name}: {problem} is not in the model's label table; use a listed name")
        for p, row in enumerate(report.input_ids):
            per_prior[p].append(row)
    return [torch.tensor(rows, dtype=torch.long) for rows in per_prior]


def random_crops(clips: Sequence[Clip], length: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` crops of ``length`` samples (count, length, 1) from random clips, drawn from ``generator``."""
    usable = [c for c in clips if len(c.audio) >= length]
    if not usable:
        raise DataError(f"no clip is at least {length} samples long")
    picks = torch.randint(len(usable), (count,), generator=generator).tolist()
    crops = []
    for i in picks:
        audio = usable[i].audio
        start = int(torch.randint(len(audio) - length + 1, (1,), generator=generator))
        crops.append(torch.from_numpy(audio[start : start + length]))
    return torch.stack(crops).unsqueeze(-1)
