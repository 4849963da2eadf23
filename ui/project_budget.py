"""A project's monthly budget, set from its context menu in the history panel.

Once the project's runs have spent it in a calendar month, new model calls of
its runs pause and ask (the budget card says it is the project's month).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QWidget,
)

from app.approval_text import dollars
from ui import theme


class ProjectBudgetDialog(QDialog):
    """Set or remove (“No budget”) a project's monthly budget; shows this month's spend."""

    def __init__(self, project: str, budget: float | None, spent: float, month: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.setWindowTitle(f"Monthly budget: {project}")
        self.budget = QDoubleSpinBox(decimals=2, prefix="$ ", singleStep=5)
        self.budget.setRange(0, 1_000_000)
        self.budget.setSpecialValueText("No budget")
        self.budget.setValue(budget or 0)
        self.budget.setAccessibleName("Monthly budget in US dollars")
        spent_label = QLabel(f"{dollars(spent, 4 if spent < 0.1 else 2)} spent in {month}")
        theme.dim(spent_label)
        note = QLabel("Once the project's runs have spent it this month, new model calls pause "
                      "and ask whether to go on.")
        note.setWordWrap(True)
        theme.dim(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("&Budget per month:", self.budget)
        form.addRow("", spent_label)
        form.addRow(note)
        form.addRow(buttons)

    def result_budget(self) -> float | None:
        """US dollars a month; None: no budget."""
        return round(self.budget.value(), 2) or None


__all__ = ["ProjectBudgetDialog"]
