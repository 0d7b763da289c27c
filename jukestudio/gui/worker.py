"""The bridge between engine jobs and the window: a JobWorker on one dedicated QThread.

A job is any callable ``run(report, token) -> result`` where ``report(Progress)`` is called from the
worker thread and ``token`` is the engine's :class:`CancelToken`. The worker turns the callbacks into
signals (throttled to ~10 Hz, plain values only) so the GUI thread never waits on a job. Jobs
submitted while one runs queue on the thread's event loop and run one after another (one GPU).

Signals are past-tense facts. Every submitted job ends with exactly one of ``finished``,
``cancelled`` or ``failed`` — any exception, including ``RuntimeError`` (torch's out-of-memory error
is one), becomes ``failed(job_id, message)``; nothing is swallowed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from jukestudio.engine.progress import Cancelled, CancelToken, Progress
from jukestudio.os_errors import describe_os_error

log = logging.getLogger(__name__)

JobFn = Callable[[Callable[[Progress], None], CancelToken], Any]
MIN_REPORT_INTERVAL_S = 0.1  # at most ~10 progress signals per second reach the GUI


@dataclass
class JobTicket:
    """What the GUI keeps for a submitted job: its id, a label and the token that cancels it."""

    job_id: str
    label: str
    fn: JobFn
    token: CancelToken = field(default_factory=CancelToken)


def describe_error(exc: BaseException) -> str:
    """A message a musician can act on; the traceback goes to the log."""
    name = type(exc).__name__
    if isinstance(exc, OSError) and exc.errno is not None:  # disk full, read-only folder, …: what to do
        text = describe_os_error(exc, resume="resume the job from the Jobs panel")
        return text[0].upper() + text[1:]
    if name == "OutOfMemoryError" or "out of memory" in str(exc).lower():
        return f"Out of memory: {exc}. Try fewer takes at a time or a shorter take length."
    text = str(exc).strip()
    return text if text else name


class JobWorker(QObject):
    """Runs jobs on the thread it was moved to. Create it through :class:`JobRunner`."""

    started = Signal(str)  # job_id
    progressed = Signal(str, object)  # job_id, Progress (frozen dataclass of plain numbers)
    finished = Signal(str, object)  # job_id, the job's return value
    cancelled = Signal(str, object)  # job_id, the Cancelled exception's args (what was kept)
    failed = Signal(str, str)  # job_id, message for the user

    _queued = Signal(object)  # JobTicket, delivered on the worker thread (queued connection)

    def __init__(self) -> None:
        super().__init__()
        self._queued.connect(self._run)

    def submit(self, ticket: JobTicket) -> None:
        """Queue a job (callable from the GUI thread)."""
        self._queued.emit(ticket)

    @Slot(object)
    def _run(self, ticket: JobTicket) -> None:
        job_id = ticket.job_id
        if ticket.token.cancelled:  # cancelled while waiting in the queue
            self.cancelled.emit(job_id, None)
            return
        self.started.emit(job_id)
        last_emit = [0.0]

        def report(progress: Progress) -> None:
            now = time.monotonic()
            if progress.is_final or now - last_emit[0] >= MIN_REPORT_INTERVAL_S:
                last_emit[0] = now
                self.progressed.emit(job_id, progress)

        try:
            result = ticket.fn(report, ticket.token)
        except Cancelled as exc:
            log.info("job %s cancelled", job_id)
            self.cancelled.emit(job_id, exc.args[0] if exc.args else None)
        except Exception as exc:  # every failure reaches the user; BaseException (exit) propagates
            log.exception("job %s (%s) failed", job_id, ticket.label)
            self.failed.emit(job_id, describe_error(exc))
        else:
            if ticket.token.cancelled:
                # The job noticed the token and returned what it finished: still a cancel for the user.
                self.cancelled.emit(job_id, result)
            else:
                self.finished.emit(job_id, result)


class JobRunner(QObject):
    """Owns the dedicated job thread and its JobWorker; tracks tickets so the GUI can cancel."""

    def __init__(self, parent: QObject | None = None, name: str = "jukestudio-jobs") -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName(name)
        self.worker = JobWorker()
        self.worker.moveToThread(self._thread)
        self._tickets: dict[str, JobTicket] = {}
        self._lock = threading.Lock()
        for signal in (self.worker.finished, self.worker.cancelled):
            signal.connect(self._forget)
        self.worker.failed.connect(self._forget)
        self._thread.start()

    def submit(self, job_id: str, fn: JobFn, label: str = "") -> JobTicket:
        ticket = JobTicket(job_id, label or job_id, fn)
        with self._lock:
            self._tickets[job_id] = ticket
        self.worker.submit(ticket)
        return ticket

    def cancel(self, job_id: str) -> bool:
        """Set the job's token directly (the worker thread is busy; a queued slot would wait)."""
        with self._lock:
            ticket = self._tickets.get(job_id)
        if ticket is None:
            return False
        ticket.token.cancel()
        return True

    def cancel_all(self) -> None:
        with self._lock:
            tickets = list(self._tickets.values())
        for ticket in tickets:
            ticket.token.cancel()

    def pending(self) -> list[str]:
        with self._lock:
            return list(self._tickets)

    @Slot(str)
    def _forget(self, job_id: str, *_: object) -> None:
        with self._lock:
            self._tickets.pop(job_id, None)

    def shutdown(self, wait_ms: int = 10_000) -> bool:
        """Cancel everything and stop the thread; True when it stopped in time."""
        self.cancel_all()
        self._thread.quit()
        return self._thread.wait(wait_ms)
