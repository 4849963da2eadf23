"""The composer's options row: a budget and a deadline for the next run only.

"No budget" (the settings' budget per run applies) and "No deadline" by default;
the deadline takes what `troupe run --deadline` takes (30m, 2h, 14:30), read
by app.constraints, and says when it would fall. After a goal is sent the row
goes back to its defaults.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from agents.constraints import Constraints
from app.constraints import DEADLINE_HELP, BadConstraint, clock_text, parse_deadline
from ui import theme


class ConstraintsRow(QWidget):
    """Budget and deadline fields for the next run; `constraints()` reads them."""

    def __init__(self, parent: QWidget | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self._clock = clock
        self.budget = QDoubleSpinBox(decimals=2, prefix="$ ", singleStep=0.5)
        self.budget.setRange(0, 100_000)
        self.budget.setSpecialValueText("No budget")
        self.budget.setAccessibleName("Budget for the next run")
        self.budget.setToolTip("Budget for the next run: what it may spend (US dollars) before it asks "
                               "to go on; “No budget”: the budget per run of Settings applies")
        self.deadline = QLineEdit()
        self.deadline.setPlaceholderText("No deadline")
        self.deadline.setClearButtonEnabled(True)
        self.deadline.setAccessibleName("Deadline for the next run")
        self.deadline.setToolTip(f"Deadline for the next run: {DEADLINE_HELP}. At the deadline new "
                                 "work pauses and asks: continue, or stop and write up what is finished")
        self.budget.setMinimumWidth(self.budget.sizeHint().width())
        self.deadline.setMinimumWidth(self.budget.minimumWidth())
        self.deadline.setMaximumWidth(130)
        self.when = QLabel()
        self.when.setAccessibleName("When the deadline falls")
        theme.dim(self.when)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        # no captions: "No budget" and "No deadline" say what the fields are, and the
        # row fits the conversation column at its narrowest (270 px)
        for widget in (self.budget, self.deadline, self.when):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.deadline.textChanged.connect(self._on_deadline_changed)

    def constraints(self) -> Constraints:
        """The row's budget and deadline; BadConstraint (one line) when the deadline cannot be read."""
        budget = round(self.budget.value(), 2) or None
        text = self.deadline.text().strip()
        deadline = parse_deadline(text, self._clock()) if text else None
        return Constraints(budget_usd=budget, deadline=deadline)

    def problem(self) -> str:
        """Why the row cannot be used as it is ("" when it can)."""
        try:
            self.constraints()
        except BadConstraint as exc:
            return str(exc)
        return ""

    def reset(self) -> None:
        """Back to "No budget" and "No deadline" (after a run took them)."""
        self.budget.setValue(0)
        self.deadline.clear()

    def _on_deadline_changed(self, text: str) -> None:
        if not text.strip():
            self.when.setText("")
            self.deadline.setStyleSheet("")
            return
        try:
            when = parse_deadline(text, self._clock())
        except BadConstraint as exc:
            self.when.setText("30m, 2h or HH:MM")
            self.when.setToolTip(str(exc))
            self.deadline.setStyleSheet(f"color: {theme.FAILED_COLOUR};")
            return
        self.deadline.setStyleSheet("")
        self.when.setToolTip("")
        self.when.setText(f"→ {clock_text(when, self._clock())}")


__all__ = ["ConstraintsRow"]
