"""JobWorker/JobRunner and BackgroundTasks with plain Python jobs that report, cancel and raise."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject, Signal

from jukestudio.engine.progress import Cancelled, CancelToken, Progress
from jukestudio.gui.tasks import BackgroundTasks
from jukestudio.gui.worker import JobRunner, describe_error


def _progress(job_id: str, done: int, total: int) -> Progress:
    return Progress(job_id, 0, 0, 1, done, total, 100.0, None, done / total)


class MainThreadSignals(QObject):
    """The worker's signals re-emitted on the GUI thread, for qtbot to wait on.

    pytest-qt's blockers are plain Python objects: a signal emitted on the job thread calls them
    directly on that thread, where quitting the wait loop can race with entering it (and QTimer cannot
    be stopped from another thread), so a wait could hang. The window itself only connects the
    worker's signals to slots of GUI-thread QObjects (queued), which is what this relay does too.
    """

    started = Signal(str)
    finished = Signal(str, object)
    cancelled = Signal(str, object)
    failed = Signal(str, str)

    def __init__(self, worker) -> None:
        super().__init__()
        for name in ("started", "finished", "cancelled", "failed"):
            getattr(worker, name).connect(getattr(self, name))  # receiver on the GUI thread: queued


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    r.gui = MainThreadSignals(r.worker)
    yield r
    assert r.shutdown(5000)


def test_job_reports_throttled_progress_and_finishes_off_the_gui_thread(qtbot, runner):
    gui_thread = threading.get_ident()
    seen_threads: list[int] = []

    def job(report, token):
        seen_threads.append(threading.get_ident())
        for i in range(1, 301):  # 300 reports over ~0.3 s: the GUI must get far fewer
            report(_progress("a", i, 300))
            time.sleep(0.001)
        return "codes"

    received: list[Progress] = []
    runner.worker.progressed.connect(lambda _id, p: received.append(p))
    with qtbot.waitSignals(
        [runner.gui.started, runner.gui.finished],
        order="strict",
        check_params_cbs=[lambda j: j == "a", lambda j, r: (j, r) == ("a", "codes")],
        timeout=5000,
    ):
        runner.submit("a", job)
    assert seen_threads and seen_threads[0] != gui_thread
    assert 2 <= len(received) <= 10  # ≤ 10 Hz over ~0.3 s, plus the final one
    assert received[-1].tokens_done == 300  # the final report is never dropped
    assert [p.tokens_done for p in received] == sorted(p.tokens_done for p in received)
    qtbot.waitUntil(lambda: runner.pending() == [], timeout=2000)


def test_cancel_sets_the_token_directly_while_the_job_runs(qtbot, runner):
    entered = threading.Event()

    def job(report, token: CancelToken):
        entered.set()
        windows_done = 0
        while True:  # a job that only stops through its token
            time.sleep(0.005)
            windows_done += 1
            if token.cancelled:
                raise Cancelled({"windows_kept": windows_done})

    runner.submit("long", job)
    qtbot.waitUntil(entered.is_set, timeout=3000)
    with qtbot.waitSignal(runner.gui.cancelled, timeout=3000) as blocker:
        assert runner.cancel("long")
    job_id, kept = blocker.args
    assert job_id == "long" and kept["windows_kept"] >= 1


def test_queued_jobs_run_one_after_another_and_a_cancelled_queued_job_never_starts(qtbot, runner):
    gate = threading.Event()
    order: list[str] = []

    def blocking(report, token):
        order.append("first")
        gate.wait(5)
        return 1

    def second(report, token):
        order.append("second")
        return 2

    def third(report, token):
        order.append("third")
        return 3

    started: list[str] = []
    runner.worker.started.connect(started.append)
    runner.submit("1", blocking)
    runner.submit("2", second)
    runner.submit("3", third)
    runner.cancel("2")
    with qtbot.waitSignal(runner.gui.finished, timeout=5000, check_params_cb=lambda j, r: j == "3"):
        gate.set()
    assert order == ["first", "third"]
    assert started == ["1", "3"]


@pytest.mark.parametrize("exc", [RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), ValueError("bad lyrics")])
def test_any_exception_becomes_failed_with_a_message(qtbot, runner, exc):
    def job(report, token):
        raise exc

    finished: list[str] = []
    runner.worker.finished.connect(lambda j, r: finished.append(j))
    with qtbot.waitSignal(runner.gui.failed, timeout=3000) as blocker:
        runner.submit("bad", job)
    assert blocker.args[0] == "bad"
    assert blocker.args[1] == describe_error(exc)
    assert finished == []
    if isinstance(exc, RuntimeError):
        assert blocker.args[1].startswith("Out of memory")
    else:
        assert blocker.args[1] == "bad lyrics"


def test_background_tasks_call_back_on_the_gui_thread(qtbot):
    tasks = BackgroundTasks()
    gui_thread = threading.get_ident()
    results: list[tuple[str, object, int]] = []
    tasks.run(lambda: threading.get_ident(), on_done=lambda r: results.append(("done", r, threading.get_ident())))

    def boom():
        raise OSError("disk full: /tmp/x.wav")

    tasks.run(boom, on_failed=lambda m: results.append(("failed", m, threading.get_ident())))
    qtbot.waitUntil(lambda: len(results) == 2, timeout=3000)
    by_kind = {kind: (value, thread) for kind, value, thread in results}
    assert by_kind["done"][0] != gui_thread and by_kind["done"][1] == gui_thread
    assert by_kind["failed"] == ("disk full: /tmp/x.wav", gui_thread)
    assert tasks.running == 0
