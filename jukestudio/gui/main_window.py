"""The workstation window: docks for the song, takes, jobs and transport around the waveform.

The window only wires widgets to the :class:`~jukestudio.gui.studio.Studio` (the Qt-free facade over
project, engine, model and audio) and to two kinds of background work: sampling jobs on the one
JobRunner thread, and short tasks (decoding, loading, exporting) on BackgroundTasks. Nothing here
blocks the event loop.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from jukestudio.audio.peaks import PeakPyramid
from jukestudio.bundled_model import BUNDLED_NAME
from jukestudio.gui import window_actions
from jukestudio.gui.audition import Audition
from jukestudio.gui.growing import GrowingTakes, is_placeholder
from jukestudio.gui.icons import icon
from jukestudio.gui.settings import add_recent_project, app_settings, last_take, recent_projects, remember_take
from jukestudio.gui.studio import AUDIO_EXTENSIONS, JobSpec, Studio
from jukestudio.gui.tasks import BackgroundTasks
from jukestudio.gui.widgets.jobs_panel import JobsModel, JobsPanel
from jukestudio.gui.widgets.notices import EmptyState, ResumeBanner
from jukestudio.gui.widgets.song_panel import SongPanel
from jukestudio.gui.widgets.takes_panel import TakesPanel
from jukestudio.gui.widgets.transport_bar import TransportBar
from jukestudio.gui.widgets.waveform import WaveformView, peaks_from_pyramid, with_peaks
from jukestudio.gui.worker import JobRunner

log = logging.getLogger(__name__)
AUTOSAVE_MS = 30_000
MESSAGE_FADE_MS = 12_000  # information leaves the status bar after this; errors stay until resolved
STATE_VERSION = 1


class MainWindow(QMainWindow):
    message_shown = Signal(str, str)  # text, "info" | "error" (no bool signals: see audition.py)
    take_loaded = Signal(str)  # a take's audio is in the waveform and the transport
    prompt_loaded = Signal(str)  # the prompt's file name
    takes_refreshed = Signal()
    models_listed = Signal(int)  # number of installed models, after the picker was filled
    vocabulary_ready = Signal(str)  # model name whose vocabulary now drives pickers and lyrics
    job_ended = Signal(str, str)  # job_id, "done" | "cancelled" | "failed" (after the window handled it)

    def __init__(self, studio: Studio | None = None, audition: Audition | None = None) -> None:
        super().__init__()
        self.setWindowTitle("jukestudio")
        self.setWindowIcon(icon("app"))
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.studio = studio or Studio()
        self.audition = audition or Audition(parent=self)
        self.runner = JobRunner(self)
        self.tasks = BackgroundTasks(self)
        self.growing = GrowingTakes(self.studio, self)
        self.settings = app_settings()
        self.last_message = ""
        self._job_kinds: dict[str, JobSpec] = {}
        self._prompt: np.ndarray | None = None
        self._prompt_name = ""
        self._audio_cache: dict[str, tuple[np.ndarray, PeakPyramid]] = {}  # decoded takes and their peaks
        self._load_serial = 0
        self.model_manager = None

        self.waveform = WaveformView(self)
        self.banner = ResumeBanner(self)
        self.empty_state = EmptyState(self)
        self.centre = QStackedWidget(self)
        self.centre.addWidget(self.empty_state)
        self.centre.addWidget(self.waveform)
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.centre, 1)
        self.setCentralWidget(central)
        self.song = SongPanel(self)
        self.takes = TakesPanel(self)
        self.jobs_model = JobsModel(self)
        self.jobs = JobsPanel(self.jobs_model, self)
        self.transport = TransportBar(self)
        self.docks = {
            "song": self._dock("Song", self._scrolling(self.song), Qt.DockWidgetArea.LeftDockWidgetArea),
            "takes": self._dock("Takes", self.takes, Qt.DockWidgetArea.RightDockWidgetArea),
            "transport": self._dock("Transport", self.transport, Qt.DockWidgetArea.BottomDockWidgetArea),
            "jobs": self._dock("Jobs", self.jobs, Qt.DockWidgetArea.BottomDockWidgetArea),
        }
        self.splitDockWidget(self.docks["transport"], self.docks["jobs"], Qt.Orientation.Vertical)
        self.transport.setMaximumHeight(self.transport.sizeHint().height() + 8)
        self.resizeDocks([self.docks["song"], self.docks["takes"]], [340, 330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["jobs"]], [170], Qt.Orientation.Vertical)
        self.status = QLabel(self)
        self.statusBar().addWidget(self.status, 1)
        self._message_topic = ""
        self._fade = QTimer(self)
        self._fade.setSingleShot(True)
        self._fade.setInterval(MESSAGE_FADE_MS)
        self._fade.timeout.connect(self._clear_status)
        self._exported_to: Path | None = None
        self.show_folder_button = QPushButton("Show in folder", self)
        self.show_folder_button.hide()
        self.show_folder_button.clicked.connect(self.show_export_folder)
        self.statusBar().addPermanentWidget(self.show_folder_button)
        window_actions.build(self)
        self._connect()
        self._autosave = QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.autosave)
        self._autosave.start()
        # Opening the audio device (PortAudio start-up) waits until the window is on screen.
        QTimer.singleShot(200, self._probe_audio)
        QTimer.singleShot(0, self.refresh_models)  # after the first paint: listing imports torch
        self.restore_state()

    # ------------------------------------------------------------------ layout
    def _scrolling(self, widget: QWidget) -> QScrollArea:
        """A panel that scrolls instead of squeezing its fields (laptop screens: 1024×700)."""
        area = QScrollArea(self)
        area.setObjectName(f"scroll_{widget.__class__.__name__}")
        area.setWidget(widget)
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # as wide as the panel needs (nothing cut at the right), scrolling only up and down
        area.setMinimumWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width() + 4)
        return area

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        worker = self.runner.worker
        worker.started.connect(self._job_started)
        worker.progressed.connect(self._job_progressed)
        worker.finished.connect(self._job_finished)
        worker.cancelled.connect(self._job_cancelled)
        worker.failed.connect(self._job_failed)
        self.jobs.cancel_requested.connect(self.cancel_job)
        self.jobs.resume_requested.connect(self.resume_job)
        self.banner.resume_requested.connect(self.resume_unfinished)
        self.song.compose_requested.connect(self.compose)
        self.song.prompt_removed.connect(self.clear_prompt)
        self.song.manage_models_requested.connect(self.show_model_manager)
        self.song.model_changed.connect(self._model_changed)
        self.takes.take_selected.connect(self.select_take)
        self.takes.action_requested.connect(self._take_action)
        self.takes.renamed.connect(self.rename_take)
        self.takes.rated.connect(self.rate_take)
        self.transport.play_toggled.connect(self.toggle_play)
        self.transport.stop_requested.connect(self.stop)
        self.transport.loop_button.toggled.connect(self._set_loop)
        self.transport.volume_changed.connect(self.audition.set_volume)
        self.audition.position_changed.connect(self._position_changed)
        self.audition.playing_changed.connect(self.transport.set_playing)
        self.waveform.seek_requested.connect(self.seek)
        self.waveform.region_changed.connect(self.audition.set_region)
        self.waveform.content_changed.connect(self._update_centre)
        self.growing.changed.connect(self.refresh_takes)
        for changed in (
            self.takes.itemSelectionChanged,
            self.waveform.region_changed,
            self.audition.take_changed,
            self.jobs_model.dataChanged,
            self.jobs_model.rowsInserted,
            self.jobs_model.modelReset,
            self.prompt_loaded,
        ):
            changed.connect(self._update_actions)
        self.growing.grew.connect(self._take_grew)

    def _update_actions(self, *_: object) -> None:
        window_actions.update(self)

    def _update_centre(self) -> None:
        """The waveform when there is something to show, else what to do first."""
        self.centre.setCurrentWidget(self.waveform if self.waveform.duration > 0 else self.empty_state)

    def _probe_audio(self) -> None:
        self.transport.set_available(self.audition.available, self.audition.unavailable_reason)

    # ------------------------------------------------------------------ messages
    def show_message(self, text: str, error: bool = False, topic: str = "") -> None:
        """Non-modal: status bar + log. Information fades after a while; an error stays until the next
        message or until what it is about is resolved (``resolve(topic)``), so it never goes stale."""
        self.last_message = text
        self._message_topic = topic
        self.status.setText(text)
        self.status.setToolTip(text)
        self.status.setStyleSheet("color: #ff5964;" if error else "")
        (log.error if error else log.info)("%s", text)
        self.message_shown.emit(text, "error" if error else "info")
        if error:
            self._fade.stop()
        else:
            self._fade.start()

    def resolve(self, topic: str) -> None:
        """The problem a message was about is gone: take the message down."""
        if self._message_topic == topic and self.status.text():
            self._clear_status()

    def _clear_status(self) -> None:
        self.status.setText("")
        self.status.setStyleSheet("")
        self._message_topic = ""

    # ------------------------------------------------------------------ state
    def restore_state(self) -> None:
        geometry = self.settings.value("window/geometry", QByteArray(), type=QByteArray)
        state = self.settings.value("window/state", QByteArray(), type=QByteArray)
        if geometry and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        if state and not state.isEmpty():
            self.restoreState(state, STATE_VERSION)
        self.transport.volume.setValue(self.settings.value("audio/volume", 80, type=int))

    def save_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))
        self.settings.setValue("audio/volume", self.transport.volume.value())
        if self.studio.project_dir is not None:
            self.settings.setValue("projects/last", str(self.studio.project_dir))
        self.settings.sync()

    def ask_close_with_jobs(self, n_running: int) -> str:
        """"later" (stop now, offered again next start), "keep" (do not close) or "cancel" (cancel and close)."""
        box = QMessageBox(QMessageBox.Icon.Question, "A job is running", "", parent=self)
        box.setText(
            f"{n_running} job{'s are' if n_running != 1 else ' is'} still composing. Closing stops "
            "it at the next step; its finished parts are kept."
        )
        later = box.addButton("Stop, resume next time", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        box.addButton("Cancel the job and close", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        return "later" if clicked is later else "keep" if clicked is keep or clicked is None else "cancel"

    def closeEvent(self, event: QCloseEvent) -> None:
        running = [j.job_id for j in self.jobs_model.jobs() if j.status == "running"]
        choice = self.ask_close_with_jobs(len(running)) if running else "later"
        if choice == "keep":
            event.ignore()
            self.show_message("Still composing; the window stays open.")
            return
        self.save_state()
        if self.studio.project_dir is not None:
            self._store_song_settings()
            try:
                self.studio.save()
            except OSError as exc:
                self.show_message(f"Could not save the project: {exc}", error=True)
        self.runner.shutdown()  # cancels at the next step; finished windows are saved by the engine
        if choice == "later":  # a job stopped by closing the window is offered again next time
            self.studio.requeue_interrupted(running)
        if self.model_manager is not None:
            self.model_manager.runner.shutdown()
        self.tasks.wait(10_000)
        self.growing.tasks.wait(10_000)  # a growing-waveform decode in flight finishes first
        self.audition.close()
        super().closeEvent(event)

    # ------------------------------------------------------------------ models
    def refresh_models(self) -> None:
        """List installed models in the background (the store imports torch); the picker fills when done."""

        def done(entries) -> None:
            saved = self.settings.value("model/current", "", type=str)
            wanted = self.song.model_combo.currentText() or saved or BUNDLED_NAME
            self.song.set_models([(e.name, e.status) for e in entries], wanted)
            if not entries:
                self.show_message("No model installed: Models ▸ Manage models… imports one.")
            self.models_listed.emit(len(entries))
            self.tasks.run(self.studio.warm_up, None, self._task_failed, label="import the sampling stack")

        self.tasks.run(self.studio.list_models, done, self._task_failed, label="list models")

    def _model_changed(self, name: str) -> None:
        if not name:
            self.song.set_vocabulary(None)
            return
        self.settings.setValue("model/current", name)

        def done(vocabulary) -> None:
            if self.song.model_combo.currentText() == name:
                self.song.set_vocabulary(vocabulary)
                self.resolve("model")
                self.vocabulary_ready.emit(name)
                # Load the chosen model now, while the user writes: loading holds the GIL in long
                # stretches (measured ~300 ms stalls) and would otherwise do so inside the first job.
                self.tasks.run(lambda: self.studio.models.get(name), None, self._preload_failed, label=f"load {name}")

        def failed(message: str) -> None:
            self.song.set_vocabulary(None)
            self.show_message(f"Model {name}: {message}", error=True, topic="model")

        self.tasks.run(lambda: self.studio.vocabulary(name), done, failed, label=f"vocabulary of {name}")

    def _preload_failed(self, message: str) -> None:
        self.show_message(f"The model cannot be loaded: {message}", error=True)

    def show_model_manager(self):
        from jukestudio.gui.widgets.model_manager import ModelManagerDialog

        if self.model_manager is None:
            self.model_manager = ModelManagerDialog(self.studio, self)
            self.model_manager.models_changed.connect(self.refresh_models)
            self.model_manager.download_opened.connect(self._follow_downloads)
        self.model_manager.refresh()
        self.model_manager.show()
        return self.model_manager

    # ------------------------------------------------------------------ projects
    def _ask_new_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "New project: choose an empty folder")
        if folder:
            self.new_project(Path(folder))

    def _ask_open_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open project folder")
        if folder:
            self.open_project(Path(folder))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in recent_projects(self.settings):
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_project(Path(f)))

    def new_project(self, folder: Path) -> bool:
        try:
            self.studio.new_project(folder, self.song.settings())
        except (OSError, ValueError) as exc:
            self.show_message(f"Could not create a project in {folder}: {exc}", error=True)
            return False
        self._project_opened()
        return True

    def open_project(self, folder: Path) -> bool:
        try:
            self.studio.open_project(folder)
        except (OSError, ValueError) as exc:
            self.show_message(f"Could not open {folder}: {exc}", error=True)
            return False
        settings = self.studio.project_settings()
        if settings is not None:
            self.song.set_settings(settings)
        self._project_opened()
        unfinished = self.studio.unfinished_jobs()  # before queueing the preview job below
        self.banner.offer(len(unfinished))
        previews = self.studio.preview_missing_job()
        if previews is not None:  # codes without audio (e.g. from a render box): decode in the background
            self._submit(previews)
        if unfinished:
            self.show_message(f"{len(unfinished)} unfinished job(s) in this project: resume them from the banner.")
        return True

    def _project_opened(self) -> None:
        folder = self.studio.project_dir
        add_recent_project(self.settings, folder)
        self.settings.setValue("projects/last", str(folder))
        self.setWindowTitle(f"jukestudio — {folder.name}")
        self._audio_cache.clear()
        self._prompt, self._prompt_name = None, ""  # a prompt belongs to the project it was dropped in
        self.song.set_prompt("")
        self.audition.unload()
        self.waveform.clear_take()
        self.jobs_model.remove_finished()  # the previous project's finished jobs are not this one's
        self.refresh_takes()
        self.show_message(f"Project {folder}")
        self._update_actions()
        previous = last_take(self.settings, folder)
        if previous and previous in self.takes.take_ids():
            self.takes.select(previous)  # where the musician left off

    def _ensure_project(self) -> bool:
        if self.studio.project_dir is not None:
            return True
        from jukestudio import paths

        base = paths.projects_dir()
        n = 1
        while (base / f"untitled-{n}").exists():
            n += 1
        return self.new_project(base / f"untitled-{n}")

    def _store_song_settings(self) -> None:
        if self.studio.project_dir is not None:
            self.studio.set_project_settings(self.song.settings())

    def save_project(self) -> bool:
        if not self._ensure_project():
            return False
        self._store_song_settings()
        try:
            self.studio.save()
        except OSError as exc:
            self.show_message(f"Could not save the project: {exc}", error=True)
            return False
        self.show_message(f"Saved {self.studio.project_dir}")
        return True

    def _ask_save_as(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save project as: choose a new, empty folder")
        if folder:
            self.save_project_as(Path(folder))

    def _ask_rename(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        if self.studio.project_dir is None:
            return
        name, ok = QInputDialog.getText(self, "Rename project", "New name:", text=self.studio.project_dir.name)
        if ok and name:
            self.rename_project(name)

    def _no_job_running(self, what: str) -> bool:
        if any(j.status in ("queued", "running") for j in self.jobs_model.jobs()):
            self.show_message(f"Wait for the running job (or cancel it) before you {what}.", error=True)
            return False
        return True

    def save_project_as(self, folder: Path) -> bool:
        if not self._ensure_project() or not self._no_job_running("save the project elsewhere"):
            return False
        self._store_song_settings()
        try:
            self.studio.save_as(folder)
        except (OSError, ValueError) as exc:
            self.show_message(f"Could not save the project as {folder}: {exc}", error=True)
            return False
        self._project_opened()
        self.show_message(f"Saved as {folder}; you are working there now.")
        return True

    def rename_project(self, name: str) -> bool:
        if self.studio.project_dir is None or not self._no_job_running("rename the project"):
            return False
        self._store_song_settings()
        try:
            new = self.studio.rename_project(name)
        except (OSError, ValueError) as exc:
            self.show_message(f"Could not rename the project: {exc}", error=True)
            return False
        self._project_opened()
        self.show_message(f"Project renamed: {new}")
        return True

    def autosave(self) -> None:
        if self.studio.project_dir is not None and self.studio.dirty:
            self.save_project()

    # ------------------------------------------------------------------ takes
    def refresh_takes(self) -> None:
        self.takes.set_takes(self.studio.takes() + self.growing.placeholders())
        ids = set(self.takes.take_ids())
        for stale in [t for t in self._audio_cache if t not in ids]:
            del self._audio_cache[stale]
        self.act_undo.setEnabled(self.studio.can_undo)
        self.act_redo.setEnabled(self.studio.can_redo)
        self.takes_refreshed.emit()

    def _take_action(self, action: str, ids: list[str]) -> None:
        ids = [i for i in ids if not is_placeholder(i)]  # takes still being composed have no codes yet
        if action == "continue":
            self.continue_takes(ids)
        elif action == "upsample":
            self.upsample(ids)
        elif action == "continue_here":
            self.continue_takes(ids[:1], from_s=self._here())
        elif action == "upsample_region":
            self.upsample(ids, region=self.waveform.region())
        elif action == "export" and ids:
            self._ask_export(ids[0])
        elif action == "delete":
            self.delete_takes(ids)
        elif action == "restore" and ids:
            self.song.set_settings(self.studio.take_settings(ids[0]))
            self.show_message("Settings of the take restored into the song panel.")

    def select_take(self, take_id: str, keep_position: bool = False) -> None:
        """Show and load a take; the decode runs in the background (A/B keeps the playhead)."""
        self._load_serial += 1
        serial = self._load_serial
        self.growing.focus(take_id)
        if self.growing.job_of(take_id) is not None:
            self._show_growing(take_id, first=True)
            return
        if self.studio.project_dir is not None:
            remember_take(self.settings, self.studio.project_dir, take_id)
        self.waveform.set_level_progress({})
        self.waveform.set_level_spans(self.studio.level_spans(take_id))
        cached = self._audio_cache.get(take_id)
        if cached is not None:
            self._show_take_audio(take_id, cached, keep_position)
            return
        self.transport.set_take("decoding…")

        def done(loaded: tuple[np.ndarray, PeakPyramid]) -> None:
            self._audio_cache[take_id] = loaded
            if serial == self._load_serial:
                self._show_take_audio(take_id, loaded, keep_position)

        self.tasks.run(
            lambda: with_peaks(self.studio.take_audio(take_id)), done, self._task_failed, label=f"decode {take_id}"
        )

    def _show_take_audio(self, take_id: str, loaded: tuple[np.ndarray, PeakPyramid], keep_position: bool) -> None:
        audio, pyramid = loaded
        position = self.audition.position_s
        if keep_position:
            self.audition.switch(take_id, audio)
        else:
            self.audition.load(take_id, audio)
        self.waveform.set_audio(audio, self.studio.sample_rate, pyramid)
        self.waveform.set_alignment(self.studio.alignment(take_id))
        take = self.takes.take(take_id)
        self.transport.set_take(take.name if take else take_id)
        self.waveform.set_playhead(position if keep_position else 0.0)
        self.take_loaded.emit(take_id)

    def _show_growing(self, take_id: str, first: bool = False) -> None:
        """A take being composed: what its finished windows decoded to so far, growing as they come."""
        audio = self.growing.audio(take_id)
        if audio is None:
            return
        source, available = peaks_from_pyramid(self.growing.peaks(take_id), self.studio.sample_rate)
        if first:
            self.waveform.set_peak_source(source, max(self.growing.expected_seconds(take_id), available), available)
            self.waveform.set_alignment([])
            self.waveform.set_level_progress({})
            self.waveform.set_level_spans({0: [(0.0, available)]} if available else {})
            self.audition.load(take_id, audio)
            self.transport.set_take(f"{self.takes.take(take_id).name if self.takes.take(take_id) else take_id}")
        else:
            self.waveform.grow(source, available)
            self.waveform.set_level_spans({0: [(0.0, available)]})
            self.audition.switch(take_id, audio)  # keeps the playhead: listen while it grows
        self.transport.set_position(self.audition.position_s, self.audition.duration_s)

    def _take_grew(self, job_id: str) -> None:
        shown = self.audition.take_id
        found = self.growing.job_of(shown) if shown else None
        if found is not None and found[0] == job_id:
            self._show_growing(shown)

    def audition_sibling(self, n: int) -> None:
        """Keys 1–9: switch to the n-th sibling of the current take, keeping the playhead."""
        current = self.audition.take_id or self.takes.current_id()
        if current is None:
            return
        siblings = self.takes.siblings(current)
        if 1 <= n <= len(siblings) and siblings[n - 1] != current:
            target = siblings[n - 1]
            self.takes.blockSignals(True)
            self.takes.select(target)
            self.takes.blockSignals(False)
            self.select_take(target, keep_position=True)

    def rename_take(self, take_id: str, name: str) -> None:
        self.studio.rename_take(take_id, name)
        self.refresh_takes()

    def rate_take(self, take_id: str, stars: int) -> None:
        self.studio.rate_take(take_id, stars)
        self.refresh_takes()

    def delete_takes(self, ids: list[str] | None = None) -> None:
        ids = ids or self.takes.selected_ids()
        if not ids:
            return
        self.studio.delete_takes(ids)
        if self.audition.take_id in ids:
            self.audition.unload()
            self.waveform.clear_take()
        self.refresh_takes()
        self.show_message(f"Deleted {len(ids)} take(s) — Edit ▸ Undo brings them back.")

    def undo(self) -> None:
        self._undo_redo(self.studio.undo(), "Undone")

    def redo(self) -> None:
        self._undo_redo(self.studio.redo(), "Redone")

    def _undo_redo(self, text: str | None, verb: str) -> None:
        self.refresh_takes()
        settings = self.studio.project_settings()
        if settings is not None and settings != self.song.settings():
            self.song.set_settings(settings)  # the undone step may have been a settings change
        if text:
            self.show_message(f"{verb}: {text}")

    # ------------------------------------------------------------------ transport
    def toggle_play(self) -> None:
        if self.audition.take_id is None and self.takes.current_id():
            self.select_take(self.takes.current_id())
            return
        if not self.audition.toggle() and not self.audition.available:
            self.show_message(self.audition.unavailable_reason or "Playback unavailable", error=True)

    def stop(self) -> None:
        self.audition.stop()

    def seek(self, seconds: float) -> None:
        self.audition.seek(seconds)
        self.waveform.set_playhead(self.audition.position_s)

    def toggle_loop(self) -> None:
        self.transport.loop_button.toggle()

    def _set_loop(self, on: bool) -> None:
        self.audition.set_region(self.waveform.region())
        self.audition.set_loop(on)

    def _position_changed(self, seconds: float) -> None:
        self.waveform.set_playhead(seconds)
        self.transport.set_position(seconds, self.audition.duration_s)

    # ------------------------------------------------------------------ prompt (open / drop)
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._audio_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._audio_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._audio_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_prompt(paths[0])

    @staticmethod
    def _audio_paths(mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        found = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        return [p for p in found if p.suffix.lower() in AUDIO_EXTENSIONS]

    def _ask_prompt(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in sorted(AUDIO_EXTENSIONS))
        name, _ = QFileDialog.getOpenFileName(self, "Open prompt audio", "", f"Audio ({patterns})")
        if name:
            self.open_prompt(Path(name))

    def open_prompt(self, path: Path) -> None:
        """Decode in the background; the prompt shows in the waveform (drag a region to trim it)."""
        self.show_message(f"Loading {path.name}…")

        def done(loaded: tuple[np.ndarray, PeakPyramid]) -> None:
            audio, pyramid = loaded
            self._prompt, self._prompt_name = audio, path.name
            self.audition.load("prompt", audio)
            self.waveform.set_audio(audio, self.studio.sample_rate, pyramid)
            self.waveform.set_alignment([])
            self.waveform.set_level_progress({})
            self.waveform.set_level_spans({})
            self.transport.set_take(f"prompt: {path.name}")
            seconds = len(audio) / self.studio.sample_rate
            self.song.set_prompt(f"Prompt: {path.name} ({seconds:.1f} s) — drag on the waveform to trim it.")
            self.show_message(f"Prompt {path.name} loaded ({seconds:.1f} s).")
            self.prompt_loaded.emit(path.name)

        self.tasks.run(lambda: with_peaks(self.studio.load_prompt(path)), done, self._task_failed, label=f"load {path}")

    def clear_prompt(self) -> None:
        """Drop the armed prompt: the next compose starts from silence (the prompt leaves the waveform)."""
        had = self._prompt is not None
        self._prompt, self._prompt_name = None, ""
        self.song.set_prompt("")
        if self.audition.take_id == "prompt":
            self.audition.unload()
            self.waveform.clear_take()
            self.transport.set_take("")
        if had:
            self.show_message("Prompt removed: Compose starts from silence.")
        self._update_actions()

    def _prompt_audio(self) -> np.ndarray | None:
        """The prompt, trimmed to the selected region when it is the prompt on show."""
        if self._prompt is None:
            return None
        region = self.waveform.region() if self.audition.take_id == "prompt" else None
        if region is None:
            return self._prompt
        sr = self.studio.sample_rate
        return self._prompt[int(region[0] * sr) : int(region[1] * sr)]

    # ------------------------------------------------------------------ jobs
    def _ensure_model(self) -> bool:
        if self.song.model_combo.currentText():
            return True
        self.show_message(
            "Choose a model first: import or download one in the model manager (jukestudio-tiny ships with the app).",
            error=True,
            topic="model",
        )
        self.show_model_manager()
        return False

    def confirm_inputs(self, check) -> bool:
        """Unknown names: compose with what the model knows (the fields then show it), or fix first."""
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Question, "Compose with what the model knows?", "", parent=self)
        box.setText("\n".join(check.notes))
        use = box.addButton("Compose with what it knows", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Fix first", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        return box.clickedButton() is use

    def compose(self) -> str | None:
        if not self._ensure_model() or not self._ensure_project():
            return None
        check = self.song.input_check()
        if check.unknown:
            if not self.confirm_inputs(check):
                self.show_message("Not composed: " + " ".join(check.notes))
                return None
            self.song.use_known_inputs(check)  # recorded and shown = what the model uses
        settings = self.song.settings()  # seed None = "random": the project keeps saying so
        prompt = self._prompt_audio()
        prompt_s = 0.0 if prompt is None else len(prompt) / self.studio.sample_rate
        if not self._fits_the_song(prompt_s, settings.take_length_s, "the prompt"):
            return None
        seed = self.song.next_seed()
        self._store_song_settings()
        try:
            spec = self.studio.compose_job(settings, seed, prompt, self._prompt_name)
        except ValueError as exc:
            self.show_message(str(exc), error=True)
            return None
        job_id = self._submit(spec)
        if check.notes:
            self.show_message(f"{self.last_message} — {' '.join(check.notes)}")
        return job_id

    def _fits_the_song(self, start_s: float, seconds: float, what: str) -> bool:
        """Refuse before queueing what would end after the declared song (the model cannot sample it)."""
        total = self.song.total_seconds.value()
        if start_s + seconds <= total + 1e-6:
            return True
        self.show_message(
            f"{what} plus {seconds:g} s ends at {start_s + seconds:.1f} s, after the song's {total:g} s: "
            "raise the song length or shorten the take.",
            error=True,
        )
        return False

    def _here(self) -> float:
        """Where "continue from here" cuts: the region's start, else the playhead."""
        region = self.waveform.region()
        return region[0] if region is not None else self.waveform.playhead

    def continue_takes(
        self, ids: list[str] | None = None, seconds: float | None = None, from_s: float | None = None
    ) -> str | None:
        ids = ids or ([self.audition.take_id] if from_s is not None and self.audition.take_id else None)
        ids = ids or self.takes.selected_ids()
        if not ids:
            self.show_message("Select a take to continue.", error=True)
            return None
        settings = self.song.settings()
        seed = self.song.next_seed()
        job_ids = []
        for take_id in ids:  # one job per take: N variations of each
            take = self.takes.take(take_id)
            start = from_s if from_s is not None else (take.duration_s if take else 0.0)
            if not self._fits_the_song(start, seconds or settings.take_length_s, take.name if take else take_id):
                continue
            try:
                spec = self.studio.continue_job(take_id, seconds or settings.take_length_s, settings, seed, from_s)
            except ValueError as exc:
                self.show_message(str(exc), error=True)
                continue
            job_ids.append(self._submit(spec))
        return job_ids[0] if job_ids else None

    def upsample(self, ids: list[str] | None = None, region: tuple[float, float] | None = None) -> str | None:
        ids = ids or self.takes.selected_ids()
        if not ids:
            self.show_message("Select the takes to upsample.", error=True)
            return None
        try:
            spec = self.studio.upsample_job(ids, region, self.song.settings())
        except ValueError as exc:
            self.show_message(str(exc), error=True)
            return None
        return self._submit(spec)

    def resume_unfinished(self) -> list[str]:
        self.banner.hide()
        pending = set(self.runner.pending())
        specs = [spec for spec in self.studio.resume_jobs() if spec.job_id not in pending]
        if not specs:
            self.show_message("No unfinished or cancelled job to resume in this project.")
        return [self._submit(spec) for spec in specs]

    def resume_job(self, job_id: str) -> str | None:
        """Resume one cancelled, failed or interrupted job from its last finished window."""
        spec = self.studio.resume_job(job_id)
        if spec is None:
            self.jobs_model.set_resumable(job_id, False)
            self.show_message("This job kept nothing to resume from.", error=True)
            return None
        return self._submit(spec)

    def _submit(self, spec: JobSpec) -> str:
        busy = any(j.status == "running" for j in self.jobs_model.jobs())
        self._job_kinds[spec.job_id] = spec
        self.jobs_model.add_job(spec.job_id, spec.label, spec.kind)
        self.jobs.follow(spec.job_id)
        self.runner.submit(spec.job_id, spec.fn, spec.label)
        self.growing.start(spec)
        placeholders = self.growing.placeholder_ids(spec.job_id)
        if placeholders and not self.audition.playing:
            self.takes.select(placeholders[0])  # watch the first take grow
        self.show_message(f"Queued after the running job: {spec.label}" if busy else f"Starting: {spec.label}")
        return spec.job_id

    def _follow_downloads(self, dialog) -> None:
        """A Hub download is a job like any other: its row shows bytes, %, speed and ETA; Cancel works."""
        self._download_dialog = dialog
        dialog.job_started.connect(self._download_started)
        dialog.job_progressed.connect(self._job_progressed)
        dialog.job_ended.connect(lambda job_id, status, message: self.jobs_model.set_status(job_id, status, message))

    def _download_started(self, job_id: str, label: str) -> None:
        self.jobs_model.add_job(job_id, label, "download", "running")
        self.jobs.follow(job_id)

    def cancel_job(self, job_id: str) -> None:
        row = self.jobs_model.job(job_id)
        if row is not None and row.is_download and getattr(self, "_download_dialog", None) is not None:
            self._download_dialog.cancel_job(job_id)
            self.show_message("Cancelling the download… what was fetched is kept.")
            return
        if self.runner.cancel(job_id):
            self.show_message("Cancelling… finished windows are kept.")

    def _job_started(self, job_id: str) -> None:
        self.jobs_model.set_status(job_id, "running")
        self.jobs.follow(job_id)
        spec = self._job_kinds.get(job_id)
        self.show_message(f"Running: {spec.label if spec else job_id}")

    def _job_progressed(self, job_id: str, progress) -> None:
        self.jobs_model.update_progress(job_id, progress)
        self.growing.progressed(job_id, progress)
        if not self.jobs.row_visible(job_id):
            self.jobs.follow(job_id)
        spec = self._job_kinds.get(job_id)
        shown = self.audition.take_id
        if spec is not None and shown in spec.take_ids and progress.n_windows:
            # live marker: how far the level being sampled has come over the span the job fills
            start, end = spec.region or (0.0, self.waveform.duration)
            markers = self.waveform.level_progress()
            markers[progress.level] = start + (end - start) * progress.window / progress.n_windows
            self.waveform.set_level_progress(markers)
        if progress.message and progress.message not in ("starting", "resuming", "done", self.last_message):
            self.show_message(progress.message)  # e.g. "out of GPU memory …: retrying with 2 takes at a time"

    def _job_finished(self, job_id: str, result) -> None:
        self.jobs_model.set_status(job_id, "done")
        self._after_job(job_id, result, "done")

    def _job_cancelled(self, job_id: str, result) -> None:
        resumable = self.studio.is_resumable(job_id)
        kept = self.studio.describe_kept(result, resumable)
        self.jobs_model.set_status(job_id, "cancelled", f"cancelled — {kept}")
        self.jobs_model.set_resumable(job_id, resumable)
        self._after_job(job_id, result, "cancelled")
        self.show_message(f"Job cancelled — {kept}.")

    def _job_failed(self, job_id: str, message: str) -> None:
        self.jobs_model.set_status(job_id, "failed", message)
        self.jobs_model.set_resumable(job_id, self.studio.is_resumable(job_id))
        self.show_message(f"Job failed: {message}", error=True)
        self._clear_live_markers(job_id)
        self._end_growth(job_id)
        self.refresh_takes()
        self.studio.job_ended(job_id)
        self.job_ended.emit(job_id, "failed")

    def _clear_live_markers(self, job_id: str) -> None:
        """A job that ended leaves no live marker: the take on show gets its finished spans again."""
        spec = self._job_kinds.get(job_id)
        shown = self.audition.take_id
        if spec is not None and shown in spec.take_ids:
            self.waveform.set_level_progress({})
            self.waveform.set_level_spans(self.studio.level_spans(shown))

    def _end_growth(self, job_id: str) -> int | None:
        """Remove the job's placeholder rows; the row of the one on show (to select its real take)."""
        shown = self.audition.take_id
        found = self.growing.job_of(shown) if shown else None
        row = found[1] if found is not None and found[0] == job_id else None
        if row is not None:
            self.audition.unload()
            self.waveform.clear_take()
        self.growing.ended(job_id)
        return row

    def _after_job(self, job_id: str, result, status: str) -> None:
        self._clear_live_markers(job_id)
        shown_row = self._end_growth(job_id)
        new_ids = self.studio.job_ended(job_id, result)
        for take_id in new_ids:
            self._audio_cache.pop(take_id, None)
        self.refresh_takes()
        if status == "done" and new_ids and self._job_kinds[job_id].kind != "preview":
            pick = new_ids[shown_row] if shown_row is not None and shown_row < len(new_ids) else new_ids[0]
            self.takes.select(pick)  # its preview decodes and shows at once
            self.show_message(f"{self._job_kinds[job_id].label}: done.")
        self.job_ended.emit(job_id, status)

    def _task_failed(self, message: str) -> None:
        self.show_message(message, error=True)

    # ------------------------------------------------------------------ export
    def _ask_export(self, take_id: str | None = None) -> None:
        from jukestudio.gui.widgets.export_dialog import ExportDialog

        take_id = take_id or self.audition.take_id or self.takes.current_id()
        if not take_id or take_id == "prompt":
            self.show_message("Select a take to export.", error=True)
            return
        take = self.takes.take(take_id)
        default = self.studio.project_dir / "exports" / f"{take.name if take else take_id}.wav"
        dialog = ExportDialog(
            self, str(default), has_region=self.waveform.region() is not None, warning=self.export_warning(take_id)
        )
        if self.run_dialog(dialog):
            choice = dialog.choice()
            region = self.waveform.region() if choice.region_only else None
            self.export_take(take_id, Path(choice.path), choice.subtype, choice.normalise, region)

    def show_export_folder(self) -> None:
        """Open the folder of the last export in the system's file manager."""
        if self._exported_to is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._exported_to)))

    def run_dialog(self, dialog) -> bool:
        """Modal dialogs go through here (tests answer them without a user)."""
        return bool(dialog.exec())

    def export_warning(self, take_id: str) -> str:
        """A preview-quality take exports fine but sounds coarse: say so (not a refusal)."""
        take = self.takes.take(take_id)
        if take is None or take.status not in ("coarse", "level1", "partial"):
            return ""
        what = {"coarse": "Preview", "level1": "Middle", "partial": "Preview (with a full-quality region)"}
        return (
            f"This take is at {what[take.status]} quality only: it will sound coarse. "
            "Upsample it (Take ▸ Upsample selected) for full quality, or export it anyway as a sketch."
        )

    def export_take(
        self,
        take_id: str,
        path: Path,
        subtype: str = "PCM_16",
        normalise: bool = False,
        region: tuple[float, float] | None = None,
    ) -> None:
        self.show_message(f"Exporting {path.name}…")

        def done(report) -> None:
            self.show_message(self.studio.describe_export(report))
            self._exported_to = Path(report.path).parent
            self.show_folder_button.setToolTip(str(self._exported_to))
            self.show_folder_button.show()

        self.tasks.run(
            lambda: self.studio.export(take_id, path, subtype, normalise, region),
            done,
            self._task_failed,
            label=f"export {path}",
        )
