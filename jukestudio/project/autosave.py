"""Autosave: save a dirty project at most every ``interval_s`` seconds. The GUI ticks it from a timer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from jukestudio.project.document import Project

log = logging.getLogger(__name__)


class Autosave:
    def __init__(self, project: Project, interval_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.project = project
        self.interval_s = interval_s
        self._clock = clock
        self._last = clock()
        self.last_error: Exception | None = None

    def tick(self) -> bool:
        """Save if the project is dirty and the interval has passed; returns whether it saved.

        A failed save (disk full, folder gone) is logged and kept in ``last_error``; the edits stay
        pending and the next tick tries again.
        """
        now = self._clock()
        if not self.project.dirty or now - self._last < self.interval_s:
            return False
        self._last = now
        try:
            saved = self.project.save()
        except OSError as exc:
            self.last_error = exc
            log.error("autosave of %s failed: %s", self.project.folder, exc)
            return False
        self.last_error = None
        return saved
