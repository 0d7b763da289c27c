"""A job's folder on disk, the one reader and writer of ``job.json`` and ``state.safetensors``.

``<project>/jobs/<job_id>/job.json`` (status, settings, progress) is read only by :func:`read_job_info`
(every other reader — :func:`read_job`, :func:`read_jobs`, :func:`unfinished_jobs`, :meth:`JobState.load`
— goes through it) and written only by :meth:`JobState.save`.

``state.safetensors`` is the source of truth for resuming: the codes sampled so far at every level
(prior order), the labels, and the random generator's state, written together in one atomic file
after every window. ``job.json`` is written right after it for people and the GUI (status, window
counters, tokens). A process killed between the two writes loses nothing: the window plan is
recomputed from the codes (finished windows are exactly the ones the codes cover).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jukestudio.atomic import atomic_write_json, atomic_write_with
from jukestudio.engine.job_validate import JobFileError, check_job_info
from jukestudio.project.errors import ProjectCorruptError
from jukestudio.project.store import JOBS_DIR, read_json

if TYPE_CHECKING:  # torch is imported where tensors are read or written: listing jobs needs none
    import torch

logger = logging.getLogger(__name__)

JOB_FILE = "job.json"
STATE_FILE = "state.safetensors"
STATUSES = ("queued", "running", "done", "failed", "cancelled")
UNFINISHED = ("queued", "running")  # what `resume` picks up by itself (architecture.md)
RESUMABLE = ("queued", "running", "cancelled", "failed")  # what can be resumed by id
FORMAT_VERSION = 1
REQUIRED = ("id", "kind", "status", "created", "updated", "take_ids", "message")
"""Keys every job.json has (architecture.md); a job to run also needs its "settings"."""


class JobStateError(ProjectCorruptError, ValueError):
    """A job folder that cannot be read (names the file and what is wrong; the file is left as it was)."""


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
            import torch
            from safetensors.torch import save_file

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
        if not isinstance(info.get("settings"), dict):
            raise JobStateError(f"{folder / JOB_FILE}: job record lacks its settings; it cannot be run")
        from safetensors import SafetensorError
        from safetensors.torch import load_file

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
    """The job.json of a job folder, checked; raises :class:`JobStateError` naming what is wrong.

    The only place job.json is parsed; its fields are checked one by one (engine/job_validate.py),
    so past here they can be trusted.
    """
    path = Path(folder) / JOB_FILE
    try:
        info = read_json(path, "job record")
    except ProjectCorruptError as exc:
        raise JobStateError(str(exc)) from exc
    if not isinstance(info, dict):
        raise JobStateError(f"{path}: a job record must be a JSON object")
    missing = [k for k in REQUIRED if k not in info]
    if missing:
        raise JobStateError(f"{path}: job record lacks {', '.join(missing)}")
    if info["status"] not in STATUSES:
        raise JobStateError(f"{path}: unknown status {info['status']!r}")
    try:
        return check_job_info(info, path)
    except JobFileError as exc:
        raise JobStateError(str(exc)) from None


@dataclass(frozen=True)
class JobRecord:
    """A job as the jobs list and the "resume?" offer see it: job.json's common fields, read-only."""

    id: str
    kind: str
    status: str
    created: str
    updated: str
    take_ids: list[str]
    message: str
    folder: Path
    info: dict[str, Any] = field(repr=False)
    """The whole job.json (settings, progress…)."""

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED

    @property
    def kept_work(self) -> bool:
        """Finished windows (or decoded takes) on disk: what a cancel promises can be resumed."""
        progress = self.info.get("progress") or {}
        levels = progress.get("levels") or {}
        return bool(progress.get("tokens_done") or progress.get("takes_done")) or any(
            isinstance(v, dict) and v.get("windows_done") for v in levels.values()
        )

    @property
    def offered_for_resume(self) -> bool:
        """What `resume PROJECT` and the window offer: queued/running jobs (a crash or a closed
        window) and cancelled ones that kept work."""
        return self.unfinished or (self.status == "cancelled" and self.kept_work)

    @property
    def resumable_from_its_row(self) -> bool:
        """What the window resumes when asked for this job: what it offers, and failed jobs that kept
        finished windows (a full disk at the finish, a vanished GPU) — not offered by themselves, since
        they may fail again."""
        return self.offered_for_resume or (self.status == "failed" and self.kept_work)


def read_job(folder: str | Path) -> JobRecord:
    folder = Path(folder)
    info = read_job_info(folder)
    return JobRecord(
        id=str(info["id"]),
        kind=str(info["kind"]),
        status=str(info["status"]),
        created=str(info["created"]),
        updated=str(info["updated"]),
        take_ids=[str(t) for t in info["take_ids"]],
        message=str(info["message"] or ""),
        folder=folder,
        info=info,
    )


def jobs_dir(project_dir: str | Path) -> Path:
    return Path(project_dir) / JOBS_DIR


def job_folder(project_dir: str | Path, job_id: str) -> Path:
    return jobs_dir(project_dir) / job_id


def read_jobs(project_dir: str | Path) -> tuple[list[JobRecord], list[str]]:
    """Every readable job of a project (oldest first) and a message per unreadable one (logged, untouched)."""
    records: list[JobRecord] = []
    problems: list[str] = []
    root = jobs_dir(project_dir)
    if not root.is_dir():
        return records, problems
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if not (folder / JOB_FILE).exists():
            continue  # the engine is still creating it
        try:
            records.append(read_job(folder))
        except JobStateError as exc:
            logger.info("skipping job folder: %s", exc)  # the caller reports the problems it gets back
            problems.append(str(exc))
    records.sort(key=lambda r: (r.created, r.id))
    return records, problems


def unfinished_jobs(project_dir: str | Path) -> list[JobRecord]:
    """Jobs a `resume` (or the window's "resume?" offer) should finish: queued, or running when the
    process died."""
    return [r for r in read_jobs(project_dir)[0] if r.unfinished]


def unfinished_job_ids(project_dir: str | Path) -> list[str]:
    return [r.id for r in unfinished_jobs(project_dir)]
