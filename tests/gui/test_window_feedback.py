"""Feedback that is never stale (issue 11, items 7 and 12): errors leave when resolved, information
fades, unfinished jobs get a banner that resumes them, closing during a job asks, and the window
says what to do first when there is nothing to show."""

from __future__ import annotations

import pytest

from jukestudio.gui import main_window as main_window_module
from jukestudio.gui.main_window import MainWindow
from tests.gui.fake_studio import FakeStudio, fake_window


@pytest.fixture
def window(qtbot, audition, tmp_path):
    yield from fake_window(qtbot, audition, tmp_path / "proj", ready="vocabulary_ready")


def test_the_choose_a_model_error_leaves_once_a_model_is_chosen(qtbot, window, monkeypatch):
    monkeypatch.setattr(window, "show_model_manager", lambda: None)
    window.song.set_models([], None)
    assert window.compose() is None
    assert "Choose a model first" in window.status.text()
    with qtbot.waitSignal(window.vocabulary_ready, timeout=5000):
        window.song.set_models([("fake", "complete")], "fake")
    assert window.status.text() == ""


def test_information_fades_but_errors_stay(qtbot, window, monkeypatch):
    window._fade.setInterval(50)
    window.show_message("Saved.")
    qtbot.waitUntil(lambda: window.status.text() == "", timeout=2000)
    window.show_message("Could not save", error=True)
    qtbot.wait(150)
    assert window.status.text() == "Could not save"


def test_unfinished_jobs_get_a_banner_that_resumes_them(qtbot, window, tmp_path):
    window.studio.block = True
    job_id = window.compose()
    qtbot.waitUntil(lambda: window.jobs_model.job(job_id).status == "running", timeout=5000)
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        window.cancel_job(job_id)
    window.studio.block = False
    assert window.open_project(tmp_path / "proj")
    assert window.banner.isVisible() and window.banner.resume_button.text() == "Resume 1 job"
    with qtbot.waitSignal(window.job_ended, timeout=5000) as ended:
        window.banner.resume_button.click()
    assert ended.args == [job_id, "done"] and not window.banner.isVisible()


@pytest.mark.parametrize("answer", ["keep", "later", "cancel"])
def test_closing_with_a_running_job_asks_first(qtbot, audition, tmp_path, monkeypatch, answer):
    w = MainWindow(FakeStudio(), audition)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.models_listed, timeout=10_000):
        w.show()
    w.new_project(tmp_path / "p")
    w.studio.block = True
    job_id = w.compose()
    qtbot.waitUntil(lambda: w.jobs_model.job(job_id).status == "running", timeout=5000)
    asked = []
    monkeypatch.setattr(main_window_module.MainWindow, "ask_close_with_jobs", lambda self, n: asked.append(n) or answer)
    requeued = []
    monkeypatch.setattr(w.studio, "requeue_interrupted", lambda ids: requeued.extend(ids) or ids)
    w.close()
    assert asked == [1]
    if answer == "keep":
        assert w.isVisible() and w.jobs_model.job(job_id).status == "running"
        w.studio.gate.set()
        qtbot.waitUntil(lambda: w.jobs_model.job(job_id).status == "done", timeout=5000)
        w.close()
    else:
        assert not w.isVisible()
        assert requeued == ([job_id] if answer == "later" else [])


def test_first_run_says_what_to_do_first(qtbot, audition):
    w = MainWindow(FakeStudio(), audition)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.models_listed, timeout=10_000):
        w.show()
    assert w.centre.currentWidget() is w.empty_state and "Compose takes" in w.empty_state.text()
    assert not w.waveform.isVisible()  # no axis from -400 to 400 ms, no playhead over nothing
    w.close()


def test_reopening_a_project_restores_the_last_selected_take(qtbot, audition, tmp_path):
    studio = FakeStudio()
    w = MainWindow(studio, audition)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.models_listed, timeout=10_000):
        w.show()
    w.new_project(tmp_path / "p")
    w.song.n_takes.setValue(3)
    with qtbot.waitSignal(w.job_ended, timeout=5000):
        w.compose()
    ids = w.takes.take_ids()
    w.takes.select(ids[2])
    qtbot.waitUntil(lambda: w.audition.take_id == ids[2], timeout=5000)
    w.close()
    again = MainWindow(studio, audition)  # the same project's takes, a fresh window
    qtbot.addWidget(again)
    again.show()
    assert again.open_project(tmp_path / "p")
    assert again.takes.current_id() == ids[2]
    qtbot.waitUntil(lambda: again.audition.take_id == ids[2], timeout=5000)
    again.close()


def test_new_project_drops_the_previous_projects_finished_jobs(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        window.compose()
    assert len(window.jobs_model.jobs()) == 1
    window.new_project(tmp_path / "next")
    assert window.jobs_model.jobs() == []
