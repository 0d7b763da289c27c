"""Download a Jukebox model from the Hugging Face Hub: catalogue, license, progress, cancel, resume.

Everything that touches the network or the disk runs on the dialog's own worker thread (a
JobRunner): asking the Hub for the file list, the transfer and the conversion. The dialog shows
bytes, %, speed and ETA, cancels through the job's CancelToken and, after a cancel, a crash or a
kill, resumes from the files kept on disk when Download is pressed again. Questions (the license,
deleting the download afterwards) are non-modal dialogs opened with ``open()``.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from jukestudio.engine.progress import Progress
from jukestudio.gui.worker import JobRunner

STORE_CHOICES = (
    ("fp32", "fp32 — exact weights (largest)"),
    ("fp16", "fp16 — transformer in half precision, about half the disk (what the GPU runs)"),
)


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


class LicenseDialog(QDialog):
    """Shows a model's license; the download starts only after Accept."""

    def __init__(self, repo_id: str, license_name: str, text: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"License of {repo_id}")
        self.resize(620, 420)
        head = QLabel(f"License of <b>{repo_id}</b>: <b>{license_name}</b>. Read it and accept it to download.", self)
        head.setWordWrap(True)
        body = QPlainTextEdit(self)
        body.setReadOnly(True)
        body.setPlainText(text or "See the license on the model's page on the Hugging Face Hub.")
        self.buttons = QDialogButtonBox(self)
        self.accept_button = self.buttons.addButton("Accept and download", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton("Decline", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(body, 1)
        layout.addWidget(self.buttons)


class DownloadDialog(QDialog):
    model_downloaded = Signal(str)  # the store entry's name
    download_ended = Signal(str)  # "done" | "failed" | "cancelled" | "declined"
    # the transfer as a job of the window's jobs panel: (job id, label), (job id, Progress), (job id, status, message)
    job_started = Signal(str, str)
    job_progressed = Signal(str, object)
    job_ended = Signal(str, str, str)

    def __init__(self, parent: QWidget | None = None, endpoint: str | None = None) -> None:
        super().__init__(parent)
        from jukestudio.hub import catalogue

        self.setWindowTitle("Download a model from Hugging Face")
        self.resize(1060, 460)
        self.endpoint = endpoint  # None: huggingface_hub's own (HF_ENDPOINT or huggingface.co)
        self.runner = JobRunner(self, name="jukestudio-download")
        self.runner.worker.progressed.connect(self._progressed)
        self.runner.worker.finished.connect(self._finished)
        self.runner.worker.failed.connect(self._failed)
        self.runner.worker.cancelled.connect(self._cancelled)
        self._ids = itertools.count(1)
        self._job: str | None = None
        self._kind = ""
        self.plan = None
        self.license_dialog: LicenseDialog | None = None
        self.delete_question: QMessageBox | None = None

        self.table = QTableWidget(len(catalogue.KNOWN), 5, self)
        headers = ["Model", "Download", "On disk (fp32 / fp16)", "GPU memory", "License"]
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        for row, entry in enumerate(catalogue.KNOWN):
            cells = [
                f"{entry.title}\n{entry.repo_id}",
                _gb(entry.download_bytes),
                f"{_gb(entry.store_bytes_fp32)} / {_gb(entry.store_bytes_fp16)}",
                entry.gpu_memory,
                entry.license_name,
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, entry.repo_id)
                item.setToolTip(entry.note)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._catalogue_chosen)

        self.repo_edit = QLineEdit(self)
        self.repo_edit.setPlaceholderText("any repo id, e.g. openai/jukebox-1b-lyrics")
        self.revision_edit = QLineEdit(self)
        self.revision_edit.setPlaceholderText("main")
        self.dtype_combo = QComboBox(self)
        for key, label in STORE_CHOICES:
            self.dtype_combo.addItem(label, key)
        form = QFormLayout()
        form.addRow("Repo id", self.repo_edit)
        form.addRow("Revision", self.revision_edit)
        form.addRow("Store as", self.dtype_combo)

        self.download_button = QPushButton("Download", self)
        self.download_button.clicked.connect(lambda: self.start_download())
        self.cancel_button = QPushButton("Cancel download", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_download)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        note = QLabel(
            "Downloads resume where they stopped (after Cancel, closing the app or a crash): press Download "
            "again. Every file is checked against the Hub's sha256, then converted once into the model store. "
            "Set HF_TOKEN for gated repos and HF_ENDPOINT for a mirror.",
            self,
        )
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(note)
        self._offer_unfinished()

    # -- choosing ---------------------------------------------------------------------------------
    def _catalogue_chosen(self) -> None:
        items = self.table.selectedItems()
        if items:
            self.repo_edit.setText(items[0].data(Qt.ItemDataRole.UserRole))

    def _offer_unfinished(self) -> None:
        from jukestudio.hub import install

        waiting = install.unfinished()
        if waiting:
            record = waiting[0]
            self.repo_edit.setText(record["repo_id"])
            index = self.dtype_combo.findData(record.get("store_dtype", "fp32"))
            self.dtype_combo.setCurrentIndex(max(index, 0))
            self.status.setText(f"An unfinished download of {record['repo_id']}: press Download to resume it.")

    # -- the flow: plan → license → disk → run → delete the download? ------------------------------------
    def _submit(self, kind: str, fn) -> str:
        self._job = f"download-{kind}-{next(self._ids)}"
        self._kind = kind
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(kind == "run")
        self.runner.submit(self._job, fn, kind)
        return self._job

    def start_download(self, repo_id: str | None = None) -> str | None:
        from jukestudio.hub import install

        repo_id = (repo_id or self.repo_edit.text()).strip()
        if not repo_id:
            self.status.setText("Choose a model above or type a repo id.")
            return None
        self.repo_edit.setText(repo_id)
        revision = self.revision_edit.text().strip() or None
        dtype = self.dtype_combo.currentData()
        endpoint = self.endpoint
        self.status.setText(f"Asking the Hub about {repo_id}…")
        return self._submit(
            "plan", lambda report, token: install.plan(repo_id, revision, store_dtype=dtype, endpoint=endpoint)
        )

    def _planned(self, plan) -> None:
        from jukestudio.hub import catalogue

        self.plan = plan
        if catalogue.is_accepted(plan.repo.repo_id, plan.license_name):
            self._check_and_run()
            return
        text = catalogue.license_text() if catalogue.known(plan.repo.repo_id) else None
        self.license_dialog = LicenseDialog(plan.repo.repo_id, plan.license_name, text, self)
        self.license_dialog.accepted.connect(self._license_accepted)
        self.license_dialog.rejected.connect(self._license_declined)
        self.status.setText(f"Read and accept the license of {plan.repo.repo_id} to download it.")
        self.license_dialog.open()

    def _license_accepted(self) -> None:
        from jukestudio.hub import catalogue

        catalogue.accept(self.plan.repo.repo_id, self.plan.license_name)
        self._check_and_run()

    def _license_declined(self) -> None:
        self.status.setText("Not downloaded: the license was not accepted.")
        self.download_button.setEnabled(True)
        self.download_ended.emit("declined")

    def _check_and_run(self) -> None:
        from jukestudio.hub import install
        from jukestudio.hub.download import DownloadError, human_bytes

        plan = self.plan
        try:
            install.check_disk(plan)
        except DownloadError as exc:
            self.status.setText(str(exc))
            self.download_button.setEnabled(True)
            self.download_ended.emit("failed")
            return
        resumed = plan.download_bytes - plan.missing_bytes
        self.status.setText(
            f"Downloading {plan.repo.repo_id}: {human_bytes(plan.download_bytes)}"
            + (f" ({human_bytes(resumed)} already here, resuming)" if resumed else "")
            + f", stored as {plan.name} ({plan.store_dtype})."
        )
        self.progress.setValue(int(1000 * resumed / max(plan.download_bytes, 1)))
        self.progress.show()
        job = self._submit(
            "run", lambda report, token: install.run(plan, report, token, job_id=self._job or "download")
        )
        self.job_started.emit(job, f"Download {plan.repo.repo_id} ({human_bytes(plan.download_bytes)})")

    def cancel_job(self, job_id: str) -> None:
        """The jobs panel's Cancel: the running transfer, if it is that job."""
        if job_id == self._job:
            self.cancel_download()

    def cancel_download(self) -> None:
        if self._job is not None and self._kind == "run":
            self.runner.cancel(self._job)
            self.status.setText("Cancelling…")

    # -- worker signals -----------------------------------------------------------------------------
    def _progressed(self, job: str, progress: Progress) -> None:
        if self._kind == "run":
            self.job_progressed.emit(job, progress)
        self.progress.setValue(int(1000 * progress.fraction))
        if progress.message:
            self.status.setText(progress.message)

    def _finished(self, job: str, result: object) -> None:
        if job != self._job:
            return
        self.download_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self._kind == "plan":
            self._planned(result)
            return
        self.progress.hide()
        name = getattr(result, "name", "")
        self.job_ended.emit(job, "done", "")
        self.status.setText(f"Downloaded and converted: {name} ({getattr(result, 'store_dtype', '')} store).")
        self.model_downloaded.emit(name)
        self._ask_delete()

    def _ask_delete(self) -> None:
        from jukestudio.hub.download import human_bytes

        box = QMessageBox(self)
        box.setWindowTitle("Delete the downloaded files?")
        box.setText(
            f"{self.plan.repo.repo_id} is converted into the model store. Delete the downloaded files "
            f"({human_bytes(self.plan.download_bytes)})? The store is what runs."
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.finished.connect(self._delete_answered)
        self.delete_question = box
        box.open()

    def _delete_answered(self, answer: int) -> None:
        from jukestudio.hub import install
        from jukestudio.hub.download import human_bytes

        if answer == QMessageBox.StandardButton.Yes:
            freed = install.delete_download(self.plan)
            self.status.setText(self.status.text() + f" Deleted the download ({human_bytes(freed)}).")
        else:
            self.status.setText(self.status.text() + f" Kept the download in {self.plan.folder}.")
        self.download_ended.emit("done")

    def _failed(self, job: str, message: str) -> None:
        if job != self._job:
            return
        self.download_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.hide()
        self.status.setText(message.splitlines()[0] if message else "The download failed.")
        if self._kind == "run":
            self.job_ended.emit(job, "failed", self.status.text())
        self.download_ended.emit("failed")

    def _cancelled(self, job: str, _kept: object) -> None:
        if job != self._job:
            return
        self.download_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setText("Download cancelled; what was fetched is kept — press Download to resume.")
        if self._kind == "run":
            self.job_ended.emit(job, "cancelled", "cancelled: what was fetched is kept; Download resumes it")
        self.download_ended.emit("cancelled")

    def done(self, result: int) -> None:  # closing the dialog cancels a running download (it resumes later)
        self.runner.cancel_all()
        super().done(result)
