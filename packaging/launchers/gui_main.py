"""Frozen entry point of the window, ``jukestudio`` (``jukestudio.exe``) in the PyInstaller bundle."""

import multiprocessing
import os
import sys

from jukestudio.gui.app import main

if __name__ == "__main__":
    # A frozen program is its own interpreter: any multiprocessing child re-enters here and must stop.
    multiprocessing.freeze_support()
    # A windowed Windows program has no console: sys.stdout/stderr are None, and a library that
    # prints (a progress bar, a warning) would crash the app. Send such output nowhere instead.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    raise SystemExit(main())
