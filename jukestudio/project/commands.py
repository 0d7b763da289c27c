"""The undoable document actions. They are the document's friends: they touch its private state
(``_takes``, ``_settings``, dirty flags) so that the action and its undo live side by side here."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jukestudio.project import store
from jukestudio.project.settings import ProjectSettings
from jukestudio.project.takes import Take, new_take_id

if TYPE_CHECKING:
    from jukestudio.project.document import Project


@dataclass
class SetTakeFields:
    """Sets only the fields the user changed, so engine updates made in between (status) survive undo."""

    project: Project
    label: str
    take_id: str
    old: dict[str, Any]
    new: dict[str, Any]

    def _put(self, values: dict[str, Any]) -> None:
        take = self.project.take(self.take_id).copy(**values)
        self.project._takes[take.id] = take
        self.project._dirty_takes.add(take.id)
        self.project._emit("take_changed", (take.id,))

    def redo(self) -> None:
        self._put(self.new)

    def undo(self) -> None:
        self._put(self.old)

    def discard(self, applied: bool) -> None:
        pass


@dataclass
class ReplaceSettings:
    project: Project
    before: ProjectSettings
    after: ProjectSettings
    label: str = "Change settings"

    def _put(self, settings: ProjectSettings) -> None:
        self.project._settings = settings
        self.project._settings_dirty = True
        self.project._emit("settings_changed", ())

    def redo(self) -> None:
        self._put(self.after)

    def undo(self) -> None:
        self._put(self.before)

    def discard(self, applied: bool) -> None:
        pass


class DeleteTakes:
    """Moves take folders to ``trash/<id>/`` and back; the trash goes when the deletion becomes final."""

    def __init__(self, project: Project, takes: list[Take]) -> None:
        self.project = project
        self.takes = takes
        self.trash = project.folder / store.TRASH_DIR / new_take_id()
        root = takes[0]
        extra = f" and {len(takes) - 1} more" if len(takes) > 1 else ""
        self.label = f"Delete “{root.name}”{extra}"

    def redo(self) -> None:
        self.trash.mkdir(parents=True, exist_ok=True)
        moved: list[Take] = []
        try:
            for take in self.takes:
                source = self.project.take_dir(take.id)
                if source.exists():
                    os.replace(source, self.trash / take.id)
                moved.append(take)
        except OSError:
            # e.g. Windows refuses to move a folder with an open file: put back what moved, change nothing.
            for take in moved:
                kept = self.trash / take.id
                if kept.exists():
                    os.replace(kept, self.project.take_dir(take.id))
            shutil.rmtree(self.trash, ignore_errors=True)
            raise
        for take in self.takes:
            self.project._takes.pop(take.id, None)
            self.project._dirty_takes.discard(take.id)
        self.project._emit("takes_removed", (t.id for t in self.takes))

    def undo(self) -> None:
        for take in self.takes:
            kept = self.trash / take.id
            if kept.exists():
                os.replace(kept, self.project.take_dir(take.id))
            self.project._takes[take.id] = take
            # Edits made before the deletion may not have been saved: save them with the next save.
            self.project._dirty_takes.add(take.id)
        shutil.rmtree(self.trash, ignore_errors=True)
        self.project._emit("takes_restored", (t.id for t in self.takes))

    def discard(self, applied: bool) -> None:
        if applied:
            shutil.rmtree(self.trash, ignore_errors=True)
