"""The lyrics editor: characters the model's vocabulary will drop are highlighted, with a count and a hint.

The check is injected (``set_checker(fn(text) -> list[int])``, the character offsets the tokenizer
drops), so the editor knows nothing about vocabularies. It runs debounced while typing.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

Checker = Callable[[str], Iterable[int]]

# Sung lyrics run at roughly 5–15 characters per second; far outside that the model skips or pads.
LONG_CHARS_PER_S = 20.0
SHORT_CHARS_PER_S = 3.0


class FlagHighlighter(QSyntaxHighlighter):
    """Underlines and tints the characters at the given document offsets."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self._flagged: list[int] = []
        self._format = QTextCharFormat()
        self._format.setBackground(QColor(255, 89, 100, 110))
        self._format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        self._format.setUnderlineColor(QColor("#ff5964"))
        self._format.setToolTip("the model's vocabulary drops this character")

    def set_positions(self, positions: Iterable[int]) -> None:
        flagged = sorted(set(int(p) for p in positions))
        if flagged != self._flagged:
            self._flagged = flagged
            self.rehighlight()

    @property
    def positions(self) -> list[int]:
        return list(self._flagged)

    def highlightBlock(self, text: str) -> None:  # Qt override
        start = self.currentBlock().position()
        end = start + len(text)
        i = bisect.bisect_left(self._flagged, start)
        while i < len(self._flagged) and self._flagged[i] < end:
            self.setFormat(self._flagged[i] - start, 1, self._format)
            i += 1


def length_hint(text: str, song_seconds: float) -> str:
    """A short hint when lyrics look long or short for the declared song length (empty when fine)."""
    chars = len(text.strip())
    if chars == 0 or song_seconds <= 0:
        return ""
    rate = chars / song_seconds
    if rate > LONG_CHARS_PER_S:
        return f"Long for {song_seconds:.0f} s ({rate:.0f} characters/s): the model may skip lines."
    if rate < SHORT_CHARS_PER_S:
        return f"Short for {song_seconds:.0f} s: expect long instrumental stretches."
    return ""


class LyricsEditor(QWidget):
    """A plain-text editor with dropped-character flags, a count and a length hint underneath."""

    text_changed = Signal(str)
    checked = Signal(int)  # number of flagged characters after a check

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = QPlainTextEdit(self)
        self.editor.setPlaceholderText("Lyrics…")
        self.editor.setTabChangesFocus(True)
        self.highlighter = FlagHighlighter(self.editor.document())
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setObjectName("lyricsStatus")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.status)
        self._checker: Checker | None = None
        self._song_seconds = 0.0
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self.check_now)
        self.editor.textChanged.connect(self._on_text_changed)

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        if text != self.text():
            self.editor.setPlainText(text)
        self.check_now()

    def set_checker(self, checker: Checker | None) -> None:
        self._checker = checker
        self.check_now()

    def set_song_seconds(self, seconds: float) -> None:
        self._song_seconds = float(seconds)
        self._update_status()

    def _on_text_changed(self) -> None:
        self.text_changed.emit(self.text())
        self._debounce.start()

    def check_now(self) -> None:
        self._debounce.stop()
        positions = list(self._checker(self.text())) if self._checker else []
        self.highlighter.set_positions(positions)
        self._update_status()
        self.checked.emit(len(self.highlighter.positions))

    def _update_status(self) -> None:
        parts = []
        n = len(self.highlighter.positions)
        if n:
            parts.append(f"{n} character{'s' if n != 1 else ''} the model cannot sing (highlighted) will be dropped.")
        hint = length_hint(self.text(), self._song_seconds)
        if hint:
            parts.append(hint)
        self.status.setText(" ".join(parts))
