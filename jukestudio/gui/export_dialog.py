"""Export dialog: file, WAV subtype, peak normalise, whole take or the selected region."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QWidget,
)

from jukestudio.gui.wording import BIT_DEPTHS

SUBTYPES = BIT_DEPTHS  # ("16-bit", "PCM_16"), …: musicians' words shown, soundfile's names kept


@dataclass(frozen=True)
class ExportChoice:
    path: str
    subtype: str
    normalise: bool
    region_only: bool


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, default_path: str = "", has_region: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export WAV")
        self.path = QLineEdit(default_path or str(Path.home() / "take.wav"), self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        self.subtype = QComboBox(self)
        for label, value in SUBTYPES:
            self.subtype.addItem(label, value)
        self.normalise = QCheckBox("Normalise peak to −1 dBFS", self)
        self.whole = QRadioButton("Whole take", self)
        self.region = QRadioButton("Selected region", self)
        self.whole.setChecked(True)
        self.region.setEnabled(has_region)
        span = QHBoxLayout()
        span.addWidget(self.whole)
        span.addWidget(self.region)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("File", path_row)
        form.addRow("Format", self.subtype)
        form.addRow("", self.normalise)
        form.addRow("Export", span)
        form.addRow(buttons)

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export WAV", self.path.text(), "WAV (*.wav)")
        if name:
            self.path.setText(name if name.lower().endswith(".wav") else f"{name}.wav")

    def choice(self) -> ExportChoice:
        return ExportChoice(
            self.path.text().strip(), self.subtype.currentData(), self.normalise.isChecked(), self.region.isChecked()
        )
