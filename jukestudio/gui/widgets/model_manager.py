"""The model manager: what is installed, which parts each model has, import / verify / remove, demo model.

Imports and checks read gigabytes, so they run on their own worker thread (a JobRunner) with
progress; the dialog stays responsive and can be closed while they run.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from jukestudio.engine.progress import Progress
from jukestudio.gui.worker import JobRunner

PARTS = (  # the window's quality words; the technical part is in each header's tooltip
    ("vqvae", "Decoder", "VQ-VAE: turns codes into audio"),
    ("prior_0", "Preview", "top prior: composes the coarse preview"),
    ("prior_1", "Middle", "middle upsampler"),
    ("prior_2", "Full quality", "bottom upsampler"),
)


def _store_progress(report, job_id: str):
    """Adapt the store's ``progress(fraction, message)`` to the worker's ``report(Progress)``."""

    def progress(fraction: float, message: str) -> None:
        report(Progress(job_id, 0, 0, 1, 0, 0, 0.0, None, float(fraction), message))

    return progress


class ModelManagerDialog(QDialog):
    models_changed = Signal()
    download_opened = Signal(object)  # the DownloadDialog, once made: the window shows its transfers as jobs
    operation_ended = Signal(str, str)  # operation id, "done" | "failed"

    def __init__(self, studio, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(760, 360)
        self.studio = studio
        self.runner = JobRunner(self, name="jukestudio-models")
        self.runner.worker.progressed.connect(self._progressed)
        self.runner.worker.finished.connect(self._finished)
        self.runner.worker.failed.connect(self._failed)
        self._ids = itertools.count(1)
        self.last_result: object = None
        self.table = QTableWidget(0, 3 + len(PARTS), self)
        self.table.setHorizontalHeaderLabels(["Model", "Kind", "Size"] + [label for _, label, _ in PARTS])
        for col, (_part, _label, tip) in enumerate(PARTS, start=3):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        self.download_dialog = None
        for text, slot in (
            ("Download from Hugging Face…", self.open_download),
            ("Import Hugging Face folder…", self._ask_hf_folder),
            ("Import OpenAI files…", self._ask_openai_files),
            ("Verify", self.verify_selected),
            ("Remove", self.remove_selected),
        ):
            button = QPushButton(text, self)
            button.clicked.connect(lambda _=False, s=slot: s())
            buttons.addWidget(button)
            if text in ("Verify", "Remove"):
                setattr(self, f"{text.lower()}_button", button)
        note = QLabel(
            "<b>jukestudio-tiny</b> ships with the app: a small instrumental model trained on synthetic "
            "chorales, folk dances and arpeggios (see docs/tiny-model.md). Import a released model for real songs.",
            self,
        )
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(note)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.refresh()
        self._mention_unfinished_downloads()

    def _mention_unfinished_downloads(self) -> None:
        from jukestudio.hub.install import unfinished

        waiting = unfinished()
        if waiting:
            names = ", ".join(record["repo_id"] for record in waiting)
            self.status.setText(f"Unfinished download: {names}. Download from Hugging Face… resumes it.")

    # -- listing ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        infos = self.studio.store_models()
        self.table.setRowCount(len(infos))
        for row, info in enumerate(infos):
            kind = "demo model — random weights, produces noise" if info.untrained else (info.preset or "custom")
            if not info.untrained and getattr(info, "store_dtype", "fp32") == "fp16":
                kind += " · fp16 store (transformer in half precision)"
            elif not info.untrained:
                kind += " · fp32 store"
            if info.problem:
                kind = f"damaged: {info.problem}"
            cells = [info.name, kind, f"{info.size_bytes / 1e6:,.1f} MB"]
            cells += ["✓" if part in info.components else "missing" for part, _, _ in PARTS]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if text == "missing":
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        # wide enough for every column (the last one was cut off), within the screen
        wanted = self.table.horizontalHeader().length() + self.table.verticalScrollBar().sizeHint().width() + 40
        screen = self.screen().availableGeometry().width() if self.screen() else 1920
        if self.width() < wanted:
            self.resize(min(wanted, screen - 40), self.height())
        self._update_buttons()

    def _update_buttons(self) -> None:
        """Verify and Remove act on the selected model: without one they are off."""
        selected = self.selected_name() is not None
        self.verify_button.setEnabled(selected)
        self.remove_button.setEnabled(selected)

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.text() if item else None

    # -- operations -------------------------------------------------------------------------------
    def _start(self, label: str, fn) -> str:
        op_id = f"model-op-{next(self._ids)}"
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText(f"{label}…")
        self.runner.submit(op_id, lambda report, token: fn(_store_progress(report, op_id)), label)
        return op_id

    def open_download(self):
        """The Hub download dialog (catalogue, license, progress, cancel); new models appear here."""
        from jukestudio.gui.widgets.model_download import DownloadDialog

        if self.download_dialog is None:
            self.download_dialog = DownloadDialog(self)
            self.download_dialog.model_downloaded.connect(lambda _name: (self.refresh(), self.models_changed.emit()))
            self.download_opened.emit(self.download_dialog)
        self.download_dialog.show()
        self.download_dialog.raise_()
        return self.download_dialog

    def _ask_hf_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Hugging Face Jukebox folder (config.json + weights)")
        if folder:
            self.import_paths([Path(folder)])

    def _ask_openai_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Original OpenAI files (vqvae.pth.tar, prior_level_*.pth.tar)", "", "Checkpoints (*.pth.tar *.tar)"
        )
        if files:
            self.import_paths([Path(f) for f in files])

    def import_paths(self, paths: list[Path], name: str | None = None) -> str:
        return self._start(
            f"Importing {', '.join(p.name for p in paths)}", lambda p: self.studio.import_model(paths, name, p)
        )

    def add_demo(self) -> str:
        return self._start("Making the demo model", self.studio.ensure_demo_model)

    def verify_selected(self) -> str | None:
        name = self.selected_name()
        if name is None:
            self.status.setText("Select a model to verify.")
            return None
        return self._start(f"Verifying {name}", lambda p: self.studio.verify_model(name, p))

    def remove_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        try:
            self.studio.remove_model(name)
        except (OSError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        self.status.setText(f"Removed {name}.")
        self.refresh()
        self.models_changed.emit()

    def _progressed(self, _op_id: str, progress: Progress) -> None:
        self.progress.setValue(int(1000 * progress.fraction))
        if progress.message:
            self.status.setText(progress.message)

    def _finished(self, op_id: str, result: object) -> None:
        self.progress.hide()
        self.last_result = result
        if isinstance(result, list):  # verify: the problems found
            self.status.setText("Verified: all files intact." if not result else "Problems:\n" + "\n".join(result))
        else:
            self.status.setText(f"Done: {getattr(result, 'name', '')}")
        self.refresh()
        self.models_changed.emit()
        self.operation_ended.emit(op_id, "done")

    def _failed(self, op_id: str, message: str) -> None:
        self.progress.hide()
        self.status.setText(message)
        self.operation_ended.emit(op_id, "failed")
