"""The song panel: model, lyrics, artist, genres, lengths, number of takes, temperatures, seed.

``settings()`` returns a plain :class:`SongSettings`; ``set_settings`` restores one (from the project
or from a take's "restore its settings"). Vocabulary-dependent behaviour (search, known names,
dropped characters, genre count) is injected through ``set_vocabulary``.
"""

from __future__ import annotations

import random

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from jukestudio.gui.icons import icon
from jukestudio.gui.lyrics import LyricsEditor
from jukestudio.gui.pickers import SearchPicker
from jukestudio.gui.records import SongSettings, Vocabulary

MAX_SEED = 2**31 - 1


class SongPanel(QWidget):
    compose_requested = Signal()
    manage_models_requested = Signal()
    model_changed = Signal(str)
    settings_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_combo = QComboBox(self)
        self.model_combo.setToolTip("Installed models; Manage… imports more.")
        self.model_combo.currentIndexChanged.connect(self._model_index_changed)
        self.model_status = QLabel(self)
        self.model_status.setWordWrap(True)
        self.model_status.setStyleSheet("color: #9aa5b1;")
        manage = QPushButton("Manage…", self)
        manage.clicked.connect(self.manage_models_requested)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(manage)

        self.lyrics = LyricsEditor(self)
        self.artist = SearchPicker(self, max_items=1, placeholder="artist (type to search)")
        self.genres = SearchPicker(self, max_items=1, placeholder="genre (type to search)")
        self.total_seconds = self._seconds_box(10, 600, 180, "The whole song's length the model is told about.")
        self.take_seconds = self._seconds_box(0.1, 600, 20, "How many seconds to sample now.")
        self.total_seconds.valueChanged.connect(self.lyrics.set_song_seconds)
        self.n_takes = QSpinBox(self)
        self.n_takes.setRange(1, 16)
        self.n_takes.setValue(3)
        self.temps = []
        temp_row = QHBoxLayout()
        for level, name in enumerate(("top", "level 1", "level 0")):
            box = QDoubleSpinBox(self)
            box.setRange(0.1, 1.5)
            box.setSingleStep(0.01)
            box.setDecimals(2)
            box.setValue(0.98 if level == 0 else 0.99)
            box.setToolTip(f"Sampling temperature of the {name} prior")
            temp_row.addWidget(box)
            self.temps.append(box)
        self.seed = QSpinBox(self)
        self.seed.setRange(0, MAX_SEED)
        self.seed_random = QCheckBox("random", self)
        self.seed_random.setChecked(True)
        self.seed_random.setToolTip("A new seed for every compose; the seed used is shown and kept with the take.")
        self.seed_random.toggled.connect(lambda on: self.seed.setEnabled(not on))
        self.seed.setEnabled(False)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.seed_random)

        form = QFormLayout()
        form.addRow("Model", model_row)
        form.addRow(self.model_status)
        form.addRow("Artist", self.artist)
        form.addRow("Genres", self.genres)
        form.addRow("Song length (s)", self.total_seconds)
        form.addRow("Take length (s)", self.take_seconds)
        form.addRow("Takes", self.n_takes)
        form.addRow("Temperature", temp_row)
        form.addRow("Seed", seed_row)

        self.compose_button = QPushButton(icon("compose"), "Compose takes", self)
        self.compose_button.setToolTip("Sample new takes (from the dropped prompt, if any)")
        self.compose_button.clicked.connect(self.compose_requested)
        self.prompt_label = QLabel("", self)
        self.prompt_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        self.lyrics_label = QLabel("Lyrics", self)
        self.lyrics_label.setWordWrap(True)
        layout.addWidget(self.lyrics_label)
        layout.addWidget(self.lyrics, 1)
        layout.addWidget(self.prompt_label)
        layout.addWidget(self.compose_button)

        for box in (self.total_seconds, self.take_seconds, *self.temps):
            box.valueChanged.connect(self.settings_changed)
        self.n_takes.valueChanged.connect(self.settings_changed)
        self.artist.textChanged.connect(self.settings_changed)
        self.genres.textChanged.connect(self.settings_changed)
        self.lyrics.text_changed.connect(self.settings_changed)

    def _seconds_box(self, lo: float, hi: float, value: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox(self)
        box.setRange(lo, hi)
        box.setDecimals(1)
        box.setValue(value)
        box.setToolTip(tip)
        return box

    # -- models ---------------------------------------------------------------------------------
    def set_models(self, models: list[tuple[str, str]], current: str | None = None) -> None:
        """``[(name, status text)]``, e.g. ``("demo", "demo model: random weights, produces noise")``."""
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for name, status in models:
            self.model_combo.addItem(name, status)
        self.model_combo.blockSignals(False)
        if current is not None and self.model_combo.findText(current) >= 0:
            self.model_combo.setCurrentIndex(self.model_combo.findText(current))
        self._model_index_changed(self.model_combo.currentIndex())

    def _model_index_changed(self, index: int) -> None:
        self.model_status.setText(self.model_combo.itemData(index) or "" if index >= 0 else "No model installed.")
        self.model_changed.emit(self.model_combo.currentText())

    def set_vocabulary(self, vocab: Vocabulary | None) -> None:
        note = vocab.lyrics_note if vocab is not None else None
        self.lyrics.setEnabled(note is None)  # an instrumental model: the text stays, it is just not used
        self.lyrics.setToolTip(note or "")
        self.lyrics_label.setText(f"Lyrics — {note}" if note else "Lyrics")
        if vocab is None:
            self.artist.set_search(None)
            self.genres.set_search(None)
            self.lyrics.set_checker(None)
            return
        self.artist.set_search(vocab.search_artists, vocab.is_artist, 1)
        self.genres.set_search(vocab.search_genres, vocab.is_genre, vocab.max_genres)
        self.genres.setPlaceholderText(
            f"up to {vocab.max_genres} genre words, comma-separated" if vocab.max_genres > 1 else "one genre"
        )
        self.lyrics.set_checker(vocab.dropped_positions)

    # -- settings -------------------------------------------------------------------------------
    def settings(self) -> SongSettings:
        return SongSettings(
            model=self.model_combo.currentText(),
            artist=self.artist.text().strip(),
            genres=self.genres.values(),
            lyrics=self.lyrics.text(),
            total_seconds=self.total_seconds.value(),
            take_seconds=self.take_seconds.value(),
            n_takes=self.n_takes.value(),
            temperatures=[box.value() for box in self.temps],
            seed=None if self.seed_random.isChecked() else self.seed.value(),
        )

    def set_settings(self, settings: SongSettings) -> None:
        if settings.model and self.model_combo.findText(settings.model) >= 0:
            self.model_combo.setCurrentIndex(self.model_combo.findText(settings.model))
        self.artist.setText(settings.artist)
        self.genres.set_values(settings.genres)
        self.lyrics.set_text(settings.lyrics)
        self.total_seconds.setValue(settings.total_seconds)
        self.take_seconds.setValue(settings.take_seconds)
        self.n_takes.setValue(settings.n_takes)
        for box, value in zip(self.temps, settings.temperatures):
            box.setValue(value)
        self.seed_random.setChecked(settings.seed is None)
        if settings.seed is not None:
            self.seed.setValue(int(settings.seed))

    def next_seed(self) -> int:
        """The seed for the next compose: the fixed one, or a fresh random one (shown, reusable)."""
        if not self.seed_random.isChecked():
            return self.seed.value()
        seed = random.randint(0, MAX_SEED)
        self.seed.setValue(seed)  # shown, so the user can untick "random" and reuse it
        return seed

    def set_prompt(self, text: str) -> None:
        self.prompt_label.setText(text)
        self.compose_button.setText("Compose from prompt" if text else "Compose takes")
