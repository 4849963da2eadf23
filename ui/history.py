"""The history panel: projects and their runs, with full-text search."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSignalBlocker,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QStandardItemModel
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.cost_text import cost_text
from ui import theme

if TYPE_CHECKING:
    from app.storage.records import RunSummary, SearchHit

RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PROJECT_ROLE = Qt.ItemDataRole.UserRole + 2
META_ROLE = Qt.ItemDataRole.UserRole + 3
"""A run row's second line: "Dec 07 03:18 · completed · $0.0012"."""
HIT_ROLE = Qt.ItemDataRole.UserRole + 4
"""In search results, a run row's third line: where it matched (a SearchHit), or None."""

STATUS_MARKS = {
    "completed": "✓", "failed": "✗", "running": "●", "paused": "Ⅱ",
    "cancelled": "–", "interrupted": "⚠", "planned": "○",
}
PARTIAL_MARK = "◐"
"""A completed run whose deliverable is partial (some tasks were rejected)."""


class HistoryPanel(QWidget):
    """Projects, each with its runs (newest first); a search box over all history.

    `load` is called with the search text ("" for everything) and returns runs;
    the panel never touches storage itself.
    """

    runSelected = Signal(str)
    projectSelected = Signal(str)
    projectBudgetRequested = Signal(str)
    """A project's "Monthly budget…" (its context menu): the project's name."""

    SEARCH_DELAY_MS = 200  # debounce: searching on every keystroke is wasteful

    def __init__(self, load: Callable[[str], Sequence[RunSummary]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._load = load
        self.search = QLineEdit(placeholderText="Search goals, plans, outputs…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.model = QStandardItemModel(self)
        self.model.setHorizontalHeaderLabels(["Run"])
        self._bold = self.font()
        self._bold.setBold(True)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setWordWrap(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setIndentation(14)
        self.tree.setEditTriggers(QTreeView.EditTrigger.NoEditTriggers)
        self.tree.setItemDelegate(RunRowDelegate(self.tree))
        self.empty = QLabel("No runs yet. Type a goal to start.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text); padding: 16px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        self._timer = QTimer(self, singleShot=True, interval=self.SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._on_search_changed)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_context_menu)

    def project_menu(self, project: str) -> QMenu:
        """A project's context menu: its monthly budget."""
        menu = QMenu(self)
        action = menu.addAction("Monthly budget…")
        action.setToolTip("What this project's runs may spend in a calendar month before they ask")
        action.triggered.connect(lambda: self.projectBudgetRequested.emit(project))
        return menu

    def _on_context_menu(self, where: QPoint) -> None:
        index = self.tree.indexAt(where)
        project = index.data(PROJECT_ROLE) if index.isValid() and not index.data(RUN_ID_ROLE) else None
        if project:
            menu = self.project_menu(project)
            menu.aboutToHide.connect(menu.deleteLater)
            menu.popup(self.tree.viewport().mapToGlobal(where))

    def refresh(self) -> None:
        text = self.search.text().strip()
        runs = self._load(text)
        self._fill(runs, expand=bool(text))
        if not runs:
            self.empty.setText(f"No runs match “{text}”." if text else "No runs yet. Type a goal to start.")
        self.empty.setVisible(not runs)

    def show_loading(self) -> None:
        """Until the first refresh(): the database is still being opened."""
        self.empty.setText("Loading history…")
        self.empty.setVisible(True)

    def select_run(self, run_id: str) -> None:
        index = self._run_index(run_id)
        if index.isValid():
            self.tree.setCurrentIndex(index)

    def run_ids(self) -> list[str]:
        """Ids of the runs shown, top to bottom (for tests and keyboard nav)."""
        return [run_id for keys in (self._keys(self.model.index(r, 0), RUN_ID_ROLE)
                                    for r in range(self.model.rowCount()))
                for run_id in keys]

    def _run_index(self, run_id: str) -> QModelIndex:
        for row in range(self.model.rowCount()):
            project = self.model.index(row, 0)
            for child_row in range(self.model.rowCount(project)):
                index = self.model.index(child_row, 0, project)
                if index.data(RUN_ID_ROLE) == run_id:
                    return index
        return QModelIndex()

    def _fill(self, runs: Sequence[RunSummary], expand: bool) -> None:
        # A refresh is not the person selecting a run: the selection model's
        # signals stay blocked while rows change (reacting to a moved current
        # index by opening a run mid-update is wrong).
        selected = self.tree.currentIndex().data(RUN_ID_ROLE)
        with QSignalBlocker(self.tree.selectionModel()):
            self._rebuild(runs, expand)
            if selected and self.tree.currentIndex().data(RUN_ID_ROLE) != selected:
                self.select_run(selected)

    def _rebuild(self, runs: Sequence[RunSummary], expand: bool) -> None:
        """Bring the model to `runs` in place.

        Rows are only inserted or removed for runs and projects that appear or
        go; a run that is still listed keeps its row and gets new text, so the
        indexes the view holds (current, selection, expanded, scroll) stay
        valid. Rows are made by the model itself (insertRows/setData), never as
        QStandardItems built in Python: deleting a Python-made item runs
        Shiboken's wrapper teardown inside removeRows (with the GIL released
        for the call), and that teardown is where the window segfaulted
        (issue 12: QStandardItem::removeRows -> Shiboken::Object::destroy ->
        BindingManager::releaseWrapper). Items made by the model have no
        Python wrapper to tear down; never call model.item() on them.
        """
        by_project: dict[str, list[RunSummary]] = {}
        for run in runs:
            by_project.setdefault(run.project, []).append(run)
        root = QModelIndex()
        self._sync_rows(root, list(by_project), PROJECT_ROLE)
        for row, (name, project_runs) in enumerate(by_project.items()):
            project = self.model.index(row, 0, root)
            self._set(project, {
                Qt.ItemDataRole.DisplayRole: f"{name}  ({len(project_runs)})",
                PROJECT_ROLE: name,
                Qt.ItemDataRole.FontRole: self._bold,
            })
            if self.model.columnCount(project) == 0:
                self.model.insertColumns(0, 1, project)
            self._sync_rows(project, [run.id for run in project_runs], RUN_ID_ROLE)
            for child_row, run in enumerate(project_runs):
                self._set(self.model.index(child_row, 0, project), _run_data(run))
        if expand or len(by_project) <= 3:
            self.tree.expandAll()

    def _keys(self, parent: QModelIndex, role: int) -> list[str]:
        return [self.model.index(r, 0, parent).data(role) for r in range(self.model.rowCount(parent))]

    def _sync_rows(self, parent: QModelIndex, wanted: list[str], role: int) -> None:
        """Rows under `parent` become one per key of `wanted`, in that order;
        rows whose key stays are kept (and keep their children)."""
        current = self._keys(parent, role)
        keep = set(wanted)
        for row in reversed(range(len(current))):
            if current[row] not in keep:
                self.model.removeRows(row, 1, parent)
                del current[row]
        for row, key in enumerate(wanted):
            if row < len(current) and current[row] == key:
                continue
            if key in current[row:]:  # listed in another order now: move it here
                old = current.index(key, row)
                self.model.removeRows(old, 1, parent)
                del current[old]
            self.model.insertRows(row, 1, parent)
            self.model.setData(self.model.index(row, 0, parent), key, role)
            current.insert(row, key)

    def _set(self, index: QModelIndex, values: dict[int, object]) -> None:
        for role, value in values.items():
            if index.data(role) != value:  # unchanged text: no repaint, no signal
                self.model.setData(index, value, role)

    def _on_search_changed(self, _text: str) -> None:
        self._timer.start()

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        run_id = current.data(RUN_ID_ROLE)
        if run_id:
            self.runSelected.emit(run_id)
        elif project := current.data(PROJECT_ROLE):
            self.projectSelected.emit(project)


def _run_data(run: RunSummary) -> dict[int, object]:
    when = time.strftime("%b %d %H:%M", time.localtime(run.created))
    partial = run.partial and run.status == "completed"
    mark = PARTIAL_MARK if partial else STATUS_MARKS.get(run.status, "·")
    status = "completed (partial)" if partial else run.status
    long_status = "completed (partial: some tasks were rejected)" if partial else run.status
    cost = cost_text(run.cost, run.unpriced_calls)  # "price unknown", never a silent $0
    found = f"\n\nFound in the {run.hit.where}: {run.hit.text}" if run.hit else ""
    return {
        Qt.ItemDataRole.DisplayRole: f"{mark}  {run.goal}",
        META_ROLE: f"{'↳ follow-up · ' if run.follow_up_of else ''}{when} · {status} · {cost}",
        HIT_ROLE: run.hit,
        RUN_ID_ROLE: run.id,
        Qt.ItemDataRole.ToolTipRole: (
            f"{run.goal}\n\nStatus: {long_status}\nStarted: {time.ctime(run.created)}\n"
            f"Tasks: {run.tasks_completed}/{run.task_count} · {'~' if run.estimated_calls else ''}"
            f"{run.total_tokens} tokens · {cost}{found}"
            + ("\nA follow-up: it built on an earlier run's result" if run.follow_up_of else "")
        ),
    }


class RunRowDelegate(QStyledItemDelegate):
    """A run row is two lines whatever the width: the goal, elided to one line, and
    its date, status and cost dimmed under it (a wrapped goal used to push them out).
    In search results a third line says where the run matched, with the words around
    the match and the matched words in bold on a highlighter tint."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        if index.data(META_ROLE) is None:
            return size
        line = QFontMetrics(option.font).lineSpacing()  # type: ignore[attr-defined]
        lines = 3 if index.data(HIT_ROLE) is not None else 2
        return QSize(size.width(), lines * line + 8)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        meta = index.data(META_ROLE)
        if meta is None:
            super().paint(painter, option, index)
            return
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        goal, item.text = item.text, ""  # type: ignore[attr-defined]
        widget = item.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, widget)
        rect = item.rect.adjusted(4, 3, -4, -3)  # type: ignore[attr-defined]
        metrics = QFontMetrics(item.font)  # type: ignore[attr-defined]
        selected = bool(item.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        palette = item.palette  # type: ignore[attr-defined]
        text = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim = QColor(text)
        dim.setAlphaF(0.75 if selected else 0.6)
        painter.save()
        painter.setFont(item.font)  # type: ignore[attr-defined]
        painter.setPen(text)
        line = metrics.lineSpacing()
        first = rect.adjusted(0, 0, 0, -(rect.height() - line))
        painter.drawText(first, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(goal, Qt.TextElideMode.ElideRight, rect.width()))
        painter.setPen(dim)
        indent = metrics.horizontalAdvance("✓  ")
        second = first.translated(0, line).adjusted(indent, 0, 0, 0)
        painter.drawText(second, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(str(meta), Qt.TextElideMode.ElideRight, second.width()))
        hit = index.data(HIT_ROLE)
        if hit is not None:
            colours = _HitColours(text, dim, palette, selected)
            _paint_hit(painter, second.translated(0, line), hit, item.font, colours)  # type: ignore[attr-defined]
        painter.restore()


class _HitColours:
    """The pens and the marker of a hit line, for a selected row or not."""

    def __init__(self, text: QColor, dim: QColor, palette: QPalette, selected: bool) -> None:
        self.text, self.dim, self.selected = text, dim, selected
        self.marker = theme.mix(palette.color(QPalette.ColorRole.Base), QColor(MARKER_COLOUR), 0.38)


MARKER_COLOUR = theme.STATUS_COLOURS["waiting_approval"]
"""The highlighter colour behind a matched word (an amber that reads on light and dark)."""


def _paint_hit(painter: QPainter, rect: QRect, hit: SearchHit, font: QFont, colours: _HitColours) -> None:
    """"output of “Draft”: …words around the **match**…", elided to `rect`'s width."""
    metrics, bold = QFontMetrics(font), QFont(font)
    bold.setBold(True)
    strong = QFontMetrics(bold)
    label = _where_label(hit.where, metrics, rect.width() // 2)
    painter.setPen(colours.dim)
    painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
    x, right = rect.left() + metrics.horizontalAdvance(label), rect.right()
    for words, marked in hit_pieces(hit, lambda t: metrics.horizontalAdvance(t), right - x):
        fm = strong if marked else metrics
        room = right - x
        if room <= fm.horizontalAdvance("…"):
            break
        shown = fm.elidedText(words, Qt.TextElideMode.ElideRight, room)
        width = fm.horizontalAdvance(shown)
        box = QRect(x, rect.top(), width, rect.height())
        if marked:
            if not colours.selected:
                painter.fillRect(box.adjusted(-1, 1, 1, -1), colours.marker)
            painter.setFont(bold)
            painter.setPen(colours.text)
        else:
            painter.setFont(font)
            painter.setPen(colours.dim)
        painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
        x += width
        if shown != words:
            break
    painter.setFont(font)


def _where_label(where: str, metrics: QFontMetrics, room: int) -> str:
    """"output of “Draft”: " in at most `room` pixels: a long title is cut, never the words before it."""
    label = f"{where}: "
    if metrics.horizontalAdvance(label) <= room or " of “" not in where:
        return label
    words, title = where.split(" of “", 1)
    head, tail = f"{words} of “", "”: "
    space = room - metrics.horizontalAdvance(head + tail)
    return head + metrics.elidedText(title.removesuffix("”"), Qt.TextElideMode.ElideRight, max(space, 0)) + tail


def hit_pieces(hit: SearchHit, width: Callable[[str], int], room: int) -> list[tuple[str, bool]]:
    """The hit's text as (words, matched) pieces, its start cut (with "…") when the
    first match would not fit in `room` otherwise, so that a match always shows."""
    text, marks = hit.text, list(hit.marks)
    if marks and width(text[:marks[0][1]]) > room:
        start, end = marks[0]
        cut = start
        while cut > 0 and width("…" + text[cut - 1:end]) <= room * 3 // 5:  # keep some words before it
            cut -= 1
        space = text.find(" ", cut, start)  # start at a word
        cut = space + 1 if space >= 0 else cut
        if cut > 0:
            text, shift = "…" + text[cut:], cut - 1
            marks = [(a - shift, b - shift) for a, b in marks]
    pieces: list[tuple[str, bool]] = []
    last = 0
    for start, end in marks:
        if start > last:
            pieces.append((text[last:start], False))
        pieces.append((text[start:end], True))
        last = end
    if last < len(text):
        pieces.append((text[last:], False))
    return pieces


__all__ = ["HistoryPanel"]
