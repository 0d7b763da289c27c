"""Run one hostile case in a forked child: bounded time, measured peak memory, the outcome as plain data.

torch is imported once by the parent; ``os.fork`` then costs milliseconds per case instead of a new
interpreter. The child sends back what happened (returned / raised which type with which message /
whether a traceback would reach a user) and its peak RSS comes from ``wait4``.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

RSS_BOUND_MB = 1024
"""Peak RSS growth a hostile case may cause over the parent's size (the issue's cases reached 2.2 GB)."""


@dataclass
class Outcome:
    kind: str  # "ok" | "raised" | "died" | "timeout"
    value: Any = None  # what the case returned (plain data only)
    exc_type: str = ""
    exc_mro: tuple[str, ...] = ()
    message: str = ""
    trace: str = ""
    peak_rss_mb: float = 0.0
    seconds: float = 0.0

    def raised(self, *names: str) -> bool:
        return self.kind == "raised" and any(n in self.exc_mro for n in names)


def parent_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_forked(case: Callable[[], Any], timeout: float = 60.0) -> Outcome:
    """``case()`` in a child process; on timeout the child is killed and the outcome says so."""
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        code = 0
        try:
            torch.set_num_threads(1)
            try:
                result = Outcome("ok", value=case())
            except BaseException as exc:
                result = Outcome(
                    "raised",
                    exc_type=type(exc).__name__,
                    exc_mro=tuple(c.__name__ for c in type(exc).__mro__),
                    message=str(exc),
                    trace=traceback.format_exc(limit=8),
                )
            try:
                data = pickle.dumps(result)
            except Exception:  # the value was not plain data
                data = pickle.dumps(Outcome("ok", value=repr(result.value)[:200]))
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(data)
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = start + timeout
    timed_out = False
    with os.fdopen(read_fd, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([pipe], [], [], left)
            if not ready:
                continue
            chunk = os.read(pipe.fileno(), 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - start
    peak = usage.ru_maxrss / 1024
    if timed_out:
        return Outcome("timeout", peak_rss_mb=peak, seconds=seconds)
    if not chunks:
        return Outcome("died", message=f"wait status {status}", peak_rss_mb=peak, seconds=seconds)
    outcome: Outcome = pickle.loads(b"".join(chunks))
    outcome.peak_rss_mb, outcome.seconds = peak, seconds
    return outcome


class Tally:
    """Counts per category for the report (cases, clean) and the worst peak RSS; printed at session end."""

    categories: ClassVar[dict[str, list[int]]] = {}
    worst: ClassVar[tuple[float, str]] = (0.0, "")

    @classmethod
    def add(cls, category: str, clean: bool, peak_mb: float = 0.0, name: str = "") -> None:
        entry = cls.categories.setdefault(category, [0, 0])
        entry[0] += 1
        entry[1] += int(clean)
        if peak_mb > cls.worst[0]:
            cls.worst = (peak_mb, f"{category}: {name}")
