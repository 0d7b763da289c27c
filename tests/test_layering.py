"""The layers below the GUI must never load Qt (they run headless on GPU boxes and in the CLI)."""

from __future__ import annotations

import subprocess
import sys

import pytest

QT_FREE = [
    "jukestudio.model",
    "jukestudio.engine",
    "jukestudio.audio",
    "jukestudio.project",
    "jukestudio.hub",
    "jukestudio.cli.main",
]


@pytest.mark.parametrize("package", QT_FREE)
def test_importing_core_package_does_not_load_qt(package: str) -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for info in pkgutil.walk_packages(getattr(pkg, '__path__', []), pkg.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')"
        " or m.startswith('jukestudio.gui'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{package} pulled in Qt/GUI modules: {result.stdout.strip()}"


def test_gui_package_does_load_qt_when_asked() -> None:
    """Guards the guard: the check above would notice Qt if it were imported."""
    code = "import sys, jukestudio.gui.app as a; from PySide6 import QtCore; print('PySide6' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "True", result.stderr
