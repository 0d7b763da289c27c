"""Every project and job file damaged in each way, a job lock held by a live process, a full disk, a
read-only project — through the CLI entry point (``main``) in a forked child.

Each case asserts: exit 2 with one ``error:`` line naming the file (or the job/take), no traceback;
the damaged file byte-identical afterwards; the other takes intact; nothing written outside the
project. A full disk and a read-only folder use a small tmpfs (skipped when mounting is not allowed).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from jukestudio.cli import jobs as cli_jobs
from jukestudio.cli.main import main
from jukestudio.engine import jobs as engine_jobs
from jukestudio.project import Project
from tests.engine.tiny import TINY_HF, tiny_model
from tests.hostile.forked import RSS_BOUND_MB, Tally, parent_rss_mb, run_forked

SECONDS = "0.16"


@dataclass
class Base:
    folder: Path
    take_a: str
    take_b: str
    job: str


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, model) -> Base:
    """A project with two finished takes and one queued (unstarted) compose job."""
    folder = tmp_path_factory.mktemp("base") / "song"
    cli_jobs._load_model, saved = (lambda name, args, components=None: model), cli_jobs._load_model
    try:
        code = main([
            "compose", str(folder), "--model", str(TINY_HF), "--artist", "Zac Brown Band", "--genre", "Country",
            "--lyrics", "an antique land", "--total-seconds", "0.9", "--seconds", SECONDS, "--takes", "2",
            "--seed", "5", "--threads", "1", "--quiet", "--device", "cpu",
        ])  # fmt: skip
    finally:
        cli_jobs._load_model = saved
    assert code == 0
    project = Project.open(folder)
    take_a, take_b = sorted(project.takes)
    state = engine_jobs.create_compose(project, model, n_takes=1, seconds=float(SECONDS), seed=1)
    return Base(folder, take_a, take_b, state.folder.name)


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "special"
        for p in sorted(folder.rglob("*"))
        if not p.is_dir()
    }


def _run_cli(argv: list[str], model) -> Callable[[], tuple[int, str]]:
    def body() -> tuple[int, str]:
        cli_jobs._load_model = lambda name, args, components=None: model  # the parent's model, not a reload
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        return code, err.getvalue()

    return body


# ------------------------------------------------------------------ damage


def _json_edit(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        data = json.loads(path.read_text())
        result = change(data)
        path.write_text(json.dumps(data if result is None else result, ensure_ascii=False), "utf-8", "surrogatepass")

    return damage


def _raw(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _big(path: Path) -> None:
    path.write_bytes(b'{"pad": "' + b"x" * (20 << 20) + b'"}')


def _codes(values: torch.Tensor) -> Callable[[Path], None]:
    return lambda path: save_file({"codes": values}, str(path))


def _set(d: dict, dotted: str, value: object) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        d = d[key]
    d[keys[-1]] = value


COMMON = {
    "truncated": _truncate,
    "empty": _raw(b""),
    "not-json": _raw(b"\x00\xff garbage"),
    "a-list": _raw(b"[1, 2, 3]"),
    "fifo": _fifo,
    "20MB": _big,
}
JOB_FIELDS = {
    "levels-7": ("settings.levels", [7]),
    "levels-text": ("settings.levels", "0"),
    "sample_length-1e15": ("settings.sample_length", 10**15),
    "sample_length-negative": ("settings.sample_length", -1),
    "take-id-traversal": ("take_ids", ["../../evil"]),
    "status-unknown": ("status", "exploded"),
    "n_levels-0": ("n_levels", 0),
    "kind-unknown": ("kind", "rm -rf"),
    "settings-null": ("settings", None),
    "seed-text": ("settings.seed", "abc"),
    "temperature-1e308": ("settings.temperatures", [1e308]),
    "message-lone-surrogate": ("message", "\ud800"),
    "top_p-7": ("settings.top_p", 7),
}
PROJECT_FIELDS = {
    "schema-text": ("schema_version", "2"),
    "schema-999": ("schema_version", 999),
    "total-1e308": ("settings.total_length_s", 1e308),
    "lyrics-lone-surrogate": ("settings.lyrics", "la \udcff la"),
    "n_takes-text": ("settings.n_takes", "3"),
    "genres-dict": ("settings.genres", {"a": 1}),
}
TAKE_FIELDS = {
    "id-traversal": ("id", "../" + "x"),
    "status-levels": ("status", {"coarse": 7}),
    "settings-huge": ("settings.take_length_s", 1e308),
    "parent-self": ("parent_id", None),
}


@dataclass
class Damage:
    name: str
    file: Callable[[Base], str]  # relative path of the damaged file
    damage: Callable[[Path], None]
    argv: Callable[[Base, Path], list[str]]
    names: Callable[[Base], str]  # what the error line must mention


def _cases() -> list[Damage]:
    job_file = lambda b: f"jobs/{b.job}/job.json"  # noqa: E731
    state_file = lambda b: f"jobs/{b.job}/state.safetensors"  # noqa: E731
    take_file = lambda b: f"takes/{b.take_a}/take.json"  # noqa: E731
    codes_file = lambda b: f"takes/{b.take_a}/codes_prior0.safetensors"  # noqa: E731
    resume = lambda b, f: ["resume", str(f), b.job, "--quiet", "--device", "cpu"]  # noqa: E731
    export = lambda b, f: ["export", str(f), b.take_a, "--device", "cpu"]  # noqa: E731
    cont = lambda b, f: ["continue", str(f), b.take_a, "--seconds", SECONDS, "--quiet", "--device", "cpu"]  # noqa: E731
    cases = []
    for name, fn in COMMON.items():
        cases.append(Damage(f"job.json-{name}", job_file, fn, resume, lambda b: "job.json"))
        cases.append(Damage(f"project.json-{name}", lambda b: "project.json", fn, export, lambda b: "project.json"))
        cases.append(Damage(f"take.json-{name}", take_file, fn, export, lambda b: b.take_a))
    for name, (field, value) in JOB_FIELDS.items():
        damage = _json_edit(lambda d, f=field, v=value: _set(d, f, v))
        cases.append(Damage(f"job.json-{name}", job_file, damage, resume, lambda b: "job.json"))
    for name, (field, value) in PROJECT_FIELDS.items():
        damage = _json_edit(lambda d, f=field, v=value: _set(d, f, v))
        cases.append(Damage(f"project.json-{name}", lambda b: "project.json", damage, export, lambda b: "project.json"))
    for name, (field, value) in TAKE_FIELDS.items():
        if name == "parent-self":
            continue
        damage = _json_edit(lambda d, f=field, v=value: _set(d, f, v))
        cases.append(Damage(f"take.json-{name}", take_file, damage, export, lambda b: b.take_a))
    state_damage = {
        "truncated": _truncate,
        "garbage": _raw(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header"),
        "out-of-vocab": lambda p: save_file({**_load(p), "codes_0": torch.full((1, 4), 10**6)}, str(p)),
        "negative-codes": lambda p: save_file({**_load(p), "codes_0": torch.full((1, 4), -3)}, str(p)),
    }
    for name, fn in state_damage.items():
        cases.append(Damage(f"state-{name}", state_file, fn, resume, lambda b: b.job))
    codes_damage = {
        "truncated": _truncate,
        "garbage": _raw(b"garbage"),
        "out-of-vocab": _codes(torch.tensor([5, 10**7, 3])),
        "negative": _codes(torch.tensor([5, -1, 3])),
        "float": _codes(torch.tensor([0.5, 1.5])),
        "2-d": _codes(torch.zeros(2, 2, dtype=torch.long)),
    }
    for name, fn in codes_damage.items():
        cases.append(Damage(f"codes-{name}", codes_file, fn, cont, lambda b: b.take_a))
    return cases


def _load(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_damaged_project_file_gives_one_line_and_changes_nothing(case: Damage, base: Base, model, tmp_path) -> None:
    folder = tmp_path / "song"
    shutil.copytree(base.folder, folder, symlinks=True)
    damaged = folder / case.file(base)
    case.damage(damaged)
    before = _digests(folder)
    outside = sorted(p.name for p in tmp_path.iterdir())
    outcome = run_forked(_run_cli(case.argv(base, folder), model), timeout=60)
    assert outcome.kind == "ok", f"{case.name}: {outcome.kind} {outcome.exc_type} {outcome.message}\n{outcome.trace}"
    code, err = outcome.value
    lines = err.strip().splitlines()
    after = _digests(folder)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    # the job may record its failure in job.json (that is what "the job records the reason" means)
    allowed = {f"jobs/{base.job}/job.json"} if case.file(base).endswith("state.safetensors") else set()
    clean = (
        code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
        and case.names(base) in lines[0] and not (changed - allowed)
        and sorted(p.name for p in tmp_path.iterdir()) == outside
        and outcome.peak_rss_mb - parent_rss_mb() < RSS_BOUND_MB
    )  # fmt: skip
    Tally.add("project/job files", clean, outcome.peak_rss_mb, case.name)
    assert code == 2, f"{case.name}: exit {code}: {err}"
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert case.names(base) in lines[0], f"{case.name}: {lines[0]}"
    assert not (changed - allowed), f"{case.name}: files changed: {sorted(changed)}"
    assert sorted(p.name for p in tmp_path.iterdir()) == outside, "something was written outside the project"
    assert outcome.peak_rss_mb - parent_rss_mb() < RSS_BOUND_MB


def test_job_locked_by_a_live_process_is_one_line_naming_it(base: Base, model, tmp_path: Path) -> None:
    folder = tmp_path / "song"
    shutil.copytree(base.folder, folder)
    holder = subprocess.Popen(["sleep", "60"])
    try:
        (folder / "jobs" / base.job / "lock").write_text(str(holder.pid))
        before = _digests(folder)
        outcome = run_forked(_run_cli(["resume", str(folder), base.job, "--quiet"], model), timeout=60)
    finally:
        holder.kill()
        holder.wait()
    code, err = outcome.value
    Tally.add("project/job files", code == 2 and f"being run by process {holder.pid}" in err)
    assert code == 2 and err.strip().count("\n") == 0, err
    assert f"this job is being run by process {holder.pid}" in err
    assert _digests(folder) == before


def test_two_resumes_at_once_one_runs_the_other_says_who(base: Base, model, tmp_path: Path) -> None:
    """The lock is taken atomically: of two processes racing for it exactly one wins."""
    from jukestudio.engine.job_lock import JobBusyError, job_lock

    folder = tmp_path / "job"
    folder.mkdir()

    def contender() -> str:
        try:
            with job_lock(folder):
                import time

                time.sleep(1.0)
                return "ran"
        except JobBusyError as exc:
            return str(exc)

    import threading

    results: list = []
    threads = [threading.Thread(target=lambda: results.append(run_forked(contender, timeout=30))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    values = sorted(r.value for r in results)
    assert values.count("ran") == 1, values
    assert "this job is being run by process" in values[0]
    assert not (folder / "lock").exists()


# ------------------------------------------------------------------ full disk and read-only folders


@pytest.fixture
def small_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the full-disk cases need one")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path) -> Path:
    filler = mount / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    return filler


def test_full_disk_mid_job_is_an_ordinary_failure_and_resume_finishes(base: Base, model, small_disk: Path) -> None:
    folder = small_disk / "song"
    shutil.copytree(base.folder, folder)
    for take in (base.take_a, base.take_b):
        assert (folder / "takes" / take / "take.json").exists()
    others = {k: v for k, v in _digests(folder).items() if k.startswith("takes/")}
    filler = _fill(small_disk)
    outcome = run_forked(_run_cli(["resume", str(folder), base.job, "--quiet", "--device", "cpu"], model), timeout=120)
    code, err = outcome.value
    Tally.add("full disk / read-only", code == 2 and "disk is full" in err, outcome.peak_rss_mb, "full disk")
    assert code == 2, err
    assert err.strip().count("\n") == 0 and "disk is full" in err and "resume" in err, err
    assert {k: v for k, v in _digests(folder).items() if k.startswith("takes/")} == others  # takes intact
    json.loads((folder / "jobs" / base.job / "job.json").read_text())  # not corrupted
    assert not [p for p in (folder / "jobs" / base.job).iterdir() if p.name.startswith(".")], "temp files left"
    filler.unlink()
    outcome = run_forked(_run_cli(["resume", str(folder), base.job, "--quiet", "--device", "cpu"], model), timeout=120)
    code, err = outcome.value
    assert code == 0, err
    info = json.loads((folder / "jobs" / base.job / "job.json").read_text())
    assert info["status"] == "done"
    assert Project.open(folder).takes.keys() >= set(info["take_ids"]) | {base.take_a, base.take_b}


def test_a_disk_that_fills_at_the_finish_step_loses_nothing_and_resume_writes_the_takes(
    base: Base, model, small_disk: Path, tmp_path: Path
) -> None:
    """Every window sampled and saved, then the disk fills just as the takes are written: one line that
    says so, the project's takes and the job's saved codes intact, no half-made take, and ``resume``
    after freeing space writes the same takes as a run that never met a full disk."""
    reference = tmp_path / "reference"
    shutil.copytree(base.folder, reference)
    assert main(["resume", str(reference), base.job, "--quiet", "--device", "cpu", "--threads", "1"]) == 0
    folder = small_disk / "song"
    shutil.copytree(base.folder, folder)
    before = {k: v for k, v in _digests(folder).items() if k.startswith("takes/")}
    run = _run_cli(["resume", str(folder), base.job, "--quiet", "--device", "cpu"], model)

    def fill_then_finish() -> tuple[int, str]:
        from jukestudio.engine import runner

        real = runner.finish_job

        def finish(*args, **kwargs):
            _fill(small_disk)  # the windows are on disk; the takes are next
            return real(*args, **kwargs)

        runner.finish_job = finish
        return run()

    outcome = run_forked(fill_then_finish, timeout=120)
    code, err = outcome.value
    Tally.add("full disk / read-only", code == 2 and "disk is full" in err, outcome.peak_rss_mb, "full at finish")
    assert code == 2 and err.strip().count("\n") == 0 and "disk is full" in err, err
    job_dir = folder / "jobs" / base.job
    assert json.loads((job_dir / "job.json").read_text())["progress"]["fraction"] == 1.0  # all windows kept
    assert {k: v for k, v in _digests(folder).items() if k.startswith("takes/")}.keys() >= before.keys()
    assert all(_digests(folder)[k] == v for k, v in before.items())  # the earlier takes untouched
    assert not [p for p in folder.rglob(".*") if p.is_file()], "temp files left"
    (small_disk / "filler").unlink()
    outcome = run_forked(_run_cli(["resume", str(folder), base.job, "--quiet", "--device", "cpu"], model), timeout=120)
    assert outcome.value[0] == 0, outcome.value
    info = json.loads((job_dir / "job.json").read_text())
    assert info["status"] == "done"
    want = json.loads((reference / "jobs" / base.job / "job.json").read_text())["take_ids"]
    assert info["take_ids"] == want
    for take_id in want:
        got, ref = (load_file(str(f / "takes" / take_id / "codes_prior0.safetensors")) for f in (folder, reference))
        assert got.keys() == ref.keys() and all(torch.equal(got[k], ref[k]) for k in got), take_id


def test_read_only_project_names_the_folder_not_a_temp_file(base: Base, model, small_disk: Path) -> None:
    folder = small_disk / "song"
    shutil.copytree(base.folder, folder)
    before = _digests(folder)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    outcome = run_forked(_run_cli(["resume", str(folder), base.job, "--quiet", "--device", "cpu"], model), timeout=60)
    code, err = outcome.value
    Tally.add("full disk / read-only", code == 2 and "read-only" in err, outcome.peak_rss_mb, "read-only")
    assert code == 2 and err.strip().count("\n") == 0, err
    assert "read-only" in err and ".tmp" not in err and str(folder / "jobs" / base.job) in err, err
    assert _digests(folder) == before


def test_import_onto_a_full_disk_says_how_much_space_it_needs(small_disk: Path, monkeypatch) -> None:
    from jukestudio.cli.errors import describe_failure
    from jukestudio.model.weights import import_model

    monkeypatch.setenv("JUKESTUDIO_HOME", str(small_disk / "home"))
    _fill(small_disk)

    def body() -> str:
        try:
            import_model([TINY_HF], name="tiny")
        except OSError as exc:
            return describe_failure(exc)
        return "imported"

    outcome = run_forked(body, timeout=60)
    Tally.add("full disk / read-only", outcome.kind == "ok" and "needs" in str(outcome.value), 0.0, "import")
    assert outcome.kind == "ok", outcome.message
    assert re.search(r"the disk is full: importing tiny needs \d+ MB but only \d+ MB are free", outcome.value)
    store = small_disk / "home" / "models"
    assert not store.exists() or not list(store.iterdir()), "staging folder left behind"
