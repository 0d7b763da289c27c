"""Export dialog: folder (shown in full), file name, bit depth, peak normalise, whole take or region,
and a warning (not a refusal) when the take is only at preview quality."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
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
    def __init__(
        self, parent: QWidget | None = None, default_path: str = "", has_region: bool = False, warning: str = ""
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export WAV")
        self.setMinimumWidth(520)
        path = Path(default_path or str(Path.home() / "take.wav"))
        self.folder = QLabel(str(path.parent), self)
        self.folder.setWordWrap(True)  # the whole folder, never just its tail
        self.folder.setObjectName("exportFolder")
        browse = QPushButton("Change…", self)
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.name = QLineEdit(path.name, self)
        self.subtype = QComboBox(self)
        for label, value in SUBTYPES:
            self.subtype.addItem(label, value)
            self.subtype.setItemData(self.subtype.count() - 1, f"WAV {value}", Qt.ItemDataRole.ToolTipRole)
        self.subtype.setToolTip("16-bit for sharing, 24-bit or 32-bit float for further mixing")
        self.normalise = QCheckBox("Normalise peak to −1 dBFS", self)
        self.whole = QRadioButton("Whole take", self)
        self.region = QRadioButton("Selected region", self)
        self.whole.setChecked(True)
        self.region.setEnabled(has_region)
        span = QHBoxLayout()
        span.addWidget(self.whole)
        span.addWidget(self.region)
        self.warning = QLabel(warning, self)
        self.warning.setObjectName("exportWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #ffe066;")
        self.warning.setVisible(bool(warning))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Folder", folder_row)
        form.addRow("File name", self.name)
        form.addRow("Format", self.subtype)
        form.addRow("", self.normalise)
        form.addRow("Export", span)
        form.addRow(self.warning)
        form.addRow(buttons)

    def path(self) -> Path:
        name = self.name.text().strip() or "take.wav"
        return Path(self.folder.text()) / (name if name.lower().endswith(".wav") else f"{name}.wav")

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export WAV", str(self.path()), "WAV (*.wav)")
        if name:
            chosen = Path(name if name.lower().endswith(".wav") else f"{name}.wav")
            self.folder.setText(str(chosen.parent))
            self.name.setText(chosen.name)

    def choice(self) -> ExportChoice:
        return ExportChoice(
            str(self.path()), self.subtype.currentData(), self.normalise.isChecked(), self.region.isChecked()
        )
