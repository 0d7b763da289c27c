"""Input the model cannot use is never accepted silently (issue 11, item 5): the song panel says what
will be used, compose asks before dropping unknown names, and records what it used."""

from __future__ import annotations

import pytest

from jukestudio.gui.records import check_inputs
from tests.gui.fake_studio import fake_window


@pytest.fixture
def window(qtbot, audition, tmp_path):
    yield from fake_window(qtbot, audition, tmp_path / "proj", ready="vocabulary_ready")


def test_empty_fields_are_noted_before_composing(qtbot, window):
    notice = window.song.input_notice
    assert notice.isVisible()
    text = notice.text()
    assert "No artist" in text and "No genre" in text and "No lyrics" in text
    window.song.artist.setText("beck")
    window.song.genres.setText("rock")
    window.song.lyrics.set_text("la la")
    assert not notice.isVisible() and notice.text() == ""


def test_unknown_artist_asks_and_records_what_the_model_uses(qtbot, window, monkeypatch):
    window.song.artist.setText("zzz band")
    window.song.genres.setText("rock")
    window.song.lyrics.set_text("la la")
    assert "zzz band" in window.song.input_notice.text()
    asked = []
    monkeypatch.setattr(window, "confirm_inputs", lambda check: asked.append(check) or False)
    assert window.compose() is None  # "fix first": nothing queued
    assert window.jobs_model.jobs() == [] and "Not composed" in window.last_message
    assert asked[0].unknown == ["zzz band"]

    monkeypatch.setattr(window, "confirm_inputs", lambda check: True)
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        assert window.compose() is not None
    assert window.song.artist.text() == ""  # the field shows what was used …
    assert window.studio.song.artist == "unknown" and window.studio.song.genres == ["rock"]  # … and it is recorded


def test_the_real_vocabulary_names_unknown_artist_and_genres(qtbot):
    from jukestudio.gui.model_access import vocabulary_for
    from jukestudio.model.config import preset

    vocab = vocabulary_for(preset("demo"))
    fine = check_inputs(vocab, "ella fitzgerald", ["jazz"], "la")
    assert fine.unknown == [] and fine.notes == [] and fine.artist == "ella fitzgerald"
    bad = check_inputs(vocab, "nobody at all", ["zzzgenre"], "la")
    assert bad.unknown == ["nobody at all", "zzzgenre"] and bad.artist == "" and bad.genres == []
    too_many = check_inputs(vocab, "ella fitzgerald", ["jazz", "blues"], "la")  # the demo takes one genre
    assert too_many.genres == ["jazz"] and too_many.unknown == ["blues"]


def test_length_fields_follow_the_model_and_explain_it(qtbot, window):
    song = window.song
    song.total_seconds.setValue(5)  # the fake model's minimum is 12 s
    assert song.total_seconds.value() == 12.0
    assert "12–299.9 s" in song.length_notice.text()
    song.total_seconds.setValue(30)
    song.take_seconds.setValue(40)
    assert song.take_seconds.value() == 30.0
    song.take_seconds.setValue(20)
    song.total_seconds.setValue(15)
    assert song.take_seconds.value() == 15.0 and "shortened to 15 s" in song.length_notice.text()

    song.n_takes.setValue(1)
    song.take_seconds.setValue(10)
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        window.compose()
    take_id = window.takes.take_ids()[0]
    song.take_seconds.setValue(10)
    calls = len(window.studio.job_calls)
    assert window.continue_takes([take_id]) is None  # 10 s + 10 s ends after the 15 s song
    assert len(window.studio.job_calls) == calls and "after the song" in window.last_message
