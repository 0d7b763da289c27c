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


def _action(
    window: MainWindow, text: str, slot, shortcut: QKeySequence | str | None = None, icon_name: str = ""
) -> QAction:
    action = QAction(icon(icon_name) if icon_name else QIcon(), text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _checked=False: slot())
    return action


def _build_actions(window: MainWindow) -> None:
    window.act_new = _action(window, "&New project…", window._ask_new_project, QKeySequence.StandardKey.New)
    window.act_open = _action(window, "&Open project…", window._ask_open_project, QKeySequence.StandardKey.Open)
    window.act_save = _action(window, "&Save project", window.save_project, QKeySequence.StandardKey.Save)
    window.act_prompt = _action(window, "Open &prompt audio…", window._ask_prompt, "Ctrl+Shift+O")
    window.act_export = _action(window, "&Export WAV…", window._ask_export, "Ctrl+E", "export")
    window.act_quit = _action(window, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    window.act_undo = _action(window, "&Undo", window.undo, QKeySequence.StandardKey.Undo)
    window.act_redo = _action(window, "&Redo", window.redo, QKeySequence.StandardKey.Redo)
    window.act_compose = _action(window, "&Compose takes", window.compose, "Ctrl+Return", "compose")
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
    window.act_resume = _action(window, "&Resume unfinished jobs", window.resume_unfinished)
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
    file_menu.addSeparator()
    file_menu.addAction(window.act_prompt)
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
    models = bar.addMenu("&Models")
    models.addAction(window.act_models)
    view = bar.addMenu("&View")
    for dock in window.docks.values():
        view.addAction(dock.toggleViewAction())
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("toolbar_main")
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
