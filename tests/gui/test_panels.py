"""Jobs panel model/view, the take tree and the transport bar."""

from __future__ import annotations

from PySide6.QtCore import Qt

from jukestudio.engine.progress import Progress
from jukestudio.gui.records import TakeItem
from jukestudio.gui.widgets.jobs_panel import JobsModel, JobsPanel, format_duration
from jukestudio.gui.widgets.takes_panel import TakesPanel
from jukestudio.gui.widgets.transport_bar import TransportBar


def _p(level: int, window: int, n: int, frac: float, eta: float | None) -> Progress:
    return Progress("j1", level, window, n, int(frac * 100), 100, 250.0, eta, frac)


def test_jobs_model_tracks_status_progress_and_honest_eta(qtbot):
    model = JobsModel()
    panel = JobsPanel(model)
    qtbot.addWidget(panel)
    model.add_job("j1", "Compose 2 takes", "compose")
    assert model.data(model.index(0, 1)) == "queued"
    model.update_progress("j1", _p(0, 0, 4, 0.1, None))
    assert model.data(model.index(0, 1)) == "running"
    assert model.data(model.index(0, 2)) == "Preview · part 1 of 4 · 10%"
    assert model.data(model.index(0, 4)) == "—"  # no ETA until the engine measured a speed
    model.update_progress("j1", _p(1, 2, 3, 0.6, 125.0))
    assert model.data(model.index(0, 2)) == "Middle · part 3 of 3 · 60%"
    # speed in audio, not tokens: 250 tokens/s × 32 samples/token at 44.1 kHz
    assert model.data(model.index(0, 3)) == "0.18× real time" and model.data(model.index(0, 4)) == "2:05"
    assert "tokens" in model.data(model.index(0, 2), Qt.ItemDataRole.ToolTipRole)  # the detail is in the tooltip
    model.set_status("j1", "cancelled", "cancelled: 2 windows kept")
    assert model.data(model.index(0, 2)) == "cancelled: 2 windows kept"
    assert model.data(model.index(0, 4)) == ""
    assert format_duration(3725) == "1:02:05"


def test_cancel_button_requests_the_selected_or_running_job(qtbot):
    model = JobsModel()
    panel = JobsPanel(model)
    qtbot.addWidget(panel)
    model.add_job("a", "A", "compose", "running")
    model.add_job("b", "B", "upsample", "queued")
    model.add_job("c", "C", "upsample", "done")
    with qtbot.waitSignal(panel.cancel_requested) as blocker:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)  # nothing selected: the running one
    assert blocker.args == ["a"]
    panel.table.selectRow(1)
    with qtbot.waitSignal(panel.cancel_requested) as blocker:
        panel.cancel_action.trigger()
    assert blocker.args == ["b"]
    panel.clear_button.click()
    assert [j.job_id for j in model.jobs()] == ["a", "b"]


def test_take_tree_nests_children_and_emits_actions(qtbot):
    panel = TakesPanel()
    qtbot.addWidget(panel)
    takes = [
        TakeItem("c1", "take 1.1", "t1", "coarse", 4.0),  # child listed before its parent
        TakeItem("t1", "take 1", None, "full", 2.0, rating=4),
        TakeItem("t2", "take 2", None, "level1", 2.0),
    ]
    panel.set_takes(takes)
    assert panel.topLevelItemCount() == 2
    top = panel.topLevelItem(0)
    assert top.text(0) == "take 1" and top.child(0).text(0) == "take 1.1"
    assert top.text(3) == "★★★★☆" and panel.badge("t2") == "Middle" and top.text(2) == "0:02.0"
    assert panel.siblings("t1") == ["t1", "t2"] and panel.siblings("c1") == ["c1"]
    with qtbot.waitSignal(panel.take_selected) as sel:
        panel.select("t2")
    assert sel.args == ["t2"]
    menu = panel.build_menu(["t2"])
    with qtbot.waitSignal(panel.action_requested) as act:
        next(a for a in menu.actions() if a.objectName() == "take_upsample").trigger()
    assert act.args == ["upsample", ["t2"]]
    with qtbot.waitSignal(panel.renamed) as ren:
        top.setText(0, "chorus idea")
    assert ren.args == ["t1", "chorus idea"]


def test_transport_bar_signals(qtbot):
    bar = TransportBar()
    qtbot.addWidget(bar)
    with qtbot.waitSignal(bar.play_toggled):
        bar.play_button.click()
    bar.loop_button.click()
    assert bar.loop_button.isChecked()
    with qtbot.waitSignal(bar.volume_changed) as vol:
        bar.volume.setValue(50)
    assert vol.args == [0.5]
    bar.set_position(61.5, 120)
    assert bar.position_label.text() == "1:01.50 / 2:00.00"
    bar.set_available(False, "no output device")
    assert "no output device" in bar.status_label.text()
