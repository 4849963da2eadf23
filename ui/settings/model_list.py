"""An ordered list of model references: the fallbacks tried when a model fails."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QListWidget,
    QPushButton,
    QWidget,
)

from ui.settings.widgets import Roomy, editor, model_box, model_problem, set_choices


class ModelList(QWidget):
    """A reorderable list of model references, with a picker to add one.

        [ first fallback          ]  [ Up     ]
        [ second fallback         ]  [ Down   ]
        [                         ]  [ Remove ]
        [ picker               v ]   [ Add    ]
    """

    changed = Signal()
    """The person added, removed or moved a model."""

    def __init__(self, choices: Iterable[str], placeholder: str = "provider/model",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)  # drag to reorder too
        self.list.setItemDelegate(Roomy(height=4, parent=self.list))
        self.list.setMaximumHeight(84)
        self.picker = model_box(choices, "", placeholder)
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("Move up")
        self.down_button = QPushButton("Move down")
        self._build()
        self._connect()
        self._update_buttons()

    def _build(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        grid.addWidget(self.list, 0, 0, 3, 1)
        grid.addWidget(self.up_button, 0, 1)
        grid.addWidget(self.down_button, 1, 1)
        grid.addWidget(self.remove_button, 2, 1)
        grid.addWidget(self.picker, 3, 0)
        grid.addWidget(self.add_button, 3, 1)
        grid.setColumnStretch(0, 1)

    def _connect(self) -> None:
        self.add_button.clicked.connect(self._on_add)
        editor(self.picker).returnPressed.connect(self._on_add)
        self.picker.currentTextChanged.connect(self._update_buttons)
        self.remove_button.clicked.connect(self._on_remove)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))
        self.list.currentRowChanged.connect(self._update_buttons)
        self.list.model().rowsMoved.connect(self.changed.emit)

    # --- state -------------------------------------------------------------------------

    def models(self) -> tuple[str, ...]:
        return tuple(self.list.item(i).text() for i in range(self.list.count()))

    def set_models(self, models: Iterable[str]) -> None:
        """Show `models` (replacing the list; no `changed` signal)."""
        self.list.clear()
        self.list.addItems(list(dict.fromkeys(m for m in models if m)))
        self._update_buttons()

    def set_choices(self, choices: Iterable[str]) -> None:
        set_choices(self.picker, choices)

    # --- editing -----------------------------------------------------------------------

    def _typed(self) -> str:
        return self.picker.currentText().strip()

    def _can_add(self) -> bool:
        text = self._typed()
        return bool(text) and model_problem(text) is None and text not in self.models()

    def _on_add(self) -> None:
        if not self._can_add():
            return
        self.list.addItem(self._typed())
        self.list.setCurrentRow(self.list.count() - 1)
        self.picker.setCurrentText("")
        self.changed.emit()

    def _on_remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.changed.emit()
        self._update_buttons()

    def _move(self, step: int) -> None:
        row = self.list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.list.count():
            return
        self.list.insertItem(target, self.list.takeItem(row))
        self.list.setCurrentRow(target)
        self.changed.emit()

    def _update_buttons(self) -> None:
        row, count = self.list.currentRow(), self.list.count()
        self.add_button.setEnabled(self._can_add())
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < count - 1)
