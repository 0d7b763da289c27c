"""One musician vocabulary in the window (issue 11, item 10): Preview / Middle / Full quality, bit
depths in words, labelled temperature boxes, no engine ids or token counts in what is shown."""

from __future__ import annotations

from PySide6.QtCore import Qt

from jukestudio.engine.progress import Progress
from jukestudio.gui.model_access import model_entry
from jukestudio.gui.widgets.export_dialog import ExportDialog
from jukestudio.gui.widgets.jobs_panel import JobsModel
from jukestudio.gui.widgets.song_panel import SongPanel
from jukestudio.gui.widgets.takes_panel import BADGES
from jukestudio.gui.widgets.waveform import WaveformView

FORBIDDEN = ("top", "level 0", "level 1", "coarse", "tok/s", "token", "PCM_", "window ")


def _clean(text: str) -> bool:
    return not any(word in text for word in FORBIDDEN)


def test_every_place_uses_the_quality_words(qtbot):
    view = WaveformView()
    qtbot.addWidget(view)
    view.set_level_progress({0: 1.0, 1: 0.5, 2: 0.2})
    labels = [view._markers[level].label.toPlainText() for level in range(3)]
    assert labels == ["Preview", "Middle", "Full quality"]
    assert [BADGES[s][0] for s in ("coarse", "level1", "full")] == ["Preview", "Middle", "Full quality"]

    model = JobsModel()
    model.add_job("j", "Compose 2 take(s), 4 s", "compose")
    model.update_progress("j", Progress("j", 2, 0, 4, 10, 100, 300.0, 12.0, 0.1))
    shown = [model.data(model.index(0, c)) or "" for c in range(5)]
    assert all(_clean(text) for text in shown), shown
    assert "Full quality" in shown[2]


def test_temperatures_are_labelled_and_bit_depths_are_words(qtbot):
    panel = SongPanel()
    qtbot.addWidget(panel)
    assert [label.text() for label in panel.temp_labels] == ["Preview", "Middle", "Full"]
    assert all(label.buddy() is box for label, box in zip(panel.temp_labels, panel.temps, strict=True))
    dialog = ExportDialog(None, "/tmp/x.wav")
    qtbot.addWidget(dialog)
    items = [dialog.subtype.itemText(i) for i in range(dialog.subtype.count())]
    assert items == ["16-bit", "24-bit", "32-bit float"] and dialog.subtype.currentData() == "PCM_16"


def test_model_parts_and_resumed_jobs_in_words():
    class Info:
        name, problem, untrained, preset = "m", "", False, "5b"
        components = ("vqvae", "prior_0")

    entry = model_entry(Info())
    assert "Full-quality upsampler" in entry.status and entry.usable
    assert "level 0" not in entry.status


def test_resumed_job_label_names_no_engine_id(tmp_path):
    from jukestudio.engine.state import JobRecord
    from jukestudio.gui.studio import Studio

    studio = Studio()
    record = JobRecord("compose-20260101-abcdef", "compose", "queued", "", "", ["a", "b"], "", tmp_path, {})
    spec = studio._resume_spec(record, record.id)
    assert spec.label == "Resume: Compose (2 takes)" and "abcdef" not in spec.label


def test_tooltips_keep_the_technical_detail(qtbot):
    model = JobsModel()
    model.add_job("j", "Compose", "compose")
    model.update_progress("j", Progress("j", 0, 1, 4, 10, 100, 300.0, 12.0, 0.1))
    tip = model.data(model.index(0, 2), Qt.ItemDataRole.ToolTipRole)
    assert "top prior" in tip and "window 2/4" in tip
