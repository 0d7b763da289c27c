"""Reading the engine's job records in a project, to offer resuming unfinished ones after a crash.

The engine owns ``<project>/jobs/<job_id>/job.json``; this module only reads it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jukestudio.project.errors import ProjectCorruptError
from jukestudio.project.store import JOBS_DIR, read_json

log = logging.getLogger(__name__)

JOB_FILE = "job.json"
UNFINISHED = ("queued", "running")
REQUIRED = ("id", "kind", "status", "created", "updated", "take_ids", "message")


@dataclass(frozen=True)
class JobRecord:
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


def read_job(folder: Path) -> JobRecord:
    path = folder / JOB_FILE
    info = read_json(path, "job record")
    if not isinstance(info, dict):
        raise ProjectCorruptError(f"{path}: a job record must be a JSON object")
    missing = [key for key in REQUIRED if key not in info]
    if missing:
        raise ProjectCorruptError(f"{path}: job record lacks {', '.join(missing)}")
    if not isinstance(info["take_ids"], list):
        raise ProjectCorruptError(f"{path}: take_ids must be a list")
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


def read_jobs(project_folder: Path) -> tuple[list[JobRecord], list[str]]:
    """All readable job records (oldest first) and a message per unreadable one."""
    records: list[JobRecord] = []
    problems: list[str] = []
    jobs_dir = project_folder / JOBS_DIR
    if not jobs_dir.is_dir():
        return records, problems
    for folder in sorted(p for p in jobs_dir.iterdir() if p.is_dir()):
        if not (folder / JOB_FILE).exists():
            continue  # the engine is still creating it
        try:
            records.append(read_job(folder))
        except ProjectCorruptError as exc:
            log.warning("%s", exc)
            problems.append(str(exc))
    records.sort(key=lambda r: (r.created, r.id))
    return records, problems


def unfinished_jobs(project_folder: Path) -> list[JobRecord]:
    """Jobs whose status is queued or running: after a crash these are the ones to offer resuming."""
    return [r for r in read_jobs(project_folder)[0] if r.unfinished]
