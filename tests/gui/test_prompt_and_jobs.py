"""The window's feedback around prompts and jobs (issue 11): the prompt chip, the jobs panel that
follows the running job, an honest status line, cancelled jobs that can be resumed."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from jukestudio.gui.main_window import MainWindow
from tests.gui.fake_studio import FakeStudio


@pytest.fixture
def window(qtbot, audition, tmp_path):
    w = MainWindow(FakeStudio(), audition)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.models_listed, timeout=10_000):
        w.show()
    assert w.new_project(tmp_path / "proj")
    yield w
    w.close()


def _load_prompt(qtbot, w: MainWindow, tmp_path) -> None:
    wav = tmp_path / "idea.wav"
    sf.write(wav, 0.2 * np.sin(np.linspace(0, 200, 44100)), 44100)
    with qtbot.waitSignal(w.prompt_loaded, timeout=5000):
        w.open_prompt(wav)


def test_the_prompt_chip_removes_the_prompt_by_button_and_by_key(qtbot, window, tmp_path):
    _load_prompt(qtbot, window, tmp_path)
    chip = window.song.prompt_chip
    assert chip.isVisible() and "idea.wav" in chip.label.text()
    assert window.song.compose_button.text() == "Compose from prompt"
    qtbot.mouseClick(chip.remove_button, Qt.MouseButton.LeftButton)
    assert not chip.isVisible() and window._prompt is None
    assert window.song.compose_button.text() == "Compose takes"
    assert window.audition.take_id is None and window.waveform.duration == 0.0
    with qtbot.waitSignal(window.take_loaded, timeout=5000):
        window.compose()
    assert window.studio.job_calls[-1][1]["prompt"] is None  # composed from silence

    _load_prompt(qtbot, window, tmp_path)
    chip.setFocus()
    qtbot.keyClick(chip, Qt.Key.Key_Escape)
    assert window._prompt is None and not chip.isVisible()
    _load_prompt(qtbot, window, tmp_path)
    chip.setFocus()
    qtbot.keyClick(chip, Qt.Key.Key_Delete)
    assert window._prompt is None


def test_new_and_open_project_clear_the_prompt(qtbot, window, tmp_path):
    _load_prompt(qtbot, window, tmp_path)
    assert window.new_project(tmp_path / "other")
    assert window._prompt is None and not window.song.prompt_chip.isVisible()
    assert window.song.compose_button.text() == "Compose takes"
    _load_prompt(qtbot, window, tmp_path)
    assert window.open_project(tmp_path / "proj")
    assert window._prompt is None and not window.song.prompt_chip.isVisible()
