"""The song panel's "Fast preview" checkbox round-trips with the project's fast_preview setting."""

from __future__ import annotations

from jukestudio.gui.widgets.song_panel import SongPanel
from jukestudio.project import ProjectSettings


def test_checkbox_round_trips_with_the_project_setting(qtbot) -> None:
    panel = SongPanel()
    qtbot.addWidget(panel)
    assert panel.settings().fast_preview is False
    changed = []
    panel.settings_changed.connect(lambda: changed.append(True))
    panel.fast_preview.setChecked(True)
    assert changed and panel.settings().fast_preview is True
    project = panel.settings()  # the panel edits the project's settings record itself
    assert isinstance(project, ProjectSettings) and project.fast_preview is True
    panel.set_settings(project.copy(fast_preview=False))
    assert not panel.fast_preview.isChecked()
    assert ProjectSettings.from_dict({"fast_preview": True}, "test").fast_preview is True
