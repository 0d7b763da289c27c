"""Model manager on the real store: demo model, HF import with progress, verify, remove; the song
panel's pickers and lyric flags follow the chosen model's vocabulary."""

from __future__ import annotations

import pytest

from jukestudio.gui.settings import app_settings
from jukestudio.gui.studio import Studio
from jukestudio.gui.widgets.model_manager import PARTS, ModelManagerDialog
from tests.conftest import ORIG_TINY


def _run(qtbot, dialog: ModelManagerDialog, start) -> str:
    with qtbot.waitSignal(dialog.operation_ended, timeout=60_000) as ended:
        op_id = start()
    assert ended.args[0] == op_id
    return ended.args[1]


def _row(dialog: ModelManagerDialog, name: str) -> list[str]:
    for row in range(dialog.table.rowCount()):
        if dialog.table.item(row, 0).text() == name:
            return [dialog.table.item(row, c).text() for c in range(dialog.table.columnCount())]
    raise AssertionError(f"{name} not listed")


@pytest.fixture
def dialog(qtbot):
    d = ModelManagerDialog(Studio())
    qtbot.addWidget(d)
    yield d
    d.runner.shutdown()


def test_import_verify_and_remove_a_hugging_face_folder(qtbot, dialog):
    fractions: list[float] = []
    dialog.runner.worker.progressed.connect(lambda _id, p: fractions.append(p.fraction))
    assert _run(qtbot, dialog, lambda: dialog.import_paths([ORIG_TINY / "tiny" / "hf_model"], "tiny")) == "done"
    assert fractions and fractions[-1] == 1.0
    row = _row(dialog, "tiny")
    assert row[3:] == ["✓"] * len(PARTS)
    dialog.table.selectRow(0)
    assert _run(qtbot, dialog, dialog.verify_selected) == "done"
    assert dialog.last_result == [] and "intact" in dialog.status.text()
    with qtbot.waitSignal(dialog.models_changed, timeout=5000):
        dialog.remove_selected()
    assert dialog.table.rowCount() == 0


def test_a_bad_import_shows_the_store_error(qtbot, dialog, tmp_path):
    (tmp_path / "empty").mkdir()
    assert _run(qtbot, dialog, lambda: dialog.import_paths([tmp_path / "empty"])) == "failed"
    assert str(tmp_path / "empty") in dialog.status.text() or "empty" in dialog.status.text()


def test_demo_model_is_labelled_and_drives_the_song_panel(qtbot, dialog, audition):
    from jukestudio.gui.main_window import MainWindow

    assert _run(qtbot, dialog, dialog.add_demo) == "done"  # tests only: the window offers no demo button
    assert "random weights" in _row(dialog, "demo")[1]
    app_settings().setValue("model/current", "demo")
    window = MainWindow(Studio(), audition)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.vocabulary_ready, timeout=30_000):
        window.show()
    assert window.song.model_combo.currentText() == "demo"
    assert "random weights" in window.song.model_status.text()
    window.song.artist.setFocus()
    qtbot.keyClicks(window.song.artist, "ella fitz")
    assert window.song.artist.completer_model().stringList()[0] == "ella fitzgerald"  # v3 table of the 1b-style top
    assert window.song.genres.max_items == 1  # v3: one genre
    window.song.genres.setText("no such genre")
    assert window.song.genres.unknown() == ["no such genre"]
    window.song.lyrics.set_text("hello ☃ world")
    assert window.song.lyrics.highlighter.positions == [6]
    window.close()


def test_manager_shows_every_column_and_needs_a_selection_to_verify_or_remove(qtbot, dialog):
    _run(qtbot, dialog, dialog.add_demo)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.table.clearSelection()
    assert not dialog.verify_button.isEnabled() and not dialog.remove_button.isEnabled()
    last = dialog.table.columnCount() - 1
    right = dialog.table.columnViewportPosition(last) + dialog.table.columnWidth(last)
    assert right <= dialog.table.viewport().width()  # the last column is not cut off
    assert dialog.table.columnWidth(last) >= dialog.table.horizontalHeader().sectionSizeHint(last)
    dialog.table.selectRow(0)
    assert dialog.verify_button.isEnabled() and dialog.remove_button.isEnabled()


def test_genre_picker_shows_names_that_differ_only_by_invisible_marks_once():
    from jukestudio.gui.model_access import distinct_names, vocabulary_for
    from jukestudio.model import vocab
    from jukestudio.model.config import preset

    shown = vocabulary_for(preset("demo")).search_genres("jazz", 50)
    assert shown.count("jazz") == 1 and "jazz\u200e" not in shown
    assert distinct_names(["jazz", "jazz\u200e", "jazz fusion\u200e", "jazz fusion"]) == ["jazz", "jazz fusion\u200e"]
    table = vocab.genre_table("v3")
    assert table.get("jazz") != table.get("jazz\u200e")  # both ids are kept in the table
