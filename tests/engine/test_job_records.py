"""Reading the engine's job records (the one job.json reader): unfinished jobs are offered for resuming."""

from __future__ import annotations

import json

from jukestudio.engine.state import read_jobs, unfinished_jobs
from jukestudio.project import Project


def write_job(project: Project, job_id: str, status: str, created: str, **extra) -> None:
    folder = project.jobs_dir / job_id
    folder.mkdir(parents=True)
    info = {
        "id": job_id,
        "kind": "upsample",
        "status": status,
        "created": created,
        "updated": created,
        "take_ids": ["t1", "t2"],
        "message": "",
        **extra,
    }
    (folder / "job.json").write_text(json.dumps(info))


def test_unfinished_jobs_are_the_queued_and_running_ones(tmp_path) -> None:
    project = Project.create(tmp_path / "p")
    write_job(project, "b-running", "running", "2026-01-02T00:00:00Z", progress={"level": 1, "window": 7})
    write_job(project, "a-queued", "queued", "2026-01-03T00:00:00Z")
    write_job(project, "c-done", "done", "2026-01-01T00:00:00Z")
    write_job(project, "d-cancelled", "cancelled", "2026-01-01T00:00:00Z")
    write_job(project, "e-failed", "failed", "2026-01-01T00:00:00Z")
    (project.jobs_dir / "f-being-created").mkdir()
    damaged = project.jobs_dir / "g-damaged"
    damaged.mkdir()
    (damaged / "job.json").write_text('{"id": "g", ')

    unfinished = unfinished_jobs(Project.open(project.folder).folder)
    assert [j.id for j in unfinished] == ["b-running", "a-queued"]  # oldest first
    running = unfinished[0]
    assert running.kind == "upsample" and running.take_ids == ["t1", "t2"] and running.unfinished
    assert running.info["progress"] == {"level": 1, "window": 7}
    assert running.folder == project.jobs_dir / "b-running"

    records, problems = read_jobs(project.folder)
    assert len(records) == 5
    assert len(problems) == 1 and "g-damaged" in problems[0] and "damaged" in problems[0]
    assert (damaged / "job.json").read_text() == '{"id": "g", '  # left untouched


def test_job_record_missing_fields_is_a_problem_not_a_crash(tmp_path) -> None:
    project = Project.create(tmp_path / "p")
    folder = project.jobs_dir / "x"
    folder.mkdir()
    (folder / "job.json").write_text(json.dumps({"id": "x", "status": "running"}))
    assert unfinished_jobs(project.folder) == []
    assert "lacks kind" in read_jobs(project.folder)[1][0]


def test_no_jobs_folder(tmp_path) -> None:
    project = Project.create(tmp_path / "p")
    project.jobs_dir.rmdir()
    assert unfinished_jobs(project.folder) == []
