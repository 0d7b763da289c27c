"""The jobs panel: queued / running / done / failed / cancelled jobs with per-level progress, speed, ETA.

``JobsModel`` is a table model fed from the JobWorker's signals; ``JobsPanel`` shows it with a
progress-bar delegate and a Cancel button (which sets the job's token through ``cancel_requested``).
The ETA is shown only once the engine has measured a speed ("honest ETA": never guessed).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from jukestudio.engine.progress import Progress, percent_text
from jukestudio.gui.wording import QUALITY, QUALITY_DETAIL
from jukestudio.hub.download import human_bytes

STATUSES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE = ("queued", "running")
RESUMABLE_STATUSES = ("cancelled", "failed")  # with finished windows kept (a full disk fails a job so)
COLUMNS = ("Job", "Status", "Progress", "Speed", "Time left")
HOPS = {0: 128, 1: 32, 2: 8}  # audio samples per token per level of every released model
SAMPLE_RATE = 44100
PROGRESS_COLUMN = 2


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class JobRow:
    job_id: str
    label: str
    kind: str
    status: str = "queued"
    fraction: float = 0.0
    level: int | None = None
    window: int = 0
    n_windows: int = 0
    tokens_per_s: float = 0.0
    eta_s: float | None = None
    message: str = ""
    resumable: bool = False  # a cancelled or failed job that kept finished windows
    done_units: int = 0  # a download's bytes so far and in all (Progress.tokens_* carry bytes there)
    total_units: int = 0

    @property
    def can_resume(self) -> bool:
        return self.resumable and self.status in RESUMABLE_STATUSES

    @property
    def is_download(self) -> bool:
        return self.kind == "download"

    def progress_text(self) -> str:
        if self.status in ("failed", "cancelled") and self.message:
            return self.message
        if self.status == "done":
            return "finished"
        if self.is_download:
            if not self.total_units:  # converting into the store: a fraction, said in the message
                return f"{self.message or 'converting'} · {percent_text(self.fraction)}"
            return f"{human_bytes(self.done_units)} of {human_bytes(self.total_units)} · {percent_text(self.fraction)}"
        if self.level is None:
            return percent_text(self.fraction)
        name = QUALITY.get(self.level, f"level {self.level}")
        part = f"part {min(self.window + 1, self.n_windows)} of {self.n_windows}"
        return f"{name} · {part} · {percent_text(self.fraction)}"

    def speed_text(self) -> str:
        """Speed as audio composed per second of waiting (all takes together), not in tokens; a
        download's in bytes per second."""
        if self.is_download:
            return f"{human_bytes(self.tokens_per_s)}/s" if self.tokens_per_s > 0 and self.total_units else ""
        if self.tokens_per_s <= 0 or self.level is None:
            return ""
        return f"{self.tokens_per_s * HOPS.get(self.level, 128) / SAMPLE_RATE:.2g}× real time"

    def tooltip(self) -> str:
        parts = [self.message] if self.message else []
        if self.level is not None and self.status in ACTIVE and not self.is_download:
            parts.append(
                f"{QUALITY_DETAIL.get(self.level, '')}; window {self.window + 1}/{self.n_windows}"
                + (f"; {self.tokens_per_s:.0f} tokens/s" if self.tokens_per_s > 0 else "")
            )
        if self.resumable:
            parts.append("Resume continues from the last finished window.")
        return "\n".join(p for p in parts if p)


class JobsModel(QAbstractTableModel):
    """One row per job, newest last."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []

    # -- Qt model -----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.label
            if col == 1:
                return f"{row.status} (resumable)" if row.can_resume else row.status
            if col == 2:
                return row.progress_text()
            if col == 3:
                return row.speed_text() if row.status == "running" else ""
            if col == 4:
                return format_duration(row.eta_s) if row.status == "running" else ""
        if role == Qt.ItemDataRole.UserRole:
            return row.fraction
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tooltip() or None
        return None

    # -- updates ------------------------------------------------------------------------------------
    def add_job(self, job_id: str, label: str, kind: str, status: str = "queued") -> None:
        if self.row_of(job_id) is not None:
            self.set_status(job_id, status)
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(JobRow(job_id, label, kind, status))
        self.endInsertRows()

    def row_of(self, job_id: str) -> int | None:
        for i, row in enumerate(self._rows):
            if row.job_id == job_id:
                return i
        return None

    def job(self, job_id: str) -> JobRow | None:
        i = self.row_of(job_id)
        return None if i is None else self._rows[i]

    def jobs(self) -> list[JobRow]:
        return list(self._rows)

    def set_status(self, job_id: str, status: str, message: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown job status {status!r}")
        i = self.row_of(job_id)
        if i is None:
            return
        row = self._rows[i]
        row.status, row.message = status, message or row.message
        if status not in RESUMABLE_STATUSES:
            row.resumable = False
        if status == "done":
            row.fraction, row.eta_s = 1.0, 0.0
        self._changed(i)

    def update_progress(self, job_id: str, progress: Progress) -> None:
        i = self.row_of(job_id)
        if i is None:
            return
        row = self._rows[i]
        if row.status == "queued":
            row.status = "running"
        row.fraction = max(0.0, min(1.0, progress.fraction))
        row.level, row.window, row.n_windows = progress.level, progress.window, progress.n_windows
        row.tokens_per_s, row.eta_s = progress.tokens_per_s, progress.eta_s
        row.done_units, row.total_units = progress.tokens_done, progress.tokens_total
        if progress.message:
            row.message = progress.message
        self._changed(i)

    def set_resumable(self, job_id: str, resumable: bool) -> None:
        i = self.row_of(job_id)
        if i is not None:
            self._rows[i].resumable = resumable
            self._changed(i)

    def clear(self) -> None:
        """Forget every row (another project was opened)."""
        self.beginResetModel()
        self._rows = []
        self.endResetModel()

    def remove_finished(self) -> None:
        keep = [r for r in self._rows if r.status in ACTIVE]
        if len(keep) != len(self._rows):
            self.beginResetModel()
            self._rows = keep
            self.endResetModel()

    def _changed(self, i: int) -> None:
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))


class ProgressDelegate(QStyledItemDelegate):
    """Paints the progress column as a progress bar with the level/window text in it."""

    def paint(self, painter, option, index) -> None:
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(1000 * float(index.data(Qt.ItemDataRole.UserRole) or 0.0))
        bar.text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        bar.textVisible = True
        bar.state = option.state
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class JobsPanel(QWidget):
    """The table plus Cancel / Clear finished buttons."""

    cancel_requested = Signal(str)  # job_id
    resume_requested = Signal(str)  # job_id of a cancelled or failed row that kept finished windows

    def __init__(self, model: JobsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.table = QTableView(self)
        self.table.setModel(model)
        self.table.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(PROGRESS_COLUMN, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(PROGRESS_COLUMN, 240)
        self.table.setWordWrap(False)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.cancel_action = QAction("Cancel job", self)
        self.cancel_action.triggered.connect(self.cancel_selected)
        self.table.addAction(self.cancel_action)
        self.resume_action = QAction("Resume job", self)
        self.resume_action.triggered.connect(self.resume_selected)
        self.table.addAction(self.resume_action)
        self.resume_button = QPushButton("Resume", self)
        self.resume_button.setToolTip("Continue the selected cancelled job from its last finished window.")
        self.resume_button.clicked.connect(self.resume_selected)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the selected job at the next step; finished windows are kept.")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.clear_button = QPushButton("Clear finished", self)
        self.clear_button.clicked.connect(model.remove_finished)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.table.setMinimumHeight(3 * self.table.verticalHeader().defaultSectionSize() + 28)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        model.dataChanged.connect(self._update_buttons)
        model.modelReset.connect(self._update_buttons)
        model.rowsInserted.connect(self._update_buttons)
        self._update_buttons()

    def follow(self, job_id: str) -> None:
        """Scroll so the job's row (the running one) is in sight."""
        row = self.model.row_of(job_id)
        if row is not None:
            self.table.scrollTo(self.model.index(row, 0), QAbstractItemView.ScrollHint.EnsureVisible)

    def row_visible(self, job_id: str) -> bool:
        row = self.model.row_of(job_id)
        if row is None:
            return False
        rect = self.table.visualRect(self.model.index(row, 0))
        return rect.isValid() and self.table.viewport().rect().contains(rect.center())

    def _update_buttons(self, *_: object) -> None:
        jobs = {j.job_id: j for j in self.model.jobs()}
        selected = [jobs[i] for i in self.selected_job_ids() if i in jobs]
        can_resume = any(j.can_resume for j in selected)
        can_cancel = any(j.status in ACTIVE for j in selected) or (
            not selected and any(j.status == "running" for j in jobs.values())
        )
        self.resume_button.setEnabled(can_resume)
        self.resume_action.setEnabled(can_resume)
        self.cancel_button.setEnabled(can_cancel)
        self.cancel_action.setEnabled(can_cancel)
        self.clear_button.setEnabled(any(j.status not in ACTIVE for j in jobs.values()))

    def resume_selected(self) -> None:
        jobs = {j.job_id: j for j in self.model.jobs()}
        for job_id in self.selected_job_ids():
            if jobs[job_id].can_resume:
                self.resume_requested.emit(job_id)

    def selected_job_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        jobs = self.model.jobs()
        return [jobs[r].job_id for r in rows if r < len(jobs)]

    def cancel_selected(self) -> None:
        jobs = {j.job_id: j for j in self.model.jobs()}
        targets = self.selected_job_ids() or [j.job_id for j in jobs.values() if j.status == "running"]
        for job_id in targets:
            if jobs[job_id].status in ACTIVE:
                self.cancel_requested.emit(job_id)
