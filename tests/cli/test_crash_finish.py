"""Fault injection: `jukestudio-cli` SIGKILLed before and after every atomic rename of a job's finish
step (compose, continue, upsample) and at seeded random moments of upsampling, then `resume`.

Every case must end with takes identical to an uninterrupted run with the same seed, and no window
the progress output showed as done may be missing on disk after the kill. The kills come from the
`JUKESTUDIO_FAULT` hook of jukestudio/atomic.py (the process kills itself at the n-th rename onto a
file name) or from the test (a timed SIGKILL). Commands run in children forked from one process that
imported torch once (tests/cli/forkrun.py); the test only uses the CLI and the files it writes.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from safetensors.torch import load_file

from tests.engine.tiny import TINY_HF

SECONDS = "0.05"  # 17 top-level tokens: one top window, 2 + 8 upsampler windows
RUN = ["--threads", "1", "--device", "cpu"]
PARALLEL = 4  # commands side by side: their time is mostly fsync waits


class ForkRunner:
    """Runs `jukestudio-cli` commands as forked children of tests/cli/forkrun.py."""

    def __init__(self, home: Path, logs: Path) -> None:
        self.home, self.logs = home, logs
        self.n = 0
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "OMP_NUM_THREADS": "1"}
        env.pop("JUKESTUDIO_FAULT", None)
        self.server = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("forkrun.py")), str(TINY_HF)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip

    def _call(self, request: dict) -> dict:
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        line = self.server.stdout.readline()
        assert line, "the fork server died"
        return json.loads(line)

    def start(self, *args: str, fault: str | None = None) -> tuple[int, Path]:
        self.n += 1
        log = self.logs / f"{self.n:04d}.log"
        env = {"JUKESTUDIO_HOME": str(self.home), "JUKESTUDIO_FAULT": fault or ""}
        return self._call({"run": list(args), "env": env, "log": str(log)})["pid"], log

    def wait(self, pid: int) -> int:
        return self._call({"wait": pid})["rc"]

    def run(self, *args: str, fault: str | None = None) -> tuple[int, str]:
        return self.run_many([(list(args), fault)])[0]

    def run_many(self, commands: list[tuple[list[str], str | None]]) -> list[tuple[int, str]]:
        """Run commands side by side (their time is mostly fsync waits); (exit code, output) of each."""
        started = [self.start(*args, fault=fault) for args, fault in commands]
        return [(self.wait(pid), log.read_text(encoding="utf-8", errors="replace")) for pid, log in started]

    def close(self) -> None:
        self.server.stdin.close()
        self.server.wait(timeout=30)


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> Iterator[ForkRunner]:
    runner = ForkRunner(tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("logs"))
    yield runner
    runner.close()


def compose_args(folder: Path) -> list[str]:
    return [
        "compose", str(folder), "--model", str(TINY_HF), "--artist", "Zac Brown Band", "--genre", "Country",
        "--lyrics", "I met a traveller from an antique land", "--total-seconds", "0.9", "--seconds", SECONDS,
        "--takes", "2", "--seed", "5", *RUN,
    ]  # fmt: skip


# ---------------------------------------------------------------------- what is on disk


def jobs_of(folder: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(folder.glob("jobs/*/job.json"))}


def take_files(folder: Path, take_id: str) -> dict:
    """A take as its files say: metadata (without ids and times), codes per level, preview audio."""
    take_dir = folder / "takes" / take_id
    meta = json.loads((take_dir / "take.json").read_text())
    for key in ("id", "created", "job_id"):  # the only fields that differ between two runs
        meta.pop(key)
    for entry in meta.get("extra", {}).get("jobs", []):  # the job history names the (other) job ids
        entry.pop("id")
    codes = {p.name: load_file(str(p))["codes"].tolist() for p in sorted(take_dir.glob("codes_*.safetensors"))}
    previews = {p.name: soundfile.read(str(p), dtype="float32")[0] for p in sorted(take_dir.glob("*.wav"))}
    return {"meta": meta, "codes": codes, "previews": previews}


def job_takes(folder: Path, job_id: str) -> list[dict]:
    """The takes of a finished job, in its batch order."""
    info = jobs_of(folder)[job_id]
    assert info["status"] == "done" and info["message"] == "", info
    return [take_files(folder, t) for t in info["take_ids"]]


def assert_same_takes(got: list[dict], want: list[dict], case: str) -> None:
    assert len(got) == len(want), case
    for g, w in zip(got, want, strict=True):
        assert g["meta"] == w["meta"], case
        assert g["codes"] == w["codes"], case
        assert g["previews"].keys() == w["previews"].keys(), case
        for name in w["previews"]:
            assert np.array_equal(g["previews"][name], w["previews"][name]), f"{case}: {name}"


def assert_clean(folder: Path, case: str, n_takes: int) -> None:
    """``n_takes`` take folders, each complete; no temp file left; no job left unfinished."""
    take_dirs = list((folder / "takes").iterdir())
    assert len(take_dirs) == n_takes, f"{case}: {[p.name for p in take_dirs]}"
    for take_dir in take_dirs:
        assert (take_dir / "take.json").exists(), f"{case}: {take_dir.name} has no take.json"
    leftovers = [p for p in folder.rglob(".*") if p.is_file()]
    assert not leftovers, f"{case}: {leftovers}"
    assert all(info["status"] == "done" for info in jobs_of(folder).values()), case


_BAR = re.compile(r"\[(Preview|Middle|Full) quality window (\d+)/(\d+)\]")
_LEVEL_OF = {"Preview": 0, "Middle": 1, "Full": 2}  # prior order


def reported_done(log: str) -> dict[int, int]:
    """Windows per level the progress bar showed as saved: "window k/n" is the window in flight, so
    k - 1 are done; a later level shows the earlier ones complete (the cascade); 100% shows all."""
    done: dict[int, int] = {}
    n_windows: dict[int, int] = {}
    for line in re.split(r"[\r\n]", log):
        match = _BAR.search(line)
        if match is None:
            continue
        label, k, n = match.groups()
        level, k, n = _LEVEL_OF[label], int(k), int(n)
        n_windows[level] = n
        done[level] = max(done.get(level, 0), n if "100.0%" in line else k - 1)
        for lower in n_windows:
            if lower < level:
                done[lower] = n_windows[lower]
    return done


def wait_until_sampling(folder: Path, known: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(info["status"] == "running" for j, info in jobs_of(folder).items() if j not in known):
                return
        except (OSError, json.JSONDecodeError):
            pass  # not there yet (a plain read can meet no file; renames are atomic)
        time.sleep(0.005)
    raise AssertionError("the job did not start")


def saved_windows(folder: Path, job_id: str) -> dict[int, int]:
    levels = jobs_of(folder)[job_id]["progress"]["levels"]
    return {int(level): entry["windows_done"] for level, entry in levels.items()}


# ---------------------------------------------------------------------- the kill points


def finish_faults(trace: list[str]) -> list[str]:
    """JUKESTUDIO_FAULT specs before and after each rename of the finish step: every rename after the
    job.json that follows the last window's state.safetensors."""
    last_window = max(i for i, name in enumerate(trace) if name == "state.safetensors")
    faults = []
    for i in range(last_window + 2, len(trace)):
        name = trace[i]
        nth = trace[: i + 1].count(name)
        faults += [f"before:{name}:{nth}", f"after:{name}:{nth}"]
    return faults


def traced(cli: ForkRunner, tmp: Path, args: list[str]) -> list[str]:
    trace = tmp / f"trace-{cli.n}.txt"
    rc, log = cli.run(*args, fault=f"trace:{trace}")
    assert rc == 0, log
    return trace.read_text().split()


def check_cases(
    cli: ForkRunner, cases: list[tuple[str, Path, list[str]]], want: list[dict], known: set[str], n_takes: int
) -> int:
    """Run each case's command until its fault kills it, check the progress it showed against the
    disk, `resume` it, and compare its takes with ``want`` (the project then holds ``n_takes``);
    cases run PARALLEL at a time. Returns how many windows the killed runs had shown as done."""
    shown = 0
    for start in range(0, len(cases), PARALLEL):
        batch = cases[start : start + PARALLEL]
        killed = cli.run_many([(args, fault) for fault, _, args in batch])
        for (fault, folder, _), (rc, log) in zip(batch, killed, strict=True):
            assert rc == -signal.SIGKILL, f"{fault}: the fault did not fire (rc {rc})\n{log}"
            shown += check_progress(folder, known, log, fault)
        resumed = cli.run_many([(["resume", str(folder), *RUN, "--quiet"], None) for _, folder, _ in batch])
        for (fault, folder, _), (rc, out) in zip(batch, resumed, strict=True):
            assert rc == 0, f"{fault}: resume failed\n{out}"
            (job_id,) = set(jobs_of(folder)) - known
            assert_same_takes(job_takes(folder, job_id), want, fault)
            assert_clean(folder, fault, n_takes)
            shutil.rmtree(folder)
    return shown


def check_progress(folder: Path, known: set[str], log: str, case: str) -> int:
    """No window the progress bar showed as done before the kill is missing on disk after it.
    Returns how many windows it showed as done."""
    (job_id,) = set(jobs_of(folder)) - known
    reported, on_disk = reported_done(log), saved_windows(folder, job_id)
    for level, n in reported.items():
        assert n <= on_disk.get(level, 0), f"{case}: progress showed {reported}, disk has {on_disk}"
    return sum(reported.values())


def run_finish_kills(cli: ForkRunner, tmp: Path, base: Path | None, args_for, label: str) -> int:
    """Reference run (traced), then one killed run + resume per finish kill point; returns the count."""
    reference = tmp / f"{label}-reference"
    if base is not None:
        shutil.copytree(base, reference)
    known = set(jobs_of(base)) if base is not None else set()
    trace = traced(cli, tmp, args_for(reference))
    (job_id,) = set(jobs_of(reference)) - known
    want = job_takes(reference, job_id)
    cases = []
    for i, fault in enumerate(finish_faults(trace)):
        folder = tmp / f"{label}-{i}"
        if base is not None:
            shutil.copytree(base, folder)
        cases.append((fault, folder, args_for(folder)))
    check_cases(cli, cases, want, known, len(list((reference / "takes").iterdir())))
    return len(cases)


@pytest.fixture(scope="module")
def composed(cli, tmp_path_factory) -> Path:
    """A project with two composed takes (the start of the continue and upsample cases)."""
    folder = tmp_path_factory.mktemp("base") / "song"
    rc, log = cli.run(*compose_args(folder))
    assert rc == 0, log
    return folder


def take_ids_of(folder: Path) -> list[str]:
    (info,) = jobs_of(folder).values()
    return info["take_ids"]


# ---------------------------------------------------------------------- tests


@pytest.mark.slow
def test_compose_killed_at_every_finish_rename_resumes_to_the_same_takes(cli, tmp_path) -> None:
    n = run_finish_kills(cli, tmp_path, None, compose_args, "compose")
    # per take: take.json, codes, take.json (level status); then 2 previews and job.json
    assert n == 2 * (2 * 3 + 2 + 1)


@pytest.mark.slow
def test_continue_killed_at_every_finish_rename_resumes_to_the_same_takes(cli, tmp_path, composed) -> None:
    parent = take_ids_of(composed)[0]

    def args(folder: Path) -> list[str]:
        return ["continue", str(folder), parent, "--variations", "2", "--seconds", SECONDS, "--seed", "6", *RUN]

    assert run_finish_kills(cli, tmp_path, composed, args, "continue") == 18


@pytest.mark.slow
def test_upsample_killed_at_every_finish_rename_resumes_to_the_same_takes(cli, tmp_path, composed) -> None:
    first = take_ids_of(composed)[0]

    def args(folder: Path) -> list[str]:
        return ["upsample", str(folder), first, "--seed", "7", *RUN]

    # codes + take.json per level, take.json (job id), job.json
    assert run_finish_kills(cli, tmp_path, composed, args, "upsample") == 2 * 6


@pytest.mark.slow
def test_upsample_killed_at_random_moments_loses_no_reported_window(cli, tmp_path, composed) -> None:
    """Seeded random kills while upsampling: at a window's save (before or after either rename) and
    at a random time; the progress shown before the kill never runs ahead of what is on disk."""
    ids = take_ids_of(composed)

    def args(folder: Path) -> list[str]:
        return ["upsample", str(folder), *ids, "--seed", "8", *RUN]  # no --quiet: the bar is checked

    reference = tmp_path / "reference"
    shutil.copytree(composed, reference)
    known = set(jobs_of(composed))
    # the reference run is timed as the killed runs are: from "running" in job.json to its exit, so the
    # kill delays below fall inside the sampling whatever the start-up costs on a busy machine
    trace_file = tmp_path / "trace-reference.txt"
    pid, _ = cli.start(*args(reference), fault=f"trace:{trace_file}")
    wait_until_sampling(reference, known)
    started = time.monotonic()
    assert cli.wait(pid) == 0
    duration = time.monotonic() - started
    trace = trace_file.read_text().split()
    (job_id,) = set(jobs_of(reference)) - known
    want = job_takes(reference, job_id)
    n_takes = len(list((reference / "takes").iterdir()))
    n_saves = trace.count("state.safetensors")
    rng = random.Random(17)
    faults = [f"{rng.choice(['before', 'after'])}:{rng.choice(['state.safetensors', 'job.json'])}:"
              f"{rng.randrange(3, n_saves)}" for _ in range(4)]  # fmt: skip
    cases = []
    for i, fault in enumerate(faults):
        shutil.copytree(composed, tmp_path / f"random-{i}")
        cases.append((fault, tmp_path / f"random-{i}", args(tmp_path / f"random-{i}")))
    shown = check_cases(cli, cases, want, known, n_takes)

    # at random times while it samples: mid-token, mid-save, between the two renames of a save, ...
    delays = [rng.uniform(0.0, 0.8) * duration for _ in range(4)]
    folders = [tmp_path / f"timed-{i}" for i in range(len(delays))]
    runs = []
    for folder, delay in zip(folders, delays, strict=True):
        shutil.copytree(composed, folder)
        pid, log = cli.start(*args(folder))
        wait_until_sampling(folder, known)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        runs.append(((pid, log), delay))
    timed = []
    for ((pid, log), delay), folder in zip(runs, folders, strict=True):
        rc = cli.wait(pid)
        if rc == 0:  # it finished before its kill came: nothing to resume
            continue
        assert rc == -signal.SIGKILL, rc
        log_text = log.read_text(encoding="utf-8", errors="replace")
        shown += check_progress(folder, known, log_text, f"kill at {delay:.2f} s")
        timed.append(folder)
    resumed = cli.run_many([(["resume", str(folder), *RUN, "--quiet"], None) for folder in timed])
    for folder, (rc, out) in zip(timed, resumed, strict=True):
        assert rc == 0, out
        (new_job,) = set(jobs_of(folder)) - known
        assert_same_takes(job_takes(folder, new_job), want, folder.name)
        assert_clean(folder, folder.name, n_takes)
    assert timed, "every timed kill came too late"
    assert shown > 0, "no killed run had shown a finished window: the progress check compared nothing"


def test_a_job_whose_takes_cannot_be_written_is_marked_failed_with_the_reason(cli, tmp_path, composed) -> None:
    folder = tmp_path / "song"
    shutil.copytree(composed, folder)
    first = take_ids_of(composed)[0]
    rc, _ = cli.run("upsample", str(folder), first, "--levels", "middle", "--seed", "7", *RUN,
                    fault="before:take.json:1")  # fmt: skip
    assert rc == -signal.SIGKILL
    shutil.rmtree(folder / "takes" / first)  # the take goes while its upsampling waits to be finished
    rc, out = cli.run("resume", str(folder), *RUN, "--quiet")
    assert rc != 0 and first in out
    (failed,) = [info for info in jobs_of(folder).values() if info["kind"] == "upsample"]
    assert failed["status"] == "failed"
    assert first in failed["message"] and "resume" in failed["message"]
