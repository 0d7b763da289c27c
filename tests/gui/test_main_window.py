"""The window's wiring on an in-memory Studio: compose, audition, A/B keys, cancel, failure, drop, undo,
state restore. (The same workflow on the real model is in test_workflow.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from jukestudio.gui.main_window import MainWindow
from jukestudio.gui.settings import settings_file
from tests.gui.fake_studio import FakeStudio

SR = 44100


@pytest.fixture
def window(qtbot, audition, tmp_path):
    studio = FakeStudio()
    w = MainWindow(studio, audition)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.models_listed, timeout=10_000):
        w.show()
    assert w.new_project(tmp_path / "proj")
    yield w
    w.close()


def _drop(window: MainWindow, path) -> bool:
    """What the OS does when a file is dragged onto the window: DragEnter, then Drop (QMimeData urls)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPointF(50, 50), *args)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(50, 50), *args)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()


def _compose(qtbot, w: MainWindow, n: int = 2, seconds: float = 1.0) -> list[str]:
    w.song.n_takes.setValue(n)
    w.song.take_seconds.setValue(seconds)
    with qtbot.waitSignal(w.take_loaded, timeout=5000):
        job_id = w.compose()
    assert w.jobs_model.job(job_id).status == "done"
    return w.takes.take_ids()


def test_window_has_the_docks_and_restores_its_state(qtbot, tmp_path, audition):
    w = MainWindow(FakeStudio(), audition)
    qtbot.addWidget(w)
    w.show()
    assert set(w.docks) == {"song", "takes", "transport", "jobs"}
    w.resize(640, 480)
    w.docks["jobs"].hide()
    w.transport.volume.setValue(33)
    w.close()
    assert settings_file().exists()  # under JUKESTUDIO_HOME, not the user's real settings
    again = MainWindow(FakeStudio(), audition)
    qtbot.addWidget(again)
    again.show()
    assert again.size().width() == 640 and again.docks["jobs"].isHidden()
    assert again.transport.volume.value() == 33
    again.close()


def test_compose_audition_and_ab_switch_keep_the_playhead(qtbot, window, fake_output):
    ids = _compose(qtbot, window, n=2, seconds=1.0)
    assert len(ids) == 2 and window.audition.take_id == ids[0]
    assert window.waveform.duration == pytest.approx(1.0)
    assert window.studio.job_calls[0][1]["seed"] == window.song.seed.value()  # the seed used is shown

    window.takes.setFocus()
    qtbot.keyClick(window.takes, Qt.Key.Key_Space)
    assert window.audition.playing
    stream = fake_output.streams[-1]
    stream.pump(20)  # 20 blocks of 1024 samples through the real transport callback
    played = np.concatenate(stream.played)
    assert np.allclose(played, window.studio.audio[ids[0]][: len(played)] * window.audition.transport.volume)
    position = window.audition.position_s
    assert position == pytest.approx(20 * 1024 / SR)

    with qtbot.waitSignal(window.take_loaded, timeout=5000) as loaded:
        qtbot.keyClick(window.takes, Qt.Key.Key_2)
    assert loaded.args == [ids[1]]
    assert window.audition.take_id == ids[1] and window.audition.playing
    assert window.audition.position_s == pytest.approx(position)  # A/B keeps the playhead
    stream.played.clear()
    stream.pump(1)
    start = round(position * SR)
    expected = window.studio.audio[ids[1]][start : start + 1024] * window.audition.transport.volume
    assert np.allclose(stream.played[0], expected)
    qtbot.keyClick(window.takes, Qt.Key.Key_Home)
    assert not window.audition.playing and window.audition.position_s == 0.0


def test_space_in_the_lyrics_editor_types_a_space(qtbot, window):
    _compose(qtbot, window, n=1)
    window.song.lyrics.editor.setFocus()
    qtbot.keyClicks(window.song.lyrics.editor, "la la")
    assert window.song.lyrics.text() == "la la" and not window.audition.playing


def test_click_on_the_waveform_seeks_and_loop_follows_the_region(qtbot, window):
    _compose(qtbot, window, n=1, seconds=2.0)
    vb = window.waveform.getPlotItem().vb
    point = window.waveform.mapFromScene(vb.mapViewToScene(QPointF(1.5, 0.0)))
    qtbot.mouseClick(window.waveform.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert window.audition.position_s == pytest.approx(1.5, abs=0.05)
    window.waveform.set_region(0.5, 1.0)
    qtbot.keyClick(window.takes, Qt.Key.Key_L)
    assert window.audition.transport.loop == (int(0.5 * SR), int(1.0 * SR))


def test_cancel_a_running_job_marks_it_cancelled(qtbot, window):
    window.studio.block = True
    job_id = window.compose()
    qtbot.waitUntil(lambda: window.jobs_model.job(job_id).status == "running", timeout=5000)
    with qtbot.waitSignal(window.job_ended, timeout=5000) as ended:
        window.jobs.cancel_button.click()
    assert ended.args == [job_id, "cancelled"]
    row = window.jobs_model.job(job_id)
    assert row.status == "cancelled" and "cancelled" in row.message
    assert "cancelled" in window.last_message.lower()


def test_a_failing_job_shows_its_message(qtbot, window):
    window.studio.fail_with = "CUDA out of memory. Tried to allocate 3 GiB"
    with qtbot.waitSignal(window.job_ended, timeout=5000) as ended:
        job_id = window.compose()
    assert ended.args == [job_id, "failed"]
    row = window.jobs_model.job(job_id)
    assert row.status == "failed" and row.message.startswith("Out of memory")
    assert window.last_message.startswith("Job failed: Out of memory")
    assert window.status.text() == window.last_message


def test_drop_a_wav_and_compose_from_it(qtbot, window, tmp_path):
    wav = tmp_path / "idea.wav"
    sf.write(wav, 0.2 * np.sin(np.linspace(0, 200, 22050)), 22050)  # 1 s at 22.05 kHz
    with qtbot.waitSignal(window.prompt_loaded, timeout=5000):
        assert _drop(window, wav)
    assert window.waveform.duration == pytest.approx(1.0, abs=1e-3)  # resampled to 44.1 kHz
    window.waveform.set_region(0.25, 0.75)  # trim the prompt
    with qtbot.waitSignal(window.take_loaded, timeout=5000):
        window.compose()
    prompt = window.studio.job_calls[-1][1]["prompt"]
    assert prompt is not None and len(prompt) == pytest.approx(0.5 * SR, abs=2)


def test_undo_a_delete_and_autosave(qtbot, window):
    ids = _compose(qtbot, window, n=2)
    window.takes.select(ids[1])
    window.delete_takes([ids[1]])
    assert window.takes.take_ids() == [ids[0]]
    window.act_undo.trigger()
    assert window.takes.take_ids() == ids
    window.studio.dirty = True
    window.autosave()
    assert window.studio.saved >= 1 and not window.studio.dirty


def test_unusable_drop_is_refused(qtbot, window, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hi")
    assert not _drop(window, text)


def test_compose_without_a_model_opens_the_model_manager(qtbot, tmp_path, audition, monkeypatch):
    from jukestudio.gui.studio import Studio
    from jukestudio.model.weights import bundled

    monkeypatch.setattr(bundled, "bundled_dir", lambda: None)  # a build that ships no jukestudio-tiny
    w = MainWindow(Studio(), audition)  # a fresh home: no model installed
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.models_listed, timeout=30_000) as listed:
        w.show()
    assert listed.args == [0]
    assert w.compose() is None
    assert "Choose a model first" in w.last_message
    assert w.model_manager is not None and w.model_manager.isVisible()
    w.close()
