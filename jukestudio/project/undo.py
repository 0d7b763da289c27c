"""An undo stack over document actions: one entry per user action, Qt-free.

A command is applied once by whoever creates it, then pushed. ``undo``/``redo`` flip it. When the
stack forgets a command (the redo branch is dropped by a new action, or the history is longer than
``limit``), the command's ``discard(applied)`` runs: a deletion that can no longer be undone empties
its trash folder then.
"""

from __future__ import annotations

from typing import Protocol


class Command(Protocol):
    label: str

    def undo(self) -> None: ...
    def redo(self) -> None: ...
    def discard(self, applied: bool) -> None: ...


class UndoStack:
    def __init__(self, limit: int = 200) -> None:
        if limit < 1:
            raise ValueError("undo limit must be ≥ 1")
        self.limit = limit
        self._done: list[Command] = []
        self._undone: list[Command] = []

    def push(self, command: Command) -> None:
        """Record a command that has just been applied."""
        self._drop_redo()
        self._done.append(command)
        while len(self._done) > self.limit:
            self._done.pop(0).discard(True)

    def undo(self) -> str | None:
        """Undo the last action; returns its label, or None when there is nothing to undo."""
        if not self._done:
            return None
        command = self._done.pop()
        command.undo()
        self._undone.append(command)
        return command.label

    def redo(self) -> str | None:
        if not self._undone:
            return None
        command = self._undone.pop()
        command.redo()
        self._done.append(command)
        return command.label

    def clear(self) -> None:
        """Forget everything (on close): deletions become final."""
        self._drop_redo()
        while self._done:
            self._done.pop().discard(True)

    def _drop_redo(self) -> None:
        while self._undone:
            self._undone.pop().discard(False)

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_label(self) -> str | None:
        return self._done[-1].label if self._done else None

    @property
    def redo_label(self) -> str | None:
        return self._undone[-1].label if self._undone else None

    def __len__(self) -> int:
        return len(self._done)
