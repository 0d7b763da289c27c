"""A job's folder on disk: ``job.json`` (status, settings, progress) and ``state.safetensors``.

``state.safetensors`` is the source of truth for resuming: the codes sampled so far at every level
(prior order), the labels, and the random generator's state, written together in one atomic file
after every window. ``job.json`` is written right after it for people and the GUI (status, window
counters, tokens). A process killed between the two writes loses nothing: the window plan is
recomputed from the codes (finished windows are exactly the ones the codes cover).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from jukestudio import limits
from jukestudio.atomic import atomic_write_json, atomic_write_with
from jukestudio.engine.job_validate import JobFileError, check_job_info
from jukestudio.fileguard import UnusableFileError, read_small_file

logger = logging.getLogger(__name__)

JOB_FILE = "job.json"
STATE_FILE = "state.safetensors"
STATUSES = ("queued", "running", "done", "failed", "cancelled")
UNFINISHED = ("queued", "running")  # what `resume` picks up by itself (architecture.md)
RESUMABLE = ("queued", "running", "cancelled", "failed")  # what can be resumed by id
FORMAT_VERSION = 1


class JobStateError(ValueError):
    """A job folder that cannot be read (names the file and what is wrong)."""


def new_job_id(kind: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class JobState:
    """Everything a job needs to (re)start: ``info`` is job.json, the tensors live in state.safetensors."""

    folder: Path
    info: dict[str, Any]
    codes: list[torch.Tensor]  # prior order, (N, T_p) int64 on CPU
    labels: list[torch.Tensor]  # prior order, (N, L_p) int64
    rng_state: torch.Tensor | None = None  # torch.Generator.get_state(); None = not started
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # e.g. the prompt codes

    @property
    def job_id(self) -> str:
        return str(self.info["id"])

    @property
    def settings(self) -> dict[str, Any]:
        return self.info["settings"]

    @property
    def status(self) -> str:
        return str(self.info["status"])

    def set_status(self, status: str, message: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown job status {status!r}")
        self.info["status"] = status
        if message is not None:
            self.info["message"] = message

    # ------------------------------------------------------------------ disk

    def save(self, tensors: bool = True) -> None:
        """Write state.safetensors (if ``tensors``) then job.json, each atomically."""
        self.info["updated"] = now_iso()
        if tensors:
            data = {f"codes_{p}": c.detach().to("cpu", torch.long).contiguous() for p, c in enumerate(self.codes)}
            data.update(
                {f"labels_{p}": lab.detach().to("cpu", torch.long).contiguous() for p, lab in enumerate(self.labels)}
            )
            if self.rng_state is not None:
                data["rng_state"] = self.rng_state.detach().cpu().contiguous()
            data.update({f"extra_{k}": v.detach().cpu().clone() for k, v in self.extra.items()})  # own storage
            meta = {"format": str(FORMAT_VERSION), "job_id": self.job_id}
            atomic_write_with(
                self.folder / STATE_FILE, lambda tmp: save_file(data, str(tmp), metadata=meta), suffix=".safetensors"
            )
        atomic_write_json(self.folder / JOB_FILE, self.info)

    @classmethod
    def load(cls, folder: str | Path) -> JobState:
        folder = Path(folder)
        info = read_job_info(folder)
        path = folder / STATE_FILE
        try:
            tensors = load_file(str(path))
        except (OSError, SafetensorError) as exc:
            raise JobStateError(f"{path}: cannot read the job's saved codes ({exc})") from exc
        n_levels = int(info.get("n_levels", 0))
        try:
            codes = [tensors[f"codes_{p}"].long() for p in range(n_levels)]
            labels = [tensors[f"labels_{p}"].long() for p in range(n_levels)]
        except KeyError as exc:
            raise JobStateError(f"{path}: missing tensor {exc} (expected {n_levels} levels)") from exc
        if len({c.shape[0] for c in codes}) > 1:
            raise JobStateError(f"{path}: levels hold different numbers of takes {[c.shape[0] for c in codes]}")
        extra = {k[len("extra_") :]: v for k, v in tensors.items() if k.startswith("extra_")}
        return cls(folder, info, codes, labels, tensors.get("rng_state"), extra)


def read_job_info(folder: str | Path) -> dict[str, Any]:
    """job.json, checked field by field (engine/job_validate.py): past here its fields can be trusted."""
    path = Path(folder) / JOB_FILE
    try:
        info = json.loads(read_small_file(path, limits.MAX_JSON_BYTES, "job file").decode("utf-8"))
    except (UnusableFileError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise JobStateError(f"{path}: cannot read the job file ({exc})") from exc
    missing = [k for k in ("id", "kind", "status", "settings") if not isinstance(info, dict) or k not in info]
    if missing:
        raise JobStateError(f"{path}: not a jukestudio job file (missing {', '.join(missing)})")
    if info["status"] not in STATUSES:
        raise JobStateError(f"{path}: unknown status {info['status']!r}")
    try:
        return check_job_info(info, path)
    except JobFileError as exc:
        raise JobStateError(str(exc)) from None


def jobs_dir(project_dir: str | Path) -> Path:
    return Path(project_dir) / "jobs"


def list_jobs(project_dir: str | Path) -> list[dict[str, Any]]:
    """job.json of every readable job in a project, oldest first; unreadable ones are logged and skipped."""
    result = []
    root = jobs_dir(project_dir)
    if not root.is_dir():
        return result
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            result.append(read_job_info(folder))
        except JobStateError as exc:
            logger.warning("skipping job folder: %s", exc)
    return result


def unfinished_jobs(project_dir: str | Path) -> list[str]:
    """Ids of the jobs a `resume` should finish (queued, or running when the process died)."""
    return [info["id"] for info in list_jobs(project_dir) if info["status"] in UNFINISHED]
