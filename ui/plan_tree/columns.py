"""The plan table's column widths: sized to their content, the Task column first.

At 1280 px the Task column was a fixed remainder of about 65 px ("Surve…") while
Depends on kept 200 px. Now each column other than Task takes what its content
needs within bounds, Task gets the rest but never less than `TASK_MIN`, and when
even that does not fit, Depends on and Status give way first (then the table
scrolls sideways). Once the person drags a column, their widths are kept
(window.ini) and the table no longer fits itself.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QHeaderView, QTreeView

from app.paths import data_dir
from ui.plan_tree.cells import Column

TASK_MIN = 160
"""The Task column's least width while any other column can still give way."""
BOUNDS = {
    Column.AGENT: (70, 130),
    Column.DEPENDS_ON: (80, 220),
    Column.APPROVAL: (64, 80),
    Column.STATUS: (90, 170),
    Column.TOKENS: (56, 90),
    Column.COST: (60, 110),
}
"""(least, most) pixels of each column but Task."""
GIVE_WAY = (Column.DEPENDS_ON, Column.STATUS, Column.AGENT)
"""Which columns shrink to their least width first when Task is short of room."""
STATE_KEY = "plan_table/header"


def _settings() -> QSettings:
    return QSettings(str(data_dir() / "window.ini"), QSettings.Format.IniFormat)


class ColumnFitter(QObject):
    """Fits the columns of `tree` to its width and content until the person sizes them."""

    def __init__(self, tree: QTreeView) -> None:
        super().__init__(tree)
        self._tree = tree
        self._fitting = False
        self.person_sized = False
        """The person dragged a column: their widths stay."""
        header = tree.header()
        header.setStretchLastSection(False)
        for column in range(header.count()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        self._restore()
        header.sectionResized.connect(self._on_section_resized)
        tree.viewport().installEventFilter(self)
        model = tree.model()
        self._soon = QTimer(self, singleShot=True, interval=0)  # once per burst of changes
        self._soon.timeout.connect(self.fit)
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.dataChanged):
            signal.connect(self._soon.start)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._soon.start()
        return False

    def widths(self, available: int) -> dict[int, int]:
        """What each column gets out of `available` pixels."""
        tree, header = self._tree, self._tree.header()
        out: dict[int, int] = {}
        for column, (least, most) in BOUNDS.items():
            if header.isSectionHidden(column):
                continue
            wanted = max(tree.sizeHintForColumn(column), header.sectionSizeHint(column))
            out[column] = max(least, min(most, wanted))
        short = TASK_MIN - (available - sum(out.values()))
        for column in GIVE_WAY:
            if short <= 0:
                break
            if column in out:
                least = BOUNDS[column][0]
                give = min(short, out[column] - least)
                out[column] -= give
                short -= give
        out[Column.TASK] = max(TASK_MIN, available - sum(out.values()))
        return out

    def fit(self) -> None:
        if self.person_sized:
            return
        self._fitting = True
        try:
            for column, width in self.widths(self._tree.viewport().width()).items():
                self._tree.header().resizeSection(column, width)
        finally:
            self._fitting = False

    def _on_section_resized(self, _column: int, _old: int, _new: int) -> None:
        if self._fitting or not self._tree.isVisible():
            return
        self.person_sized = True
        _settings().setValue(STATE_KEY, self._tree.header().saveState())

    def _restore(self) -> None:
        state = _settings().value(STATE_KEY)
        if state and self._tree.header().restoreState(QByteArray(state)):
            self.person_sized = True

    def reset(self) -> None:
        """Back to fitting (the header's context menu: "Fit columns")."""
        self.person_sized = False
        _settings().remove(STATE_KEY)
        self.fit()
