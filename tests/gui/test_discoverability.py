"""Discoverability (issue 11, item 11): toolbar words beside icons, actions enabled by what is
selected, every shortcut (also Space, Home, L, 1–9) in a menu or tooltip, Save As and Rename."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolBar

from tests.gui.fake_studio import fake_window


@pytest.fixture
def window(qtbot, audition, tmp_path):
    yield from fake_window(qtbot, audition, tmp_path / "untitled-1")


def test_toolbar_shows_words_and_actions_follow_the_selection(qtbot, window):
    toolbar = window.findChild(QToolBar, "toolbar_main")
    assert toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    for action in (window.act_continue, window.act_upsample, window.act_export, window.act_cancel):
        assert not action.isEnabled()  # nothing selected, nothing running
    window.song.n_takes.setValue(1)
    window.studio.block = True
    window.compose()
    qtbot.waitUntil(window.act_cancel.isEnabled, timeout=5000)
    assert not window.act_continue.isEnabled()  # the selected row is a take still being composed
    with qtbot.waitSignal(window.take_loaded, timeout=5000):
        window.studio.gate.set()
    assert window.act_continue.isEnabled() and window.act_upsample.isEnabled() and window.act_export.isEnabled()
    assert not window.act_cancel.isEnabled() and not window.act_upsample_region.isEnabled()
    window.waveform.set_region(0.1, 0.5)
    assert window.act_upsample_region.isEnabled()


def test_every_shortcut_is_in_a_menu_or_tooltip(qtbot, window):
    assert "(Ctrl+Return)" in window.act_compose.toolTip()
    assert "(Ctrl+E)" in window.act_export.toolTip()
    hints = [a.text() for a in window.play_menu.actions()]
    assert any(t.endswith("\tSpace") for t in hints) and any(t.endswith("\tHome") for t in hints)
    assert any("\tL" in t for t in hints) and any("1 … 9" in t for t in hints)
    assert "(Space)" in window.transport.play_button.toolTip()


def test_save_as_and_rename_the_auto_created_project(qtbot, window, tmp_path):
    assert window.rename_project("Summer song")
    assert window.studio.project_dir == tmp_path / "Summer song" and "Summer song" in window.windowTitle()
    assert not (tmp_path / "untitled-1").exists()
    assert window.save_project_as(tmp_path / "copy")
    assert window.studio.project_dir == tmp_path / "copy"


def test_real_studio_save_as_and_rename(tmp_path):
    from jukestudio.gui.studio import Studio
    from jukestudio.project import ProjectSettings

    studio = Studio()
    studio.new_project(tmp_path / "untitled-1", ProjectSettings(model="demo"))
    studio.project.add_take(name="idea", duration_s=1.0)
    studio.save()
    new = studio.rename_project("Ballad")
    assert new == tmp_path / "Ballad" and [t.name for t in studio.takes()] == ["idea"]
    studio.save_as(tmp_path / "Ballad v2")
    assert studio.project_dir == tmp_path / "Ballad v2" and (tmp_path / "Ballad").is_dir()
    assert [t.name for t in studio.takes()] == ["idea"]
    with pytest.raises(ValueError):
        studio.rename_project("a/b")
    studio.close()
