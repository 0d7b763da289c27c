"""Watch a take grow while it samples: placeholder rows for the takes a job is composing, and their
audio decoded window by window in the background.

The engine saves a job's codes after every finished window (that is what makes jobs resumable); the
progress it reports says how many top-level windows are done. When that count grows, one low-priority
decode thread asks the Studio for the audio of the new part of the take on show (``Studio.grown_audio``:
the VQ-VAE decodes only the new tokens, with a little context before them), at most about once a
second, and the window shows it. The job thread never waits for it; the event loop only swaps arrays.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from jukestudio.audio.peaks import PeakPyramid
from jukestudio.gui.records import TakeItem
from jukestudio.gui.tasks import BackgroundTasks

log = logging.getLogger(__name__)

PLACEHOLDER_PREFIX = "composing:"
ALL_WINDOWS = 1 << 30  # the job moved past the top level: every top-level window is finished
MIN_INTERVAL_S = 1.5  # at most one decode a second per job: enough to watch, little competition


def placeholder_id(job_id: str, row: int) -> str:
    return f"{PLACEHOLDER_PREFIX}{job_id}:{row}"


def is_placeholder(take_id: str | None) -> bool:
    return bool(take_id) and take_id.startswith(PLACEHOLDER_PREFIX)


@dataclass
class _Growth:
    spec: Any  # the JobSpec
    rows: list[np.ndarray]
    peaks: list[PeakPyramid]
    windows_seen: int = 0
    busy: bool = False
    again: bool = False
    scheduled: bool = False
    last_done: float = -1e9  # monotonic time the last decode reached the window
    names: list[str] = field(default_factory=list)


def _lower_this_threads_priority() -> None:
    """Decoding a preview must not compete with the job or the event loop (Linux: per-thread nice)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not permitted: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class GrowingTakes(QObject):
    """Placeholder takes of running jobs and their audio so far."""

    grew = Signal(str)  # job_id: more audio of its takes is decoded
    changed = Signal()  # placeholders were added or removed

    def __init__(self, studio: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.tasks = BackgroundTasks(self, max_threads=1)  # one decoder thread, at low priority
        self._jobs: dict[str, _Growth] = {}
        self._focus: tuple[str, int] | None = None  # (job, row) of the placeholder on show

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, spec: Any) -> None:
        n = int(getattr(spec, "new_takes", 0) or 0)
        if n <= 0:
            return
        names = [f"Take {i + 1}" for i in range(n)]
        empty = np.zeros(0, np.float32)
        self._jobs[spec.job_id] = _Growth(spec, [empty] * n, [PeakPyramid(empty)] * n, names=names)
        # a new job: the growth it reports is decoded once one of its takes is on show (focus)
        self.changed.emit()

    def ended(self, job_id: str) -> None:
        if self._jobs.pop(job_id, None) is not None:
            self.changed.emit()

    def clear(self) -> None:
        self._jobs.clear()
        self.changed.emit()

    def progressed(self, job_id: str, progress: Any) -> None:
        growth = self._jobs.get(job_id)
        if growth is None or progress.level is None:
            return
        finished = progress.window if progress.level == 0 else ALL_WINDOWS
        if finished > growth.windows_seen:
            growth.windows_seen = finished
            self._decode(job_id)

    # -- what the window shows -----------------------------------------------------------------
    def placeholders(self) -> list[TakeItem]:
        items = []
        for job_id, growth in self._jobs.items():
            parent = getattr(growth.spec, "new_takes_parent", None)
            seconds = float(getattr(growth.spec, "new_takes_seconds", 0.0))
            for row, name in enumerate(growth.names):
                items.append(TakeItem(placeholder_id(job_id, row), name, parent, "sampling", seconds))
        return items

    def placeholder_ids(self, job_id: str) -> list[str]:
        growth = self._jobs.get(job_id)
        return [placeholder_id(job_id, row) for row in range(len(growth.rows))] if growth else []

    def job_of(self, take_id: str) -> tuple[str, int] | None:
        if not is_placeholder(take_id):
            return None
        job_id, _, row = take_id[len(PLACEHOLDER_PREFIX) :].rpartition(":")
        return (job_id, int(row)) if job_id in self._jobs else None

    def audio(self, take_id: str) -> np.ndarray | None:
        found = self.job_of(take_id)
        if found is None:
            return None
        job_id, row = found
        return self._jobs[job_id].rows[row]

    def peaks(self, take_id: str) -> PeakPyramid:
        job_id, row = self.job_of(take_id)
        return self._jobs[job_id].peaks[row]

    def expected_seconds(self, take_id: str) -> float:
        found = self.job_of(take_id)
        return float(getattr(self._jobs[found[0]].spec, "new_takes_seconds", 0.0)) if found else 0.0

    # -- background decoding -------------------------------------------------------------------
    def focus(self, take_id: str | None) -> None:
        """The placeholder on show: only its take is decoded while the job runs (decoding every take
        of the job competed with the window for the CPU); another one catches up when it is shown."""
        found = self.job_of(take_id) if take_id else None
        self._focus = found
        if found is not None:
            self._decode(found[0])

    def _decode(self, job_id: str) -> None:
        growth = self._jobs.get(job_id)
        if growth is None:
            return
        if self._focus is None or self._focus[0] != job_id:
            return  # nobody watches this job's takes grow
        if growth.busy:
            growth.again = True  # one decode at a time per job; the next one picks up what is new
            return
        wait = MIN_INTERVAL_S - (time.monotonic() - growth.last_done)
        if wait > 0:  # short windows finish several times a second: decode at most about once a second
            if not growth.scheduled:
                growth.scheduled = True
                QTimer.singleShot(int(wait * 1000) + 1, lambda: self._scheduled(job_id, growth))
            return
        growth.busy = True
        row = self._focus[1]
        old = growth.rows[row]
        start = len(old)

        def work() -> Any:
            """On the decoder thread: decode the new part, join it, build its peaks (all off the GUI thread)."""
            _lower_this_threads_priority()
            result = self.studio.grown_audio(job_id, start, [row])
            if result is None:
                return None
            first, chunks = result
            audio = np.concatenate([old[:first], np.asarray(chunks[0], np.float32)])
            return audio, PeakPyramid(audio)

        def done(result: Any) -> None:
            current = self._jobs.get(job_id)
            if current is not growth:
                return  # the job ended meanwhile
            growth.busy = False
            growth.last_done = time.monotonic()
            if result is not None and len(result[0]) > len(growth.rows[row]):
                growth.rows[row], growth.peaks[row] = result
                self.grew.emit(job_id)
            if growth.again:
                growth.again = False
                self._decode(job_id)

        def failed(message: str) -> None:
            growth.busy = False
            log.warning("growing preview of %s: %s", job_id, message)  # a view aid: the job goes on

        self.tasks.run(work, done, failed, label=f"grow {job_id}")

    def _scheduled(self, job_id: str, growth: _Growth) -> None:
        growth.scheduled = False
        if self._jobs.get(job_id) is growth:
            self._decode(job_id)
