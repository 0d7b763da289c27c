"""Frozen entry point of the window, ``jukestudio`` (``jukestudio.exe``) in the PyInstaller bundle."""

import multiprocessing

from jukestudio.gui.app import main

if __name__ == "__main__":
    # A frozen program is its own interpreter: any multiprocessing child re-enters here and must stop.
    multiprocessing.freeze_support()
    raise SystemExit(main())
