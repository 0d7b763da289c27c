"""The song panel: model, lyrics, artist, genres, lengths, number of takes, temperatures, seed, and
(under "Advanced") the top-k / top-p filters.

The panel edits the project's own settings record: ``set_settings`` shows a
:class:`~jukestudio.project.settings.ProjectSettings` (the project's, or a take's for "restore its
settings"), ``settings()`` returns a copy with the panel's values (fields the panel does not show,
e.g. chunk sizes, are kept). Vocabulary-dependent behaviour (search, known names, dropped characters,
genre count) is injected through ``set_vocabulary``.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from jukestudio.gui.icons import icon
from jukestudio.gui.records import InputCheck, Vocabulary, check_inputs
from jukestudio.gui.widgets.lyrics import LyricsEditor
from jukestudio.gui.widgets.pickers import SearchPicker
from jukestudio.gui.wording import QUALITY_DETAIL, TEMPERATURE_LABELS
from jukestudio.model.sampling_params import MAX_SEED, choose_seed
from jukestudio.project.settings import ProjectSettings


class PromptChip(QFrame):
    """The armed prompt as a chip: its name and length, and a ✕ (or Esc / Delete when focused) to drop it."""

    remove_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("promptChip")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setStyleSheet(
            "#promptChip { border: 1px solid #5aa9e6; border-radius: 10px; background: #22364a; }"
            "#promptChip:focus { border: 2px solid #ffe066; }"
        )
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("✕")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip("Remove the prompt: compose from silence again (Esc or Delete)")
        self.remove_button.clicked.connect(self.remove_requested)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 2, 2)
        row.addWidget(self.label, 1)
        row.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt override
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.remove_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class SongPanel(QWidget):
    compose_requested = Signal()
    prompt_removed = Signal()  # the user removed the prompt chip
    manage_models_requested = Signal()
    model_changed = Signal(str)
    settings_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._base = ProjectSettings()  # what the panel was last given: keeps the fields it does not show
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
        self.total_seconds.valueChanged.connect(self._limit_take_length)
        self.length_notice = QLabel(self)
        self.length_notice.setObjectName("lengthNotice")
        self.length_notice.setWordWrap(True)
        self.length_notice.setStyleSheet("color: #9aa5b1;")
        self.n_takes = QSpinBox(self)
        self.n_takes.setRange(1, 16)
        self.n_takes.setValue(3)
        self.temps = []
        self.temp_labels = []
        temp_row = QGridLayout()  # labels above their boxes: narrow enough for a laptop's side panel
        temp_row.setHorizontalSpacing(4)
        temp_row.setVerticalSpacing(0)
        for level in range(3):
            box = QDoubleSpinBox(self)
            box.setRange(0.1, 1.5)
            box.setSingleStep(0.01)
            box.setDecimals(2)
            box.setValue(self._base.temperatures[level])
            box.setToolTip(
                f"Temperature of {QUALITY_DETAIL[level]}: lower is safer and more repetitive, higher is wilder"
            )
            label = QLabel(TEMPERATURE_LABELS[level], self)
            label.setBuddy(box)
            label.setStyleSheet("color: #9aa5b1;")
            temp_row.addWidget(label, 0, level)
            temp_row.addWidget(box, 1, level)
            self.temps.append(box)
            self.temp_labels.append(label)
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
        self.fast_preview = QCheckBox("Fast preview (int8 top level on CPU)", self)
        self.fast_preview.setToolTip(
            "Sample the top level with 8-bit weights on the CPU: faster, nearly the same music. "
            "Upsampling and export stay full precision."
        )

        self.input_notice = QLabel(self)
        self.input_notice.setObjectName("inputNotice")
        self.input_notice.setWordWrap(True)
        self.input_notice.setStyleSheet("color: #ffe066;")
        self._vocab: Vocabulary | None = None

        form = QFormLayout()
        form.addRow("Model", model_row)
        form.addRow(self.model_status)
        form.addRow("Artist", self.artist)
        form.addRow("Genres", self.genres)
        form.addRow(self.input_notice)
        form.addRow("Song length (s)", self.total_seconds)
        form.addRow("Take length (s)", self.take_seconds)
        form.addRow(self.length_notice)
        form.addRow("Takes", self.n_takes)
        form.addRow("Temperature", temp_row)
        form.addRow("Seed", seed_row)
        form.addRow("", self.fast_preview)

        # Advanced: the sampling filters (off by default, as the original's notebook)
        self.top_k = QSpinBox(self)
        self.top_k.setRange(0, 4096)
        self.top_k.setSpecialValueText("off")
        self.top_k.setToolTip("Draw only from the k most likely tokens (1 = always the most likely).")
        self.top_p = QDoubleSpinBox(self)
        self.top_p.setRange(0.0, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setDecimals(2)
        self.top_p.setSpecialValueText("off")
        self.top_p.setToolTip("Draw only from the most likely tokens that together reach this probability.")
        self.advanced = QWidget(self)
        advanced_form = QFormLayout(self.advanced)
        advanced_form.setContentsMargins(0, 0, 0, 0)
        advanced_form.addRow("Top-k", self.top_k)
        advanced_form.addRow("Top-p", self.top_p)
        self.advanced.setVisible(False)
        self.advanced_toggle = QPushButton("Advanced ▸", self)
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setFlat(True)
        self.advanced_toggle.setToolTip("Sampling filters")
        self.advanced_toggle.toggled.connect(self._show_advanced)
        form.addRow(self.advanced_toggle)
        form.addRow(self.advanced)

        self.compose_button = QPushButton(icon("compose"), "Compose takes", self)
        self.compose_button.setToolTip("Sample new takes (from the dropped prompt, if any)")
        self.compose_button.clicked.connect(self.compose_requested)
        self.prompt_chip = PromptChip(self)
        self.prompt_chip.remove_requested.connect(self.prompt_removed)
        self.prompt_label = self.prompt_chip.label

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        self.lyrics_label = QLabel("Lyrics", self)
        self.lyrics_label.setWordWrap(True)
        layout.addWidget(self.lyrics_label)
        layout.addWidget(self.lyrics, 1)
        layout.addWidget(self.prompt_chip)
        layout.addWidget(self.compose_button)

        for box in (self.total_seconds, self.take_seconds, *self.temps):
            box.valueChanged.connect(self.settings_changed)
        self.n_takes.valueChanged.connect(self.settings_changed)
        self.top_k.valueChanged.connect(self.settings_changed)
        self.top_p.valueChanged.connect(self.settings_changed)
        self.fast_preview.toggled.connect(self.settings_changed)
        self.artist.textChanged.connect(self.settings_changed)
        self.genres.textChanged.connect(self.settings_changed)
        self.lyrics.text_changed.connect(self.settings_changed)
        for changed in (self.artist.textChanged, self.genres.textChanged, self.lyrics.text_changed):
            changed.connect(self._update_input_notice)
        self._update_input_notice()

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
        self._vocab = vocab
        self._update_input_notice()
        self._apply_length_limits(vocab)
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

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setText("Advanced ▾" if shown else "Advanced ▸")

    # -- lengths the model can take -------------------------------------------------------------
    def _apply_length_limits(self, vocab: Vocabulary | None) -> None:
        """The song length the model is told about must lie in its trained range; say so beside the fields."""
        lo = max(1.0, math.ceil((vocab.min_song_s if vocab else 10.0) * 10) / 10)
        hi = math.floor(((vocab.max_song_s if vocab else 600.0) - 0.1) * 10) / 10
        before = self.total_seconds.value()
        self.total_seconds.setRange(lo, hi)
        changed = abs(self.total_seconds.value() - before) > 1e-6
        self._length_note = (
            f"This model takes a song length of {lo:g}–{hi:g} s"
            + (f" (changed from {before:g} s)" if changed else "")
            + "; a take is at most as long as the song."
            if vocab is not None
            else "A take is at most as long as the song; the model you choose sets the song lengths it takes."
        )
        self._limit_take_length()

    def _limit_take_length(self, *_: object) -> None:
        before = self.take_seconds.value()
        self.take_seconds.setMaximum(self.total_seconds.value())
        note = getattr(self, "_length_note", "A take is at most as long as the song.")
        if self.take_seconds.value() < before:
            note += f" Take length shortened to {self.take_seconds.value():g} s to fit the song."
        self.length_notice.setText(note)

    # -- what the model will use ---------------------------------------------------------------
    def input_check(self) -> InputCheck:
        return check_inputs(self._vocab, self.artist.text(), self.genres.values(), self.lyrics.text())

    def _update_input_notice(self, *_: object) -> None:
        notes = self.input_check().notes if self._vocab is not None else []
        self.input_notice.setText("\n".join(notes))
        self.input_notice.setVisible(bool(notes))

    def use_known_inputs(self, check: InputCheck) -> None:
        """Put what the model will use into the fields, so what is shown is what gets recorded."""
        self.artist.setText(check.artist)
        self.genres.set_values(check.genres)

    # -- settings -------------------------------------------------------------------------------
    def settings(self) -> ProjectSettings:
        """The settings last given with the panel's values (seed None = "random")."""
        return self._base.copy(
            model=self.model_combo.currentText() or self._base.model,
            artist=self.artist.text().strip() or "unknown",
            genres=self.genres.values(),
            lyrics=self.lyrics.text(),
            total_length_s=self.total_seconds.value(),
            take_length_s=self.take_seconds.value(),
            n_takes=self.n_takes.value(),
            temperatures=[box.value() for box in self.temps],
            top_k=self.top_k.value(),
            top_p=self.top_p.value(),
            seed=None if self.seed_random.isChecked() else self.seed.value(),
            fast_preview=self.fast_preview.isChecked(),
        )

    def set_settings(self, settings: ProjectSettings) -> None:
        self._base = settings.copy()
        if settings.model and self.model_combo.findText(settings.model) >= 0:
            self.model_combo.setCurrentIndex(self.model_combo.findText(settings.model))
        self.artist.setText("" if settings.artist == "unknown" else settings.artist)
        self.genres.set_values(settings.genres)
        self.lyrics.set_text(settings.lyrics)
        self.total_seconds.setValue(settings.total_length_s)
        self.take_seconds.setValue(settings.take_length_s)
        self.n_takes.setValue(settings.n_takes)
        for box, value in zip(self.temps, settings.temperatures):
            box.setValue(value)
        self.top_k.setValue(settings.top_k)
        self.top_p.setValue(settings.top_p)
        self.seed_random.setChecked(settings.seed is None)
        if settings.seed is not None:
            self.seed.setValue(int(settings.seed))
        self.fast_preview.setChecked(bool(settings.fast_preview))

    def next_seed(self) -> int:
        """The seed for the next job: the fixed one, or a fresh random one, shown so the user can
        untick "random" and reuse it (the settings keep saying "random")."""
        seed = choose_seed(None if self.seed_random.isChecked() else self.seed.value())
        self.seed.setValue(seed)
        return seed

    def set_prompt(self, text: str) -> None:
        """Show the armed prompt as a chip (empty text hides it)."""
        self.prompt_label.setText(text)
        self.prompt_chip.setVisible(bool(text))
        self.compose_button.setText("Compose from prompt" if text else "Compose takes")
