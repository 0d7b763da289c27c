"""An instrumental model (no lyrics prior, like 5b or jukestudio-tiny) turns the lyrics editor off and says why."""

from __future__ import annotations

import pytest

from jukestudio.gui.model_access import INSTRUMENTAL_NOTE, vocabulary_for
from jukestudio.gui.widgets.song_panel import SongPanel
from jukestudio.model.config import preset
from jukestudio.train.presets import tiny


def test_the_lyrics_editor_is_off_for_an_instrumental_model_and_back_on_for_a_lyrics_model(qtbot):
    panel = SongPanel()
    qtbot.addWidget(panel)
    panel.lyrics.set_text("kept, not used")
    panel.set_vocabulary(vocabulary_for(tiny()))
    assert not panel.lyrics.isEnabled()
    assert INSTRUMENTAL_NOTE in panel.lyrics_label.text() and "instrumental" in panel.lyrics.toolTip()
    assert panel.lyrics.text() == "kept, not used"  # switching models loses nothing
    panel.set_vocabulary(vocabulary_for(preset("demo")))  # 1b_lyrics style: lyrics are read
    assert panel.lyrics.isEnabled() and panel.lyrics_label.text() == "Lyrics"


def test_a_first_run_window_installs_and_selects_the_bundled_model(qtbot, audition):
    from jukestudio.bundled_model import BUNDLED_NAME, bundled_dir
    from jukestudio.gui.main_window import MainWindow
    from jukestudio.gui.studio import Studio

    if bundled_dir() is None:
        pytest.skip("this build ships no bundled model")
    window = MainWindow(Studio(), audition)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.vocabulary_ready, timeout=60_000):
        window.show()
    assert window.song.model_combo.currentText() == BUNDLED_NAME
    assert "demo" not in [window.song.model_combo.itemText(i) for i in range(window.song.model_combo.count())]
    assert not window.song.lyrics.isEnabled()
    window.close()
