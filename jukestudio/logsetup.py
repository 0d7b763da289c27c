"""The one logging set-up: a rotating file in the log folder plus the console."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from jukestudio import paths

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_configured = False


def setup_logging(level: int = logging.INFO, *, console: bool = True, log_file: Path | None = None) -> Path:
    """Configure the root logger once; returns the log file's path."""
    global _configured
    target = log_file or paths.log_dir() / "jukestudio.log"
    if _configured:
        return target
    root = logging.getLogger()
    root.setLevel(level)
    file_handler = logging.handlers.RotatingFileHandler(target, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        stream.setLevel(max(level, logging.WARNING))
        root.addHandler(stream)
    _configured = True
    return target
