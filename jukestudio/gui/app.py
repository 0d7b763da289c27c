"""Start the workstation window (the `jukestudio` gui-script and `python -m jukestudio`).

Start-up stays light: torch and the model code are imported only when a job, a decode or a model
import first needs them (on a background thread), so the window shows fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jukestudio", description="The Jukebox composing workstation.")
    parser.add_argument("project", nargs="?", type=Path, help="a project folder to open")
    parser.add_argument("--prompt", type=Path, help="an audio file to use as the prompt")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def create_window(project: Path | None = None, reopen_last: bool = True):
    """Build the main window (a QApplication must exist); opens ``project`` or the last one."""
    from jukestudio.gui.main_window import MainWindow

    window = MainWindow()
    if project is not None:
        window.open_project(project)
    elif reopen_last:
        last = window.settings.value("projects/last", "", type=str)
        if last and (Path(last) / "project.json").exists():
            window.open_project(Path(last))
    return window


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else sys.argv[1:])
    from PySide6.QtWidgets import QApplication

    from jukestudio.logsetup import setup_logging

    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "jukestudio"])
    app.setApplicationName("jukestudio")
    app.setOrganizationName("jukestudio")
    from jukestudio.gui.theme import apply_dark_theme

    apply_dark_theme(app)
    window = create_window(args.project)
    if args.prompt is not None:
        window.open_prompt(args.prompt)
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
