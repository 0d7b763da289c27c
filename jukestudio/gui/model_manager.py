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

PARTS = (
    ("vqvae", "VQ-VAE"),
    ("prior_2", "level 0 upsampler"),
    ("prior_1", "level 1 upsampler"),
    ("prior_0", "top prior"),
)


def _store_progress(report, job_id: str):
    """Adapt the store's ``progress(fraction, message)`` to the worker's ``report(Progress)``."""

    def progress(fraction: float, message: str) -> None:
        report(Progress(job_id, 0, 0, 1, 0, 0, 0.0, None, float(fraction), message))

    return progress


class ModelManagerDialog(QDialog):
    models_changed = Signal()
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
        self.table.setHorizontalHeaderLabels(["Model", "Kind", "Size"] + [label for _, label in PARTS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, slot in (
            ("Import Hugging Face folder…", self._ask_hf_folder),
            ("Import OpenAI files…", self._ask_openai_files),
            ("Verify", self.verify_selected),
            ("Remove", self.remove_selected),
        ):
            button = QPushButton(text, self)
            button.clicked.connect(lambda _=False, s=slot: s())
            buttons.addWidget(button)
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
        self.refresh()

    # -- listing ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        infos = self.studio.store_models()
        self.table.setRowCount(len(infos))
        for row, info in enumerate(infos):
            kind = "demo model — random weights, produces noise" if info.untrained else (info.preset or "custom")
            if info.problem:
                kind = f"damaged: {info.problem}"
            cells = [info.name, kind, f"{info.size_bytes / 1e6:,.1f} MB"]
            cells += ["✓" if part in info.components else "missing" for part, _ in PARTS]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if text == "missing":
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()

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
