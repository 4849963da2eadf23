"""The conversation's empty state: what Troupe does, and three goals to start from."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ui import theme

EXAMPLES = (
    "Compare three note-taking apps for a small research team and recommend one",
    "Write a one-page guide to keeping houseplants alive, checked by a reviewer",
    "Plan a two-day trip to Lisbon on a budget, with a day-by-day schedule",
)
"""Goals that show what a team does: research and a recommendation, a reviewed draft, a plan."""


class ExampleGoal(QLabel):
    """A goal to start from: a framed, wrapping line (a push button would not wrap and
    would hold the conversation column wide) that is clicked like a button."""

    clicked = Signal()

    def __init__(self, goal: str, parent: QWidget | None = None) -> None:
        super().__init__(goal, parent)
        self.setObjectName("ExampleGoal")
        self.setWordWrap(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.setToolTip("Put this goal in the goal box (edit it, then Ctrl+Enter)")
        self.setStyleSheet("#ExampleGoal { border: 1px solid palette(mid); border-radius: 6px; padding: 8px 10px; }"
                           "#ExampleGoal:hover, #ExampleGoal:focus { border-color: palette(highlight); }")

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit()
            return
        super().keyPressEvent(event)


class Welcome(QWidget):
    """A sentence on what Troupe does and example goals; choosing one fills the goal box."""

    exampleChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Welcome")
        title = QLabel("Your team of AI agents")
        big = QFont(title.font())
        big.setPointSizeF(big.pointSizeF() * 1.35)
        big.setBold(True)
        title.setFont(big)
        intro = QLabel(
            "Type a goal below. The orchestrator splits it into tasks for a researcher, an analyst, "
            "a writer, a reviewer… You can change the plan before it runs, and approve steps as "
            "they go. Everything stays on this machine.")
        intro.setWordWrap(True)
        hint = QLabel("Or start from one of these:")
        theme.dim(hint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.setSpacing(10)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addWidget(hint)
        self.buttons: list[ExampleGoal] = []
        for goal in EXAMPLES:
            button = ExampleGoal(goal)
            button.clicked.connect(lambda g=goal: self.exampleChosen.emit(g))
            self.buttons.append(button)
            layout.addWidget(button)
        layout.addStretch(2)
