"""Artist and genre pickers: a line edit whose completer is fed by a search function.

``search(query, limit) -> list[str]`` comes from the active model's vocabulary. With ``max_items > 1``
the field takes several comma-separated names (v2 models: up to 5 genre words) and completes the
one being typed. Names the vocabulary does not know are flagged (red frame + tooltip).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

Search = Callable[[str, int], list[str]]
Known = Callable[[str], bool]
SEARCH_LIMIT = 50


class SearchPicker(QLineEdit):
    """Type to search; pick from the popup. ``values()`` gives the chosen names."""

    values_changed = Signal(list)

    def __init__(self, parent: QWidget | None = None, max_items: int = 1, placeholder: str = "") -> None:
        super().__init__(parent)
        self._search: Search | None = None
        self._known: Known | None = None
        self._max_items = max_items
        self._model = QStringListModel(self)
        self._completer = QCompleter(self._model, self)
        # The search function already ranks and filters; show its results as they are.
        self._completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self._completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._completer.setWidget(self)
        self._completer.activated[str].connect(self._insert_completion)
        self.setPlaceholderText(placeholder)
        self.textEdited.connect(self._on_edited)
        self.textChanged.connect(self._validate)
        self._unknown: list[str] = []

    # -- configuration --------------------------------------------------------------------------
    def set_search(self, search: Search | None, known: Known | None = None, max_items: int | None = None) -> None:
        self._search, self._known = search, known
        if max_items is not None:
            self._max_items = max(1, max_items)
        self._validate()

    @property
    def max_items(self) -> int:
        return self._max_items

    def completer_model(self) -> QStringListModel:
        return self._model

    def completer(self) -> QCompleter:  # type: ignore[override]
        return self._completer

    # -- values ---------------------------------------------------------------------------------
    def values(self) -> list[str]:
        if self._max_items == 1:
            return [self.text().strip()] if self.text().strip() else []
        return [part.strip() for part in self.text().split(",") if part.strip()]

    def set_values(self, values: list[str]) -> None:
        self.setText(", ".join(values[: self._max_items]))

    def unknown(self) -> list[str]:
        return list(self._unknown)

    # -- behaviour ------------------------------------------------------------------------------
    def _current_fragment(self) -> str:
        if self._max_items == 1:
            return self.text().strip()
        return self.text().split(",")[-1].strip()

    def _on_edited(self, _text: str) -> None:
        if self._search is None:
            return
        fragment = self._current_fragment()
        self._model.setStringList(self._search(fragment, SEARCH_LIMIT) if fragment else [])
        if fragment and self._model.rowCount():
            self._completer.complete()
        else:
            self._completer.popup().hide()

    def _insert_completion(self, name: str) -> None:
        if self._max_items == 1:
            self.setText(name)
        else:
            parts = [p.strip() for p in self.text().split(",")][:-1]
            self.setText(", ".join([*[p for p in parts if p], name][: self._max_items]))
        self.values_changed.emit(self.values())

    def _validate(self, *_: object) -> None:
        values = self.values()
        self._unknown = [v for v in values if self._known is not None and not self._known(v)]
        problems = []
        if self._unknown:
            problems.append("Not in this model's list: " + ", ".join(self._unknown))
        if len(values) > self._max_items:
            problems.append(f"This model takes at most {self._max_items}.")
        self.setProperty("invalid", bool(problems))
        self.setStyleSheet("QLineEdit { border: 1px solid #ff5964; }" if problems else "")
        self.setToolTip("\n".join(problems))
        self.values_changed.emit(values)
