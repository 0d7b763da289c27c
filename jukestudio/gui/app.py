"""Start the workstation window (the `jukestudio` gui-script and `python -m jukestudio`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    from jukestudio.logsetup import setup_logging

    setup_logging()
    app = QApplication(list(argv if argv is not None else sys.argv))
    label = QLabel("jukestudio")
    label.show()
    return app.exec()
