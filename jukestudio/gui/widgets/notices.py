"""Notices in the window's centre: the banner that offers resuming unfinished jobs, and the empty state
that says what to do first when nothing is on show."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

FIRST_STEPS = (
    "<h2>Nothing to hear yet</h2>"
    "<ol>"
    "<li><b>Choose a model</b> in the Song panel: jukestudio-tiny ships with the app; Models ▸ Manage "
    "models… downloads the real Jukebox models.</li>"
    "<li>Pick an <b>artist</b> and a <b>genre</b>, type <b>lyrics</b> (for a lyrics model), set the song "
    "and take lengths.</li>"
    "<li>Press <b>Compose takes</b> (Ctrl+Return). The takes appear in the Takes panel at once and "
    "their waveform grows here while they are composed.</li>"
    "</ol>"
    "<p>Or drop an audio file here to compose from it as a prompt.</p>"
)


class ResumeBanner(QFrame):
    """'N unfinished jobs in this project — [Resume N jobs] [Dismiss]'."""

    resume_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resumeBanner")
        self.setStyleSheet("#resumeBanner { background: #3a3320; border-bottom: 1px solid #ffe066; }")
        self.label = QLabel(self)
        self.resume_button = QPushButton(self)
        self.resume_button.clicked.connect(self._resume)
        dismiss = QPushButton("Dismiss", self)
        dismiss.setToolTip("Hide this; Take ▸ Resume jobs still offers them.")
        dismiss.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.label, 1)
        row.addWidget(self.resume_button)
        row.addWidget(dismiss)
        self.hide()

    def offer(self, n_jobs: int) -> None:
        if n_jobs <= 0:
            self.hide()
            return
        jobs = f"{n_jobs} job{'s' if n_jobs != 1 else ''}"
        self.label.setText(
            f"{jobs} in this project stopped before finishing; their finished parts are kept."
        )
        self.resume_button.setText(f"Resume {jobs}")
        self.show()

    def _resume(self) -> None:
        self.hide()
        self.resume_requested.emit()


class EmptyState(QLabel):
    """What to do first, in place of an empty waveform."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(FIRST_STEPS, parent)
        self.setObjectName("emptyState")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMargin(24)
        self.setStyleSheet("#emptyState { background: #1e2127; color: #b8c0cc; }")
