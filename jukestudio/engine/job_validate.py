"""The boundary for ``job.json`` and a job's saved codes: typed, range-checked, file and field named.

``check_job_info(info, path)`` is called by the one job.json reader (``engine/state.py``) on every
read; code past it may trust the fields (levels in range, lengths that fit memory, take ids that are
plain folder names). ``check_codes_vocab`` refuses codes with ids outside a model's vocabulary
before they reach an embedding (an IndexError deep in the prior otherwise).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jukestudio import limits

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TAKE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_KINDS = ("compose", "continue", "upsample", "preview")
_STATUSES = ("queued", "running", "done", "failed", "cancelled")


class JobFileError(ValueError):
    """A job file that cannot be used; the message names the file and the field."""


def _int(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _num(v: Any, lo: float, hi: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_job_info(info: Any, path: Path) -> dict[str, Any]:
    """Raise JobFileError naming ``path`` and the first bad field; returns ``info``."""

    def bad(field: str, want: str, got: Any) -> JobFileError:
        text = repr(got)
        return JobFileError(f"{path}: field {field!r} must be {want}, got {text[:60]}; the file was left untouched")

    if not isinstance(info, dict):
        raise JobFileError(f"{path}: a job file must be a JSON object, got {type(info).__name__}")
    if not isinstance(info.get("id"), str) or not _JOB_ID.match(info["id"]):
        raise bad("id", "a job id (letters, digits, '-', '_', '.')", info.get("id"))
    if info.get("kind") not in _KINDS:
        raise bad("kind", f"one of {', '.join(_KINDS)}", info.get("kind"))
    if info.get("status") not in _STATUSES:
        raise bad("status", f"one of {', '.join(_STATUSES)}", info.get("status"))
    take_ids = info.get("take_ids", [])
    if not isinstance(take_ids, list) or len(take_ids) > limits.MAX_TAKES:
        raise bad("take_ids", f"a list of at most {limits.MAX_TAKES} take ids", take_ids)
    for i, take_id in enumerate(take_ids):
        if not isinstance(take_id, str) or not _TAKE_ID.match(take_id):
            raise bad(f"take_ids[{i}]", "a take id (letters, digits, '-', '_'; no '..' or '/')", take_id)
    for name in ("message", "model", "created", "updated"):
        value = info.get(name)
        if value is not None and (not isinstance(value, str) or not _encodable(value) or len(value) > 100_000):
            raise bad(name, "UTF-8 text", value)
    n_levels = info.get("n_levels", 3)
    if not _int(n_levels, 1, limits.MAX_LEVELS):
        raise bad("n_levels", f"a whole number 1..{limits.MAX_LEVELS}", n_levels)
    if "n_samples" in info and not _int(info["n_samples"], 1, limits.MAX_TAKES):
        raise bad("n_samples", f"a whole number 1..{limits.MAX_TAKES}", info["n_samples"])
    if "sampling_rate" in info and not _int(info["sampling_rate"], 1, limits.MAX_SAMPLE_RATE):
        raise bad("sampling_rate", f"a whole number 1..{limits.MAX_SAMPLE_RATE}", info["sampling_rate"])
    if "settings" not in info:  # a record to list; JobState.load refuses to run a job without settings
        return info
    settings = info["settings"]
    if not isinstance(settings, dict):
        raise bad("settings", "an object", settings)
    _check_settings(settings, info["kind"], n_levels, info.get("sampling_rate", 44100), bad)
    return info


def _check_settings(settings: dict[str, Any], kind: str, n_levels: int, rate: int, bad: Any) -> None:
    levels = settings.get("levels")
    most = limits.MAX_TAKES if kind == "preview" else n_levels
    if not isinstance(levels, list) or not levels or len(levels) > most:
        raise bad("settings.levels", f"a list of prior levels 0..{n_levels - 1}", levels)
    for i, level in enumerate(levels):
        if not _int(level, 0, n_levels - 1):
            raise bad(f"settings.levels[{i}]", f"a prior level 0..{n_levels - 1}", level)
    if kind != "preview" and len(set(levels)) != len(levels):
        raise bad("settings.levels", "distinct prior levels", levels)
    if kind == "preview":
        return
    most = int(limits.MAX_SONG_S * rate)  # samples in the longest song jukestudio plans
    for name, lo in (("sample_length", 1), ("total_length", 1), ("offset", 0)):
        if name in settings and not _int(settings[name], lo, most):
            raise bad(f"settings.{name}", f"a number of audio samples {lo}..{most:,}", settings[name])
    for name, lo, hi in (
        ("top_k", 0, limits.MAX_VOCAB),
        ("chunk_size", 1, limits.MAX_CTX),
        ("max_batch_size", 1, limits.MAX_TAKES),
        ("lower_batch_size", 1, limits.MAX_TAKES),
        ("seed", -limits.MAX_SEED - 1, limits.MAX_SEED),
    ):
        if name in settings and not _int(settings[name], lo, hi):
            raise bad(f"settings.{name}", f"a whole number {lo}..{hi}", settings[name])
    if "top_p" in settings and not _num(settings["top_p"], 0.0, 1.0):
        raise bad("settings.top_p", "a number 0..1", settings["top_p"])
    for name, check, want in (
        ("temperatures", lambda t: _num(t, 1e-6, 100.0), "numbers 0..100"),
        ("chunk_sizes", lambda c: _int(c, 1, limits.MAX_CTX), f"whole numbers 1..{limits.MAX_CTX}"),
    ):
        value = settings.get(name)
        if value is not None and (not isinstance(value, list) or len(value) > n_levels or not all(map(check, value))):
            raise bad(f"settings.{name}", f"null or a list of up to {n_levels} {want}", value)
    for name in ("device", "precision"):
        if settings.get(name) is not None and not isinstance(settings[name], str):
            raise bad(f"settings.{name}", "text or null", settings[name])
    if "compile" in settings and not isinstance(settings["compile"], bool):
        raise bad("settings.compile", "true or false", settings["compile"])


def vocab_sizes(config: Any) -> list[int]:
    """Per prior level (prior order), the token ids its codes may hold: the prior's and the VQ-VAE's."""
    codebook = config.vqvae_config.nb_discrete_codes
    return [min(p.music_vocab_size, codebook) for p in config.prior_configs]


def check_codes_vocab(codes: Sequence[Any], vocab_sizes: Sequence[int], source: str | Path) -> None:
    """Codes (prior order; tensors or None) must be token ids below each level's vocabulary size."""
    for level, (row, vocab) in enumerate(zip(codes, vocab_sizes)):
        if row is None or row.numel() == 0:
            continue
        low, high = int(row.min()), int(row.max())
        if low < 0 or high >= vocab:
            raise JobFileError(
                f"{source}: codes of prior level {level} hold token id {high if high >= vocab else low}, outside "
                f"the model's vocabulary 0..{vocab - 1} (a damaged file or another model's codes)"
            )


def read_checked_codes(project: Any, config: Any, take_id: str) -> list[Any]:
    """A take's codes (prior order), refused naming the take's folder when ids fall outside the
    model's vocabulary (``config``; None skips the check)."""
    codes = project.read_codes(take_id)
    if config is not None:
        check_codes_vocab(codes, vocab_sizes(config), project.take_dir(take_id))
    return codes
