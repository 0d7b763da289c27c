"""One line of progress on a terminal stream, rewritten in place (at most 10 times a second).

The CLI's job bar and download bar differ only in what the line says (``line``); writing, throttling
and closing live here.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from jukestudio.engine.progress import percent_text


class ProgressLine:
    def __init__(self, stream: TextIO, width: int = 30, quiet: bool = False) -> None:
        self.stream, self.width, self.quiet = stream, width, quiet
        self._last = 0.0
        self._length = 0
        self._open = False

    def line(self, p: Any) -> str:
        """What the line says for a ``Progress`` (without the leading carriage return)."""
        raise NotImplementedError

    def urgent(self, p: Any) -> bool:
        """Shown even inside the 0.1 s throttle (the final report always is)."""
        return False

    def bar(self, fraction: float) -> str:
        filled = int(max(0.0, min(1.0, fraction)) * self.width)  # rounded down, as the percent is
        return f"{'#' * filled}{'.' * (self.width - filled)} {percent_text(fraction, 1):>6}"

    def __call__(self, p: Any) -> None:
        now = time.monotonic()
        if self.quiet or (now - self._last < 0.1 and not p.is_final and not self.urgent(p)):
            return
        self._last = now
        line = "\r" + self.line(p)
        self.stream.write(line.ljust(self._length))  # blank what a longer previous line left
        self.stream.flush()
        self._length = len(line)
        self._open = True

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
            self._length = 0
