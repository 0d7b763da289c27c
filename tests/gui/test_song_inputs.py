"""Lyrics highlighting from a list of dropped positions, length hints, and searchable pickers."""

from __future__ import annotations

from PySide6.QtCore import Qt

from jukestudio.gui.widgets.lyrics import LyricsEditor, length_hint
from jukestudio.gui.widgets.pickers import SearchPicker

NAMES = ["the beatles", "the beach boys", "beck", "blur", "bob dylan"]


def _search(query: str, limit: int) -> list[str]:
    return [n for n in NAMES if query.lower() in n][:limit]


def test_lyrics_editor_flags_the_positions_the_checker_returns(qtbot):
    editor = LyricsEditor()
    qtbot.addWidget(editor)
    editor.set_checker(lambda text: [i for i, ch in enumerate(text) if ch in "@#"])
    with qtbot.waitSignal(editor.checked, timeout=2000) as blocker:
        qtbot.keyClicks(editor.editor, "la @la")
        qtbot.keyClick(editor.editor, Qt.Key.Key_Return)
        qtbot.keyClicks(editor.editor, "second # line")
    assert blocker.args[0] == 2
    assert editor.highlighter.positions == [3, 14]  # "la @la\nsecond # line"
    # the formats really land on those characters, in the right blocks
    doc = editor.editor.document()
    first, second = doc.firstBlock(), doc.firstBlock().next()
    fmt_ranges = [(r.start, r.length) for r in first.layout().formats()]
    assert fmt_ranges == [(3, 1)]
    assert [(r.start, r.length) for r in second.layout().formats()] == [(14 - second.position(), 1)]
    assert "2 characters" in editor.status.text()


def test_length_hint_for_long_and_short_lyrics(qtbot):
    assert length_hint("x" * 1000, 20).startswith("Long for 20 s")
    assert length_hint("la la", 60).startswith("Short for 60 s")
    assert length_hint("a verse of a normal length for ten seconds here.", 5) == ""
    editor = LyricsEditor()
    qtbot.addWidget(editor)
    editor.set_song_seconds(10)
    editor.set_text("word " * 100)
    assert "Long for 10 s" in editor.status.text()


def test_picker_completes_from_the_search_function_and_flags_unknown(qtbot):
    picker = SearchPicker()
    qtbot.addWidget(picker)
    picker.set_search(_search, known=lambda n: n in NAMES)
    picker.show()
    qtbot.keyClicks(picker, "bea")
    assert picker.completer_model().stringList() == ["the beatles", "the beach boys"]
    popup = picker.completer().popup()
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    popup.setCurrentIndex(popup.model().index(1, 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert picker.values() == ["the beach boys"] and picker.unknown() == []
    picker.setText("nobody")
    assert picker.unknown() == ["nobody"] and "nobody" in picker.toolTip()


def test_multi_picker_completes_the_last_name_and_limits_the_count(qtbot):
    picker = SearchPicker(max_items=2)
    qtbot.addWidget(picker)
    picker.set_search(_search, known=lambda n: n in NAMES)
    picker.show()
    picker.setText("blur, ")
    qtbot.keyClicks(picker, "dyl")
    assert picker.completer_model().stringList() == ["bob dylan"]
    picker.completer().activated[str].emit("bob dylan")
    assert picker.values() == ["blur", "bob dylan"]
    picker.setText("blur, beck, bob dylan")
    assert "at most 2" in picker.toolTip()
