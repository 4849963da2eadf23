"""Item delegates for the plan tree."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtWidgets import QComboBox, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from agents.plan.roster import Roster

Index = QModelIndex | QPersistentModelIndex


ROW_PADDING = 6
"""Extra pixels per row: the default rows are too tight to aim a drop at."""


class PaddedDelegate(QStyledItemDelegate):
    """The default delegate with a little more height per row."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), size.height() + ROW_PADDING)


class AgentDelegate(PaddedDelegate):
    """Edits the Agent column with a combo box of the roster's worker roles."""

    def __init__(self, roster: Roster | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        workers = roster.workers() if roster is not None else []
        self._roles = [(r.name, r.description) for r in workers]

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        combo = QComboBox(parent)
        for name, description in self._roles:
            combo.addItem(name, name)
            combo.setItemData(combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        current = index.data(Qt.ItemDataRole.EditRole)
        if current and combo.findData(current) < 0:  # keep an unknown role visible
            combo.addItem(f"{current} (unknown)", current)
        # one pick is the whole edit: commit without waiting for focus-out
        combo.activated.connect(lambda _row: self._on_agent_chosen(combo))
        return combo

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        assert isinstance(editor, QComboBox)
        at = editor.findData(index.data(Qt.ItemDataRole.EditRole))
        editor.setCurrentIndex(max(at, 0))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        assert isinstance(editor, QComboBox)
        if editor.currentData() is not None:
            model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)

    def _on_agent_chosen(self, combo: QComboBox) -> None:
        self.commitData.emit(combo)
        self.closeEditor.emit(combo, QStyledItemDelegate.EndEditHint.NoHint)
