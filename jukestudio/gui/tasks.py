"""Short background work that is not a GPU job: decoding previews, exporting, importing, loading.

``BackgroundTasks.run(fn, on_done, on_failed)`` runs ``fn()`` on a small thread pool and calls
``on_done(result)`` or ``on_failed(message)`` on the GUI thread (through a queued signal), so the
event loop never blocks on disk or decoding. Every exception reaches ``on_failed``; nothing is
swallowed.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from jukestudio.gui.worker import describe_error

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted from pool threads arrive there queued."""

    done = Signal(int, object)
    failed = Signal(int, str)


class _Task(QRunnable):
    def __init__(self, task_id: int, fn: Callable[[], Any], relay: _Relay, label: str) -> None:
        super().__init__()
        self._task_id, self._fn, self._relay, self._label = task_id, fn, relay, label

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:
            log.exception("background task %r failed", self._label)
            self._relay.failed.emit(self._task_id, describe_error(exc))
        else:
            self._relay.done.emit(self._task_id, result)


class BackgroundTasks(QObject):
    """A pool for I/O and decoding; callbacks run on the GUI thread."""

    busy_changed = Signal(int)  # number of tasks still running

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._callbacks: dict[int, tuple[Callable[[Any], None] | None, Callable[[str], None] | None]] = {}
        self._ids = itertools.count(1)

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        label: str = "",
    ) -> int:
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_done, on_failed)
        self._pool.start(_Task(task_id, fn, self._relay, label or getattr(fn, "__name__", "task")))
        self.busy_changed.emit(len(self._callbacks))
        return task_id

    @property
    def running(self) -> int:
        return len(self._callbacks)

    def wait(self, msecs: int = 30_000) -> bool:
        return self._pool.waitForDone(msecs)

    def _on_done(self, task_id: int, result: object) -> None:
        on_done, _ = self._callbacks.pop(task_id, (None, None))
        self.busy_changed.emit(len(self._callbacks))
        if on_done is not None:
            on_done(result)

    def _on_failed(self, task_id: int, message: str) -> None:
        _, on_failed = self._callbacks.pop(task_id, (None, None))
        self.busy_changed.emit(len(self._callbacks))
        if on_failed is not None:
            on_failed(message)
        else:
            log.error("background task failed: %s", message)
