"""Progress reports and cancellation shared by the engine and its callers (CLI, GUI). No Qt."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


def percent_text(fraction: float, decimals: int = 0) -> str:
    """A fraction as a percentage rounded *down*: "100%" only once the work is whole (a bar at
    99.96 % whose last window is not yet saved must not read as done)."""
    scale = 10**decimals
    value = math.floor(max(0.0, min(1.0, fraction)) * 100 * scale + 1e-9) / scale
    return f"{value:.{decimals}f}%"


class Cancelled(Exception):
    """Raised inside a job when its CancelToken was set; the job keeps what it finished."""


class CancelToken:
    """A thread-safe flag: the GUI/CLI sets it, the job polls it between sampled tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class Progress:
    """One progress event of a job. Plain numbers only, so it can cross threads and processes.

    ``level`` is in prior order (0 = top). ``fraction`` is the whole job's completion in [0, 1].
    """

    job_id: str
    level: int
    window: int  # index of the window being sampled at this level (0-based) = its windows saved so far
    n_windows: int  # windows at this level
    tokens_done: int  # tokens sampled so far in the whole job (incl. the window in flight, not yet saved)
    tokens_total: int  # tokens the whole job will sample
    tokens_per_s: float  # measured speed (recent average)
    eta_s: float | None  # seconds left, from measured speed; None until measured
    fraction: float
    message: str = ""

    @property
    def is_final(self) -> bool:
        return self.fraction >= 1.0
