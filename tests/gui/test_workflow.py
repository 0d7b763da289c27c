"""The issue's acceptance workflow on the real layers (demo model, CPU), driven through the window:
type lyrics, pick artist and genre, compose 2 takes, audition (fake audio output), A/B switch,
continue, upsample, export a WAV that reads back at 44.1 kHz with the right length, save, reopen,
undo a delete. Takes are 0.1 s so the file stays fast on two cores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from jukestudio.audio.export import sidecar_path_for
from jukestudio.gui.main_window import MainWindow
from jukestudio.gui.settings import app_settings
from jukestudio.gui.studio import Studio

SR = 44100
TAKE_S = 0.1
JOB_TIMEOUT_MS = 120_000


@pytest.fixture
def demo_model():
    Studio().ensure_demo_model()
    app_settings().setValue("model/current", "demo")  # the window picks the bundled model otherwise


def _window(qtbot, audition) -> MainWindow:
    window = MainWindow(Studio(), audition)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.vocabulary_ready, timeout=30_000):
        window.show()
    return window


def _wait_job(qtbot, window: MainWindow, start) -> str:
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        job_id = start()
    assert ended.args == [job_id, "done"], window.last_message
    return job_id


def _pick(qtbot, picker, typed: str, choice: str) -> None:
    picker.setFocus()
    qtbot.keyClicks(picker, typed)
    popup = picker.completer().popup()
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    names = picker.completer_model().stringList()
    popup.setCurrentIndex(popup.model().index(names.index(choice), 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)


def test_compose_audition_continue_upsample_export_save_reopen_undo(qtbot, demo_model, audition, fake_output, tmp_path):
    window = _window(qtbot, audition)
    assert window.song.model_combo.currentText() == "demo"
    assert window.new_project(tmp_path / "song")

    # the song panel, typed like a user
    window.song.lyrics.editor.setFocus()
    qtbot.keyClicks(window.song.lyrics.editor, "summertime and the living is easy")
    _pick(qtbot, window.song.artist, "ella fitz", "ella fitzgerald")
    _pick(qtbot, window.song.genres, "jaz", "jazz")
    assert window.song.artist.unknown() == [] and window.song.genres.unknown() == []
    window.song.total_seconds.setValue(60)
    window.song.take_seconds.setValue(TAKE_S)
    window.song.n_takes.setValue(2)

    # compose 2 takes: the first one's coarse preview is decoded and loaded at once
    with qtbot.waitSignal(window.take_loaded, timeout=JOB_TIMEOUT_MS):
        _wait_job(qtbot, window, window.compose)
    roots = window.takes.take_ids()
    assert len(roots) == 2 and all(window.takes.badge(t) == "Preview" for t in roots)
    take_len = window.studio.project.take(roots[0]).duration_s
    assert take_len == pytest.approx(TAKE_S, abs=128 / SR)
    assert window.waveform.duration == pytest.approx(take_len)
    words = window.studio.alignment(roots[0])  # lyric words laid along the time axis
    assert words and all(w in ["summertime", "and", "the", "living", "is", "easy"] for _s, _e, w in words)
    assert len(window.waveform._word_items) == len(window.studio.alignment(window.audition.take_id))
    seed = window.song.seed.value()
    assert window.studio.project.take(roots[0]).seed == seed  # the random seed is shown and kept

    # "restore its settings": the take's own lyrics, artist, lengths and seed come back
    window.song.lyrics.set_text("something else entirely")
    window.takes.action_requested.emit("restore", [roots[0]])
    assert window.song.lyrics.text() == "summertime and the living is easy"
    assert window.song.seed.value() == seed and not window.song.seed_random.isChecked()
    window.song.seed_random.setChecked(True)

    # audition through the real transport into a fake output, then A/B with key 2
    window.takes.setFocus()
    qtbot.keyClick(window.takes, Qt.Key.Key_Space)
    stream = fake_output.streams[-1]
    stream.pump(2)
    first = window.studio.take_audio(roots[0])
    played = np.concatenate(stream.played)
    assert np.allclose(played, first[: len(played)] * window.audition.transport.volume)
    position = window.audition.position_s
    with qtbot.waitSignal(window.take_loaded, timeout=10_000) as loaded:
        qtbot.keyClick(window.takes, Qt.Key.Key_2)
    assert loaded.args == [roots[1]] and window.audition.position_s == pytest.approx(position)
    qtbot.keyClick(window.takes, Qt.Key.Key_Home)

    # continue take 1 by 0.1 s (one variation), then upsample take 1 to full quality
    window.song.n_takes.setValue(1)
    _wait_job(qtbot, window, lambda: window.continue_takes([roots[0]], TAKE_S))
    children = [t for t in window.takes.take_ids() if window.takes.take(t).parent_id == roots[0]]
    assert len(children) == 1
    assert window.studio.project.take(children[0]).duration_s == pytest.approx(2 * take_len)
    _wait_job(qtbot, window, lambda: window.upsample([roots[0]]))
    assert window.takes.badge(roots[0]) == "Full quality"
    assert set(window.studio.level_spans(roots[0])) == {0, 1, 2}

    # export a WAV: 44.1 kHz, the take's length, with the reproducibility sidecar
    wav = tmp_path / "out" / "take1.wav"
    with qtbot.waitSignal(window.message_shown, timeout=30_000, check_params_cb=lambda t, _k: "Exported" in t):
        window.export_take(roots[0], wav, "PCM_24")
    data, rate = sf.read(wav)
    assert rate == SR and len(data) == round(take_len * SR)
    side = json.loads(sidecar_path_for(wav).read_text())
    assert side["model"] == "demo" and side["artist"] == "ella fitzgerald" and seed in side["seeds"]

    # save, close, reopen in a new window: same tree; delete a take and undo it
    assert window.save_project()
    before = window.takes.take_ids()
    folder = window.studio.project_dir
    window.close()
    again = _window(qtbot, audition)
    assert again.open_project(folder)
    assert again.takes.take_ids() == before
    assert again.song.lyrics.text() == "summertime and the living is easy"
    assert again.song.artist.text() == "ella fitzgerald"
    again.delete_takes([roots[1]])
    assert roots[1] not in again.takes.take_ids()
    again.act_undo.trigger()
    assert again.takes.take_ids() == before
    again.close()


def test_export_report_names_clipping_and_gain():
    from jukestudio.audio.export import ExportReport

    report = ExportReport("/x/take.wav", None, "PCM_16", SR, SR * 2, 1.5, -4.5, 441)
    assert Studio().describe_export(report) == (
        "Exported take.wav to /x (2.00 s, 16-bit), normalised by -4.5 dB; 441 samples clipped (0.50%)."
    )
