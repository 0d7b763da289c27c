"""The take tree: parent → children, status badge, duration, rating, and a context menu of actions.

The panel shows :class:`TakeItem` values (plain data the window builds from the project) and emits
requests; it never touches the project itself.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QPainter
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTreeWidget, QTreeWidgetItem, QWidget

from jukestudio.gui.records import TakeItem

BADGES = {  # status → (text, colour); the words are the window's quality vocabulary (wording.py)
    "prompt": ("prompt", "#9aa5b1"),
    "sampling": ("composing", "#ffe066"),
    "empty": ("empty", "#7b8491"),
    "coarse": ("Preview", "#c49bff"),
    "level1": ("Middle", "#7bd389"),
    "full": ("Full quality", "#5aa9e6"),
    "partial": ("partial", "#7bd389"),  # a region upsampled beyond the rest: the detail says where
}
ID_ROLE = Qt.ItemDataRole.UserRole
NAME_MIN_PX = 90  # the take's name keeps at least this much of the row
EMPTY_TEXT = "No takes yet.\nCompose takes (Ctrl+Return) and they appear here at once, growing while they are composed."


def format_length(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{secs:04.1f}"


class TakesPanel(QTreeWidget):
    """Emits ``take_selected(id)`` and ``action_requested(action, [ids])`` (see ACTIONS)."""

    take_selected = Signal(str)
    action_requested = Signal(str, list)
    renamed = Signal(str, str)  # take_id, new name
    rated = Signal(str, int)

    ACTIONS = (
        ("continue", "Continue"),
        ("continue_here", "Continue from here (playhead or region start)"),
        ("upsample", "Upsample"),
        ("upsample_region", "Upsample region"),
        ("export", "Export WAV…"),
        ("rename", "Rename"),
        ("delete", "Delete"),
        ("restore", "Restore its settings"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(4)
        self.setHeaderLabels(["Take", "Status", "Length", "Rating"])
        self.header().setStretchLastSection(False)
        self.header().setMinimumSectionSize(40)
        self.setIndentation(14)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._show_menu)
        self.itemSelectionChanged.connect(self._selection_changed)
        self.itemChanged.connect(self._item_changed)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._takes: dict[str, TakeItem] = {}
        self._updating = False

    # -- content ------------------------------------------------------------------------------
    def set_takes(self, takes: list[TakeItem]) -> None:
        """Rebuild the tree, keeping the selection and expansion where the takes still exist."""
        selected = self.selected_ids()
        self._updating = True
        self.clear()
        self._items, self._takes = {}, {t.take_id: t for t in takes}
        pending = list(takes)
        while pending:  # parents before children, whatever the input order
            progressed = False
            for take in list(pending):
                parent_item = self._items.get(take.parent_id) if take.parent_id else None
                if take.parent_id and parent_item is None and take.parent_id in self._takes:
                    continue
                item = QTreeWidgetItem(parent_item or self.invisibleRootItem())
                self._fill(item, take)
                self._items[take.take_id] = item
                pending.remove(take)
                progressed = True
            if not progressed:  # a cycle cannot happen in a valid project; show the rest at the root
                for take in pending:
                    item = QTreeWidgetItem(self.invisibleRootItem())
                    self._fill(item, take)
                    self._items[take.take_id] = item
                break
        self.expandAll()
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # names get the room
        self._fit_columns()
        self._updating = False
        for take_id in selected:
            if take_id in self._items:
                self._items[take_id].setSelected(True)

    def _fit_columns(self) -> None:
        """Status, length and rating as wide as their text, but the name keeps NAME_MIN_PX: a long
        badge is elided (its tooltip has it all) rather than the take's name."""
        widths = {}
        for column in (2, 3, 1):
            self.resizeColumnToContents(column)
            widths[column] = self.columnWidth(column) + 16  # the style's cell margins
        room = self.viewport().width() - NAME_MIN_PX - widths[2] - widths[3]
        widths[1] = max(60, min(widths[1], room))
        for column, width in widths.items():
            self.setColumnWidth(column, width)

    def resizeEvent(self, event) -> None:  # Qt override
        super().resizeEvent(event)
        self._fit_columns()

    def _fill(self, item: QTreeWidgetItem, take: TakeItem) -> None:
        text, colour = BADGES.get(take.status, (take.status, "#cccccc"))
        item.setText(0, take.name)
        item.setText(1, f"{text}: {take.detail}" if take.detail else text)
        if take.status == "partial":
            item.setToolTip(1, f"{take.detail} is upsampled to full quality; the rest is at the take's own quality")
        item.setForeground(1, QBrush(QColor(colour)))
        item.setText(2, format_length(take.duration_s))
        item.setText(3, "★" * take.rating + "☆" * (5 - take.rating))
        item.setData(0, ID_ROLE, take.take_id)
        if take.status != "sampling":  # a take being composed gets its name when it exists
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)

    def take(self, take_id: str) -> TakeItem | None:
        return self._takes.get(take_id)

    def take_ids(self) -> list[str]:
        return list(self._takes)

    def select(self, take_id: str) -> None:
        item = self._items.get(take_id)
        if item is not None:
            self.setCurrentItem(item)

    def selected_ids(self) -> list[str]:
        return [i.data(0, ID_ROLE) for i in self.selectedItems()]

    def current_id(self) -> str | None:
        item = self.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    def siblings(self, take_id: str) -> list[str]:
        """Takes with the same parent, in tree order (the A/B set for keys 1–9)."""
        take = self._takes.get(take_id)
        if take is None:
            return []
        return [t.take_id for t in self._takes.values() if t.parent_id == take.parent_id]

    def badge(self, take_id: str) -> str:
        item = self._items.get(take_id)
        return item.text(1) if item else ""

    # -- interaction --------------------------------------------------------------------------
    def _selection_changed(self) -> None:
        if self._updating:
            return
        take_id = self.current_id()
        if take_id:
            self.take_selected.emit(take_id)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        take_id = item.data(0, ID_ROLE)
        old = self._takes.get(take_id)
        name = item.text(0).strip()
        if old is not None and name and name != old.name:
            self.renamed.emit(take_id, name)

    def build_menu(self, ids: list[str]) -> QMenu:
        menu = QMenu(self)
        for key, label in self.ACTIONS:
            action = QAction(label, menu)
            action.setObjectName(f"take_{key}")
            action.triggered.connect(lambda _=False, k=key, i=list(ids): self._request(k, i))
            menu.addAction(action)
        rate = menu.addMenu("Rate")
        for stars in range(6):
            action = QAction("★" * stars or "no rating", rate)
            action.triggered.connect(lambda _=False, s=stars, i=list(ids): [self.rated.emit(t, s) for t in i])
            rate.addAction(action)
        return menu

    def _request(self, key: str, ids: list[str]) -> None:
        if key == "rename" and ids:
            self.editItem(self._items[ids[0]], 0)
            return
        self.action_requested.emit(key, ids)

    def paintEvent(self, event) -> None:  # Qt override: say what to do when there is nothing yet
        super().paintEvent(event)
        if self.topLevelItemCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#7b8491"))
            painter.drawText(
                self.viewport().rect().adjusted(12, 12, -12, -12),
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap),
                EMPTY_TEXT,
            )

    def _show_menu(self, pos: QPoint) -> None:
        ids = self.selected_ids()
        if ids:
            self.build_menu(ids).exec(self.viewport().mapToGlobal(pos))
