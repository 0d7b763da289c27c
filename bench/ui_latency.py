"""Window responsiveness: cold start to a shown window, and the longest event-loop stall while a job runs.

    python bench/ui_latency.py [--seconds 20] [--take-seconds 2] [--runs 3]

* Cold start (target ≤ 1.5 s): a fresh interpreter runs ``python -m jukestudio`` style start-up
  (QApplication + MainWindow, no project) and reports when the window is shown and the first
  event-loop turn after ``show()`` ran. The time includes interpreter start and all imports; the
  child also reports whether torch was imported by then (it must not be: it loads lazily).
* Stall while a job runs (target ≤ 50 ms): the real window composes on the demo model (CPU) while a
  1 ms QTimer measures how late each tick fires, with the growing waveform (each finished top-level
  window decoded in the background and drawn) running as in normal use; the worst lateness is the longest time the GUI
  thread could not react. Two jobs run one after another. The window loads the chosen model in the
  background after start (reported separately: loading holds the GIL for long stretches).
  Progress signals, throttled to ≤ 10 Hz, are counted too.

Prints a table and one JSON line. Uses a temporary JUKESTUDIO_HOME (the demo model is made there).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import sys, time
t0 = float(sys.argv[1])
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(["jukestudio"])
from jukestudio.gui.app import create_window
window = create_window(reopen_last=False)
window.show()
torch_at_show = "torch" in sys.modules  # imported on the GUI thread before the window showed?
import json
def shown():
    print(json.dumps({"shown_s": time.time() - t0, "torch_loaded": torch_at_show}), flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def cold_start(runs: int, home: str) -> list[dict]:
    env = dict(os.environ, JUKESTUDIO_HOME=home, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    results = []
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, repr(t0)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
        )
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise SystemExit(f"cold start child failed:\n{out.stderr}")
        results.append(json.loads(lines[-1]))
    return results


def stall_during_job(seconds: float, take_seconds: float, home: str) -> dict:
    os.environ["JUKESTUDIO_HOME"] = home
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from jukestudio.gui.main_window import MainWindow
    from jukestudio.gui.studio import Studio

    app = QApplication.instance() or QApplication(["bench"])
    Studio().ensure_demo_model()
    window = MainWindow(Studio())
    done = {"vocab": False}
    window.vocabulary_ready.connect(lambda _n: done.__setitem__("vocab", True))
    # Start-up: the window shows, then lists models, reads the vocabulary and loads the chosen model
    # in the background, as a user reads the window.
    startup = _measure_while(
        app, window.show, lambda: done["vocab"] and not window.tasks.running, QElapsedTimer, QTimer
    )
    window.new_project(Path(home) / "projects" / "bench")
    window.song.total_seconds.setValue(60)
    window.song.take_seconds.setValue(take_seconds)
    window.song.n_takes.setValue(2)

    runs = [_measure_one_job(app, window, seconds, QElapsedTimer, QTimer) for _ in range(2)]
    window.close()
    return {"startup": startup, "first_job": runs[0], "second_job": runs[1]}


def _measure_while(app, start, finished, QElapsedTimer, QTimer) -> dict:
    """Worst event-loop lateness from ``start()`` until ``finished()`` (1 ms timer, as for jobs)."""
    clock = QElapsedTimer()
    lateness: list[float] = []
    last = [0.0]
    tick = QTimer()
    tick.setInterval(1)

    def on_tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        lateness.append(now - last[0] - 1.0)
        last[0] = now

    tick.timeout.connect(on_tick)
    clock.start()
    tick.start()
    start()
    deadline = time.monotonic() + 120
    while not finished() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.0005)
    tick.stop()
    return {
        "seconds": round(clock.nsecsElapsed() / 1e9, 2),
        "max_stall_ms": round(max(lateness), 1) if lateness else None,
    }


def _measure_one_job(app, window, seconds: float, QElapsedTimer, QTimer) -> dict:
    clock = QElapsedTimer()
    lateness: list[float] = []
    progress_events: list[float] = []
    last = [0.0]
    tick = QTimer()
    tick.setInterval(1)

    stamps: list[float] = []

    def on_tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        lateness.append(now - last[0] - 1.0)
        stamps.append(now)
        last[0] = now

    tick.timeout.connect(on_tick)
    on_progress = window.runner.worker.progressed.connect(
        lambda _j, _p: progress_events.append(clock.nsecsElapsed() / 1e9)
    )
    state = {"ended": ""}
    ended_at = [0.0]

    def on_ended(_job_id: str, status: str) -> None:
        state["ended"] = status
        ended_at[0] = clock.nsecsElapsed() / 1e6

    on_end = window.job_ended.connect(on_ended)
    grown: list[float] = []  # the growing-waveform decodes that reached the window during the job
    on_grew = window.growing.grew.connect(lambda _j: grown.append(clock.nsecsElapsed() / 1e9))
    clock.start()
    tick.start()
    job_id = window.compose()
    QTimer.singleShot(int(seconds * 1000), lambda: window.cancel_job(job_id))
    while not state["ended"]:
        app.processEvents()
        time.sleep(0.0005)
    tick.stop()
    window.runner.worker.progressed.disconnect(on_progress)
    window.job_ended.disconnect(on_end)
    window.growing.grew.disconnect(on_grew)
    elapsed = clock.nsecsElapsed() / 1e9
    rates = [1 / (b - a) for a, b in itertools.pairwise(progress_events) if b > a]
    return {
        "status": state["ended"],
        "seconds": round(elapsed, 2),
        "max_stall_ms": round(max(lateness), 1) if lateness else None,
        "max_stall_at_ms_from_end": round(stamps[lateness.index(max(lateness))] - ended_at[0], 1) if lateness else None,
        "p99_stall_ms": round(statistics.quantiles(lateness, n=100)[98], 2) if len(lateness) > 100 else None,
        "ticks": len(lateness),
        "progress_signals": len(progress_events),
        "max_progress_hz": round(max(rates), 1) if rates else None,
        "growing_decodes": len(grown),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold starts to time")
    parser.add_argument("--seconds", type=float, default=20.0, help="cancel the job after this long")
    parser.add_argument("--take-seconds", type=float, default=2.0, help="length of the composed takes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jukestudio-bench-") as home:
        starts = cold_start(args.runs, home)
        stall = stall_during_job(args.seconds, args.take_seconds, home)
    shown = [r["shown_s"] for r in starts]
    print(
        f"cold start to shown window: best {min(shown):.3f} s, median {statistics.median(shown):.3f} s "
        f"over {len(shown)} runs (target <= 1.5 s); torch loaded at show: {any(r['torch_loaded'] for r in starts)}"
    )
    print(
        f"after start (model list, vocabulary, model loading in the background): longest stall "
        f"{stall['startup']['max_stall_ms']} ms over {stall['startup']['seconds']} s"
    )
    for name, label in (("first_job", "first job"), ("second_job", "second job")):
        run = stall[name]
        print(
            f"{label}: longest event-loop stall {run['max_stall_ms']} ms (target <= 50 ms), "
            f"p99 {run['p99_stall_ms']} ms over {run['ticks']} ticks in {run['seconds']} s; "
            f"{run['progress_signals']} progress signals, max {run['max_progress_hz']} Hz; "
            f"{run['growing_decodes']} growing-waveform decodes shown; {run['status']}"
        )
    print(json.dumps({
        "cold_start_best_s": round(min(shown), 3),
        "cold_start_median_s": round(statistics.median(shown), 3),
        "torch_loaded_at_show": any(r["torch_loaded"] for r in starts),
        **stall,
        "cpu_threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
