"""Where a project keeps things inside its folder, and reading/writing those files safely.

    <project>/project.json              schema version + settings
    <project>/takes/<take_id>/take.json  one take: parent, branch point, status per level, rating, notes
    <project>/takes/<take_id>/codes_prior{p}.safetensors   codes of prior level p (1-D int64)
    <project>/takes/<take_id>/preview_prior{p}.wav         decoded audio of that level (float32, 44.1 kHz)
    <project>/jobs/<job_id>/             owned by the engine (job.json, state)
    <project>/trash/<action>/<take_id>/  deleted takes, kept while their deletion can be undone

Every write is atomic (jukestudio.atomic). Reads never modify a file, even a damaged one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf

from jukestudio import limits
from jukestudio.atomic import atomic_write_with
from jukestudio.audio.constants import SAMPLE_RATE
from jukestudio.fileguard import UnusableFileError, read_small_file
from jukestudio.project.errors import ProjectCorruptError
from jukestudio.project.settings import LEVEL_NAMES, N_LEVELS

if TYPE_CHECKING:
    import torch

PROJECT_FILE = "project.json"
TAKE_FILE = "take.json"
TAKES_DIR = "takes"
JOBS_DIR = "jobs"
TRASH_DIR = "trash"


def codes_name(prior_level: int) -> str:
    return f"codes_prior{prior_level}.safetensors"


def preview_name(prior_level: int) -> str:
    return f"preview_prior{prior_level}.wav"


def check_level(prior_level: Any) -> int:
    if isinstance(prior_level, bool) or not isinstance(prior_level, int) or not 0 <= prior_level < N_LEVELS:
        raise ValueError(f"prior level must be 0 (top), 1 or 2 (bottom), got {prior_level!r}")
    return prior_level


def read_json(path: Path, what: str) -> Any:
    """Parse a JSON file or raise ProjectCorruptError that says the file was left untouched."""
    try:  # never blocks on a FIFO, never reads more than a project file can hold (jukestudio/limits.py)
        raw = read_small_file(path, limits.MAX_JSON_BYTES, what)
    except UnusableFileError as exc:
        raise ProjectCorruptError(f"cannot read the {what}: {exc}; it was left untouched") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ProjectCorruptError(f"{path}: the {what} nests too deeply to be a jukestudio file; untouched") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        detail = f"line {exc.lineno} column {exc.colno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else exc
        size = "empty" if not raw else f"{len(raw)} bytes"
        raise ProjectCorruptError(
            f"{path}: the {what} is damaged ({size}; {detail}). It was left untouched; "
            "restore it from a backup or copy the takes into a new project."
        ) from exc


# torch is imported where codes are touched, so opening a project (CLI listing, tests) stays light.


def write_codes_file(path: Path, codes: torch.Tensor, take_id: str, prior_level: int) -> None:
    import torch
    from safetensors.torch import save_file

    if not isinstance(codes, torch.Tensor):
        raise TypeError(f"codes must be a torch tensor, got {type(codes).__name__}")
    if codes.dtype in (torch.bool,) or codes.is_floating_point() or codes.is_complex():
        raise TypeError(f"codes must be integer token ids, got dtype {codes.dtype}")
    if codes.dim() != 1:
        raise ValueError(f"codes of one take at one level must be 1-D, got shape {tuple(codes.shape)}")
    codes = codes.detach().to("cpu", torch.int64).contiguous()
    if codes.numel() and int(codes.min()) < 0:
        raise ValueError("codes must be ≥ 0 (token ids)")
    metadata = {"take_id": take_id, "prior_level": str(prior_level), "level_name": LEVEL_NAMES[prior_level]}
    atomic_write_with(path, lambda tmp: save_file({"codes": codes}, str(tmp), metadata=metadata))


def read_codes_file(path: Path) -> torch.Tensor | None:
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.exists():
        return None
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ProjectCorruptError(f"{path}: codes file is damaged ({exc})") from exc
    codes = tensors.get("codes")
    if codes is None or codes.dtype != torch.int64 or codes.dim() != 1:
        raise ProjectCorruptError(f"{path}: expected one 1-D int64 tensor named 'codes'")
    return codes


def write_preview_file(path: Path, audio: np.ndarray) -> None:
    audio = np.asarray(audio)
    if audio.ndim == 2 and audio.shape[1] == 1:
        audio = audio[:, 0]
    if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"preview audio must be float mono shaped (samples,), got {audio.dtype} {audio.shape}")
    data = np.ascontiguousarray(audio, dtype=np.float32)
    atomic_write_with(path, lambda tmp: sf.write(tmp, data, SAMPLE_RATE, subtype="FLOAT", format="WAV"), ".wav")


def read_preview_file(path: Path) -> np.ndarray | None:
    if not path.exists():
        return None
    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ProjectCorruptError(f"{path}: preview audio is damaged ({exc})") from exc
    if rate != SAMPLE_RATE or audio.shape[1] != 1:
        raise ProjectCorruptError(f"{path}: preview must be mono {SAMPLE_RATE} Hz, got {audio.shape[1]} ch {rate} Hz")
    return np.ascontiguousarray(audio[:, 0])
