"""An instrumental model (no lyrics prior, like 5b or jukestudio-tiny) turns the lyrics editor off and says why."""

from __future__ import annotations

from jukestudio.gui.model_access import INSTRUMENTAL_NOTE, vocabulary_for
from jukestudio.gui.song_panel import SongPanel
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
