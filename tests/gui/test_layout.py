"""The window at laptop and desktop sizes (issue 11, item 8): it fits 1024×700, number fields are never
narrower than their digits, the jobs panel keeps three rows however it is squeezed."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox

from jukestudio.gui.main_window import MainWindow
from tests.gui.fake_studio import FakeStudio


@pytest.fixture
def window(qtbot, audition):
    w = MainWindow(FakeStudio(), audition)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.models_listed, timeout=10_000):
        w.show()
    w.transport.set_available(False, "the PortAudio library could not be loaded (PortAudio library not found)")
    yield w
    w.close()


@pytest.mark.parametrize("size", [(1024, 700), (1366, 768), (1920, 1080)])
def test_the_window_fits_and_nothing_is_clipped(qtbot, window, size):
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=2000)
    qtbot.wait(20)
    for box in window.song.findChildren(QAbstractSpinBox):
        assert box.width() >= box.minimumSizeHint().width(), box.toolTip()
        assert box.width() >= box.sizeHint().width() - 2, box.toolTip()  # every digit shows
    row = window.jobs.table.verticalHeader().defaultSectionSize()
    assert window.jobs.table.viewport().height() >= 3 * row - 2
    assert window.centre.width() >= 300 and window.centre.height() >= 150
    assert window.song.compose_button.isVisible()
    from jukestudio.gui.records import TakeItem

    window.takes.set_takes([TakeItem("t", "Take 1", None, "partial", 8.0, 4, "Full 3.2–3.8 s")])
    assert window.takes.columnWidth(0) >= 85  # a long badge never squeezes the take's name away


def test_the_jobs_panel_cannot_be_squeezed_to_nothing(qtbot, window):
    window.resize(1024, 700)
    window.resizeDocks([window.docks["jobs"]], [20], Qt.Orientation.Vertical)
    qtbot.wait(20)
    row = window.jobs.table.verticalHeader().defaultSectionSize()
    assert window.jobs.table.viewport().height() >= 3 * row - 2
