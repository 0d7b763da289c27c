"""The window's feedback around prompts and jobs (issue 11): the prompt chip, the jobs panel that
follows the running job, an honest status line, cancelled jobs that can be resumed."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from jukestudio.gui.main_window import MainWindow
from tests.gui.fake_studio import fake_window


@pytest.fixture
def window(qtbot, audition, tmp_path):
    yield from fake_window(qtbot, audition, tmp_path / "proj")


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


def test_the_running_job_stays_in_sight_and_the_status_line_says_it_runs(qtbot, window):
    window.resize(1024, 700)
    for i in range(30):  # a long history of finished jobs fills the panel
        window.jobs_model.add_job(f"old-{i}", f"Compose {i}", "compose", "done")
    window.studio.block = True
    job_id = window.compose()
    qtbot.waitUntil(lambda: window.jobs_model.job(job_id).status == "running", timeout=5000)
    qtbot.waitUntil(lambda: window.jobs_model.job(job_id).fraction > 0, timeout=5000)
    assert window.jobs.row_visible(job_id)
    assert window.status.text().startswith("Running:")
    window.jobs.table.scrollToTop()  # the user looks at old rows; the next progress brings it back
    assert not window.jobs.row_visible(job_id)
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        window.studio.gate.set()
    assert window.jobs.row_visible(job_id)


def test_a_cancelled_job_with_finished_parts_resumes_from_its_row_and_the_take_menu(qtbot, window):
    window.studio.block = True
    job_id = window.compose()
    qtbot.waitUntil(lambda: window.jobs_model.job(job_id).fraction >= 0.2, timeout=5000)
    qtbot.wait(50)  # the fake's first step finished
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        window.jobs.cancel_button.click()
    row = window.jobs_model.job(job_id)
    assert row.status == "cancelled" and row.resumable and "Resume" in window.last_message
    assert "token" not in window.last_message
    assert window.jobs.resume_button.isEnabled() is False  # nothing selected yet
    window.jobs.table.selectRow(window.jobs_model.row_of(job_id))
    assert window.jobs.resume_button.isEnabled()
    window.studio.block = False
    with qtbot.waitSignal(window.job_ended, timeout=5000) as ended:
        window.jobs.resume_button.click()
    assert ended.args == [job_id, "done"]
    assert window.jobs_model.job(job_id).status == "done" and len(window.jobs_model.jobs()) == 1
    assert window.takes.take_ids()  # the resumed job finished its takes

    window.studio.block = True
    second = window.compose()
    qtbot.waitUntil(lambda: window.jobs_model.job(second).fraction >= 0.2, timeout=5000)
    qtbot.wait(50)
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        window.cancel_job(second)
    window.studio.block = False
    with qtbot.waitSignal(window.job_ended, timeout=5000) as ended:
        window.act_resume.trigger()  # Take ▸ Resume jobs offers the cancelled one too
    assert ended.args == [second, "done"]
