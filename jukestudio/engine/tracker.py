"""Turns the sampling loop's step/window callbacks into `Progress` events with a measured speed and ETA.

Tokens are counted per take (a step of a batch of 4 takes samples 4 tokens). The speed is measured
over the last few seconds, so the ETA follows the level being sampled (upsamplers run at another
speed than the top prior); until something has been measured the ETA is None, never a guess.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from jukestudio.engine.progress import Progress
from jukestudio.model.sample_loop import Window

SPEED_WINDOW_S = 15.0  # seconds of history behind the speed estimate


class ProgressTracker:
    def __init__(
        self,
        job_id: str,
        report: Callable[[Progress], None],
        *,
        tokens_total: int,
        tokens_done: int,
        n_windows: dict[int, int],
        windows_done: dict[int, int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id
        self._report = report
        self.tokens_total = max(0, tokens_total)
        self.tokens_done = min(tokens_done, self.tokens_total)
        self.n_windows = dict(n_windows)
        self.windows_done = dict(windows_done)
        self._clock = clock
        self._history: deque[tuple[float, int]] = deque()
        self._last_fraction = self.fraction_of(self.tokens_done)
        # a resumed job starts its reports at the first level with windows left, counting the saved ones
        unfinished = [lv for lv in sorted(n_windows) if self.windows_done.get(lv, 0) < n_windows[lv]]
        self._level = unfinished[0] if unfinished else (max(n_windows) if n_windows else 0)
        self._window = self.windows_done.get(self._level, 0)

    def fraction_of(self, tokens: int) -> float:
        return 1.0 if self.tokens_total == 0 else min(1.0, tokens / self.tokens_total)

    def speed(self) -> float:
        if len(self._history) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._history[0], self._history[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def _emit(self, tokens: int, message: str = "", final: bool = False) -> None:
        now = self._clock()
        self._history.append((now, tokens))
        while len(self._history) > 2 and now - self._history[1][0] > SPEED_WINDOW_S:
            self._history.popleft()
        speed = self.speed()
        eta = (self.tokens_total - tokens) / speed if speed > 0 else None
        fraction = 1.0 if final else min(self.fraction_of(tokens), 0.999999)
        fraction = max(fraction, self._last_fraction)  # monotonic, also across an out-of-memory retry
        self._last_fraction = fraction
        self._report(
            Progress(
                job_id=self.job_id,
                level=self._level,
                window=self._window,
                n_windows=self.n_windows.get(self._level, 0),
                tokens_done=tokens,
                tokens_total=self.tokens_total,
                tokens_per_s=speed,
                eta_s=0.0 if final else eta,
                fraction=fraction,
                message=message,
            )
        )

    def start(self, message: str = "") -> None:
        self._history.clear()
        self._emit(self.tokens_done, message)

    def step(self, window: Window, rows_done: int, rows: int, i: int, n_samples: int) -> None:
        """After sampled step ``i`` of a batch of ``rows`` takes (``rows_done`` takes of the window finished)."""
        self._level = window.level
        self._window = self.windows_done.get(window.level, 0)
        in_window = window.new_tokens * rows_done + i * rows
        self._emit(min(self.tokens_done + in_window, self.tokens_total))

    def window_finished(self, window: Window, n_samples: int) -> None:
        """Count a window as done: call it once the window is saved (reports then include it)."""
        self.windows_done[window.level] = self.windows_done.get(window.level, 0) + 1
        self.tokens_done = min(self.tokens_done + window.new_tokens * n_samples, self.tokens_total)

    def message(self, text: str) -> None:
        self._emit(self.tokens_done, text)

    def finish(self, message: str = "done") -> None:
        self.tokens_done = self.tokens_total
        self._emit(self.tokens_total, message, final=True)
