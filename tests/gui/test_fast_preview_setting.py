"""The song panel's "Fast preview" checkbox round-trips with the project's fast_preview setting."""

from __future__ import annotations

from jukestudio.gui.records import SongSettings
from jukestudio.gui.song_panel import SongPanel
from jukestudio.gui.studio import to_project_settings, to_song_settings
from jukestudio.project import ProjectSettings


def test_checkbox_round_trips_with_the_project_setting(qtbot) -> None:
    panel = SongPanel()
    qtbot.addWidget(panel)
    assert panel.settings().fast_preview is False
    changed = []
    panel.settings_changed.connect(lambda: changed.append(True))
    panel.fast_preview.setChecked(True)
    assert changed and panel.settings().fast_preview is True
    project = to_project_settings(panel.settings(), ProjectSettings())
    assert project.fast_preview is True
    panel.set_settings(to_song_settings(project.copy(fast_preview=False)))
    assert not panel.fast_preview.isChecked()
    assert SongSettings.from_dict({"fast_preview": True}).fast_preview is True
