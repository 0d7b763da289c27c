"""The window's actions, menus, toolbar and DAW keys, built in one place (the window keeps the slots)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence, QShortcut

from jukestudio.gui.icons import icon

if TYPE_CHECKING:
    from jukestudio.gui.main_window import MainWindow


def build(window: MainWindow) -> None:
    _build_actions(window)
    _build_menus(window)
    _build_shortcuts(window)
    update(window)


def _action(
    window: MainWindow,
    text: str,
    slot,
    shortcut: QKeySequence | str | None = None,
    icon_name: str = "",
    tip: str = "",
) -> QAction:
    action = QAction(icon(icon_name) if icon_name else QIcon(), text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    plain = text.replace("&", "").rstrip("…")
    action.setToolTip(f"{tip or plain}" + (f" ({keys})" if keys else ""))  # shortcuts in every tooltip
    action.setStatusTip(tip or plain)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def _hint(window: MainWindow, text: str, keys: str, slot) -> QAction:
    """A menu entry for a DAW key (handled by a QShortcut so text fields keep their keys): the key is
    shown in the menu's shortcut column and the tooltip."""
    action = QAction(f"{text}\t{keys}", window)
    action.setToolTip(f"{text} ({keys})")
    action.triggered.connect(lambda _checked=False: slot())
    return action


def update(window: MainWindow) -> None:
    """Enable what the current selection, region and jobs allow (called whenever one of them changes)."""
    from jukestudio.gui.growing import is_placeholder

    takes = [t for t in window.takes.selected_ids() if not is_placeholder(t)]
    shown = window.audition.take_id
    has_take = bool(takes)
    running = any(j.status in ("queued", "running") for j in window.jobs_model.jobs())
    region = window.waveform.region() is not None
    on_take = bool(shown) and shown != "prompt" and not is_placeholder(shown)
    window.act_continue.setEnabled(has_take)
    window.act_upsample.setEnabled(has_take)
    window.act_delete.setEnabled(has_take)
    window.act_export.setEnabled(has_take or on_take)
    window.act_continue_here.setEnabled(on_take or has_take)
    window.act_upsample_region.setEnabled((on_take or has_take) and region)
    window.act_cancel.setEnabled(running)
    window.act_clear_prompt.setEnabled(window._prompt is not None)
    project = window.studio.project_dir is not None
    window.act_save_as.setEnabled(project)
    window.act_rename.setEnabled(project)


def _build_actions(window: MainWindow) -> None:
    window.act_new = _action(window, "&New project…", window._ask_new_project, QKeySequence.StandardKey.New)
    window.act_open = _action(window, "&Open project…", window._ask_open_project, QKeySequence.StandardKey.Open)
    window.act_save = _action(window, "&Save project", window.save_project, QKeySequence.StandardKey.Save)
    window.act_save_as = _action(
        window, "Save project &as…", window._ask_save_as, "Ctrl+Shift+S", tip="Copy the project to a new folder"
    )
    window.act_rename = _action(window, "Re&name project…", window._ask_rename, tip="Give the project a name")
    window.act_clear_prompt = _action(
        window, "&Remove prompt", window.clear_prompt, tip="Compose from silence again (or ✕ on the prompt chip)"
    )
    window.act_prompt = _action(window, "Open &prompt audio…", window._ask_prompt, "Ctrl+Shift+O")
    window.act_export = _action(window, "&Export WAV…", window._ask_export, "Ctrl+E", "export")
    window.act_quit = _action(window, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    window.act_undo = _action(window, "&Undo", window.undo, QKeySequence.StandardKey.Undo)
    window.act_redo = _action(window, "&Redo", window.redo, QKeySequence.StandardKey.Redo)
    window.act_compose = _action(
        window, "&Compose takes", window.compose, "Ctrl+Return", "compose", "Sample new takes from the song settings"
    )
    window.act_continue = _action(
        window, "C&ontinue selected", lambda: window.continue_takes(), "Ctrl+Shift+C", "continue"
    )
    window.act_upsample = _action(window, "&Upsample selected", lambda: window.upsample(), "Ctrl+U", "upsample")
    window.act_continue_here = _action(
        window, "Continue from &here", lambda: window.continue_takes(from_s=window._here()), None, "continue"
    )
    window.act_upsample_region = _action(
        window, "Upsample &region", lambda: window.upsample(region=window.waveform.region()), None, "upsample"
    )
    window.act_delete = _action(window, "&Delete take", lambda: window.delete_takes(), QKeySequence.StandardKey.Delete)
    window.act_models = _action(window, "&Manage models…", window.show_model_manager)
    window.act_resume = _action(
        window, "&Resume jobs", window.resume_unfinished, tip="Resume unfinished and cancelled jobs where they stopped"
    )
    window.act_cancel = _action(window, "Cancel running job", window.jobs.cancel_selected, "Ctrl+.", "cancel")
    window.act_delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    window.takes.addAction(window.act_delete)


def _build_menus(window: MainWindow) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    for action in (window.act_new, window.act_open):
        file_menu.addAction(action)
    window.recent_menu = file_menu.addMenu("Open &recent")
    window.recent_menu.aboutToShow.connect(window._fill_recent_menu)
    file_menu.addAction(window.act_save)
    file_menu.addAction(window.act_save_as)
    file_menu.addAction(window.act_rename)
    file_menu.addSeparator()
    file_menu.addAction(window.act_prompt)
    file_menu.addAction(window.act_clear_prompt)
    file_menu.addAction(window.act_export)
    file_menu.addSeparator()
    file_menu.addAction(window.act_quit)
    edit = bar.addMenu("&Edit")
    edit.addAction(window.act_undo)
    edit.addAction(window.act_redo)
    edit.addAction(window.act_delete)
    take = bar.addMenu("&Take")
    for action in (
        window.act_compose,
        window.act_continue,
        window.act_continue_here,
        window.act_upsample,
        window.act_upsample_region,
    ):
        take.addAction(action)
    take.addSeparator()
    take.addAction(window.act_resume)
    take.addAction(window.act_cancel)
    play = bar.addMenu("&Play")
    window.play_menu = play
    play.addAction(_hint(window, "Play / pause", "Space", window.toggle_play))
    play.addAction(_hint(window, "Stop and return to start", "Home", window.stop))
    play.addAction(_hint(window, "Loop the selected region", "L", window.toggle_loop))
    play.addSeparator()
    play.addAction(_hint(window, "Switch to sibling take 1–9, keeping the playhead", "1 … 9", lambda: None))
    models = bar.addMenu("&Models")
    models.addAction(window.act_models)
    view = bar.addMenu("&View")
    for dock in window.docks.values():
        view.addAction(dock.toggleViewAction())
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("toolbar_main")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)  # words, not riddles
    for action in (window.act_compose, window.act_continue, window.act_upsample, window.act_export, window.act_cancel):
        toolbar.addAction(action)


def _build_shortcuts(window: MainWindow) -> None:
    """DAW keys. Text fields keep their own keys (Qt gives printable keys to the focused editor)."""
    pairs = [
        (Qt.Key.Key_Space, window.toggle_play),
        (Qt.Key.Key_Home, window.stop),
        (Qt.Key.Key_L, window.toggle_loop),
    ]
    pairs += [(getattr(Qt.Key, f"Key_{n}"), lambda n=n: window.audition_sibling(n)) for n in range(1, 10)]
    window._shortcuts = []
    for key, slot in pairs:
        shortcut = QShortcut(QKeySequence(key), window)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(slot)
        window._shortcuts.append(shortcut)
