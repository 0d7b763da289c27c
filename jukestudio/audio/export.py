"""Writing takes as WAV files with a JSON sidecar that records how to reproduce them.

Quantisation to integer PCM is done here rather than inside libsndfile so that the result is exact
and documented: a sample ``x`` becomes ``round(x * 2**(bits-1))`` clamped to the integer range, and
reading the file back as float gives ``n / 2**(bits-1)`` again, bit for bit.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from jukestudio.atomic import atomic_write_json, atomic_write_with
from jukestudio.audio.constants import SAMPLE_RATE

SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
_PCM_BITS = {"PCM_16": 16, "PCM_24": 24}
SIDECAR_SCHEMA = "jukestudio.export/1"
_RESERVED_SIDECAR_KEYS = ("schema", "audio_file", "audio_format", "export")


@dataclass(frozen=True)
class ExportReport:
    """What happened to the samples on the way to disk."""

    path: str
    sidecar_path: str | None
    subtype: str
    sample_rate: int
    frames: int
    peak: float
    """Largest absolute sample value before any gain."""
    gain_db: float
    """Gain applied by normalisation (0 when not normalising)."""
    clipped_samples: int
    """Samples that did not fit the integer range and were clamped (always 0 for FLOAT)."""

    @property
    def clipped_fraction(self) -> float:
        return self.clipped_samples / self.frames if self.frames else 0.0

    @property
    def peak_dbfs(self) -> float:
        return float(20 * np.log10(self.peak)) if self.peak > 0 else float("-inf")

    @property
    def peak_after_gain(self) -> float:
        """Largest absolute sample value as written (after normalisation's gain, before clamping)."""
        return self.peak * float(10 ** (self.gain_db / 20))

    @property
    def peak_after_gain_dbfs(self) -> float:
        return float(20 * np.log10(self.peak_after_gain)) if self.peak > 0 else float("-inf")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        data.pop("sidecar_path")
        data["clipped_fraction"] = self.clipped_fraction
        data["peak_dbfs"] = self.peak_dbfs if self.peak > 0 else None
        data["peak_after_gain"] = self.peak_after_gain
        data["peak_after_gain_dbfs"] = self.peak_after_gain_dbfs if self.peak > 0 else None
        return data


def sidecar_path_for(path: str | os.PathLike[str]) -> Path:
    """``song.wav`` → ``song.json`` beside it."""
    return Path(path).with_suffix(".json")


def _as_mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim == 2 and audio.shape[1] == 1:
        audio = audio[:, 0]
    if audio.ndim != 1:
        raise ValueError(f"export_wav expects mono audio shaped (samples,) or (samples, 1), got {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"export_wav expects floating-point samples, got {audio.dtype}")
    if audio.size and not np.isfinite(audio).all():
        raise ValueError("export_wav: the audio contains NaN or infinite samples")
    return audio


def quantise(audio: np.ndarray, subtype: str) -> tuple[np.ndarray, int]:
    """Float samples → the integers written for a PCM subtype, and how many were clamped.

    PCM_24 values are returned left-aligned in int32, which is how libsndfile takes 24-bit data.
    """
    bits = _PCM_BITS[subtype]
    scale = float(1 << (bits - 1))
    scaled = np.rint(audio.astype(np.float64) * scale)
    low, high = -scale, scale - 1
    clipped = int(np.count_nonzero((scaled < low) | (scaled > high)))
    ints = np.clip(scaled, low, high)
    if bits == 16:
        return ints.astype(np.int16), clipped
    return ints.astype(np.int32) << (32 - bits), clipped


def export_wav(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    subtype: str = "PCM_16",
    normalise: bool = False,
    headroom_db: float = 1.0,
    sidecar: dict[str, Any] | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> ExportReport:
    """Write ``audio`` (float mono) to ``path`` as WAV, atomically, plus ``<name>.json`` if ``sidecar`` given.

    ``normalise`` scales the peak to ``-headroom_db`` dBFS. Samples outside the integer range of a PCM
    subtype are clamped and counted in the report; FLOAT keeps every value as it is.
    The sidecar holds the caller's dict (model, artist, lyrics, seeds, parent chain, …) plus
    ``audio_format`` and ``export`` entries written here.
    """
    if subtype not in SUBTYPES:
        raise ValueError(f"unsupported WAV subtype {subtype!r}; choose one of {', '.join(SUBTYPES)}")
    if headroom_db < 0 or not np.isfinite(headroom_db):
        raise ValueError(f"headroom must be a finite number of dB ≥ 0, got {headroom_db}")
    path = Path(path)
    mono = _as_mono(audio)
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    gain_db = 0.0
    samples = mono.astype(np.float32, copy=False)
    if normalise and peak > 0:
        gain_db = -headroom_db - 20 * float(np.log10(peak))
        samples = (mono.astype(np.float64) * 10 ** (gain_db / 20)).astype(np.float32)

    if subtype == "FLOAT":
        data, clipped = np.ascontiguousarray(samples, dtype=np.float32), 0
    else:
        data, clipped = quantise(samples, subtype)

    side = sidecar_path_for(path) if sidecar is not None else None
    report = ExportReport(
        str(path), str(side) if side else None, subtype, int(sample_rate), int(mono.size), peak, gain_db, clipped
    )
    side_data = _sidecar_content(path, report, sidecar) if sidecar is not None else None

    def write(tmp: Path) -> None:
        sf.write(tmp, data, int(sample_rate), subtype=subtype, format="WAV")

    atomic_write_with(path, write, suffix=".wav")
    if side is not None:
        atomic_write_json(side, side_data)
    return report


def _sidecar_content(path: Path, report: ExportReport, caller: dict[str, Any]) -> dict[str, Any]:
    clash = [key for key in _RESERVED_SIDECAR_KEYS if key in caller]
    if clash:
        raise ValueError(f"sidecar keys {clash} are written by export_wav itself; rename them")
    content: dict[str, Any] = {
        "schema": SIDECAR_SCHEMA,
        "audio_file": path.name,
        "audio_format": {
            "container": "WAV",
            "subtype": report.subtype,
            "sample_rate": report.sample_rate,
            "channels": 1,
            "frames": report.frames,
            "duration_s": report.frames / report.sample_rate,
        },
        "export": report.to_dict(),
        **caller,
    }
    try:  # fail before anything is written, not halfway
        json.dumps(content, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sidecar for {path.name} is not plain JSON data: {exc}") from exc
    return content
