"""The conflicting claims of a conflict card (Subject.CONFLICT): side by side, or stacked when narrow.

Each claim is a column headed by who said it, its text in a read-only box
that scrolls when long, and a "Pick this" button whose mnemonic is the
claim's number (Alt+1, Alt+2, ...). `ApprovalCard` owns the decision; this
panel only emits `picked(number)`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QResizeEvent, QTextDocument
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from agents.approvals import Claim, ConflictQuestion
from agents.ports import Action, Decision
from ui import theme

if TYPE_CHECKING:
    from ui.approvals import ApprovalCard

COLUMN_MIN_WIDTH = 240
"""Below this width per claim the claims are stacked instead of side by side."""
CLAIM_MAX_LINES = 10
STACKED_MAX_LINES = 6
CLAIM_MARGIN = 10
PICK_TIP = "Use this claim as the task's output"

KIND_NAMES = {"review": "Review", "vote": "Vote", "debate": "Debate", "route": "Route", "map": "Map"}


def why_html(question: ConflictQuestion) -> str:
    """The card's facts line for a conflict: the pattern and why the agents could not settle it."""
    kind = KIND_NAMES.get(question.kind, question.kind.capitalize() or "Pattern")
    return f"<b>{html.escape(kind)}</b> &nbsp;·&nbsp; {html.escape(question.why)}"


def picked_text(question: ConflictQuestion, number: str) -> str:
    """What a decided card says about a pick: "claim 2 (reviewer, round 3)"."""
    try:
        claim = question.claims[int(number) - 1]
    except (ValueError, IndexError):
        return f"claim {number}"
    return f"claim {number} ({claim.who})"


class ClaimsPanel(QWidget):
    """The claims of a conflict, each with its own Pick button."""

    picked = Signal(int)
    """The claim's number (from 1)."""

    def __init__(self, claims: tuple[Claim, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.claims = claims
        self.pick_buttons: list[QPushButton] = []
        self.text_boxes: list[QPlainTextEdit] = []
        self.setAccessibleName("Conflicting claims")
        self._row = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(10)
        for number, claim in enumerate(claims, 1):
            self._row.addWidget(self._column(number, claim), 1)
        self._lines = CLAIM_MAX_LINES
        self._fit_boxes()

    @property
    def stacked(self) -> bool:
        return self._row.direction() == QBoxLayout.Direction.TopToBottom

    def _column(self, number: int, claim: Claim) -> QFrame:
        frame = QFrame()
        frame.setObjectName("Claim")
        border = theme.css(theme.subtle_background(0.2))
        frame.setStyleSheet(f"#Claim {{ border: 1px solid {border}; border-radius: 6px; }}")
        header = QLabel(f"<b>{number}.</b> {html.escape(claim.who)}")
        header.setTextFormat(Qt.TextFormat.RichText)
        header.setWordWrap(True)
        font = QFont(header.font())
        font.setBold(True)
        header.setFont(font)
        box = QPlainTextEdit(claim.text)
        box.setReadOnly(True)
        box.setFrameShape(QFrame.Shape.NoFrame)
        box.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        box.setAccessibleName(f"Claim {number}: {claim.who}")
        box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # Tab goes button to button
        box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button = QPushButton(f"Pick this (&{number})" if number <= 9 else "Pick this")
        button.setToolTip(f"{PICK_TIP}: {claim.who}")
        button.setAutoDefault(True)
        button.clicked.connect(lambda: self.picked.emit(number))
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(CLAIM_MARGIN, 8, CLAIM_MARGIN, 8)
        layout.setSpacing(6)
        layout.addWidget(header)
        layout.addWidget(box)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
        self.pick_buttons.append(button)
        self.text_boxes.append(box)
        return frame

    def _fit_boxes(self) -> None:
        """Equal heights side by side (the longest claim's, capped); each box scrolls past that."""
        if not self.text_boxes:
            return
        columns = 1 if self.stacked else len(self.text_boxes)
        # the text's width: the column's, less its margins, the box's own and room for a scroll bar
        scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        width = (self.width() - self._row.spacing() * (columns - 1)) // columns - 2 * CLAIM_MARGIN - 10 - scroll_bar
        spacing = QFontMetrics(self.text_boxes[0].font()).lineSpacing()
        longest = max(_wrapped_lines(box, width) for box in self.text_boxes)
        height = spacing * max(2, min(self._lines, longest)) + 12
        for box in self.text_boxes:
            box.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        narrow = event.size().width() < COLUMN_MIN_WIDTH * max(1, len(self.claims))
        direction = QBoxLayout.Direction.TopToBottom if narrow else QBoxLayout.Direction.LeftToRight
        if direction != self._row.direction():
            self._row.setDirection(direction)
            self._lines = STACKED_MAX_LINES if narrow else CLAIM_MAX_LINES
        self._fit_boxes()


def _wrapped_lines(box: QPlainTextEdit, width: int) -> int:
    """Lines the box's text takes at `width` pixels (hard lines while the width is unknown)."""
    text = box.toPlainText().strip("\n")
    if width < 50:
        return text.count("\n") + 1
    document = QTextDocument()
    document.setDefaultFont(box.font())
    document.setDocumentMargin(0)
    document.setPlainText(text)
    document.setTextWidth(width)
    return max(1, round(document.size().height() / QFontMetrics(box.font()).lineSpacing()))


# --- the card's conflict mode (ApprovalCard calls these) --------------------------------

CONFLICT_RESOLVED_TEXT = {
    Action.APPROVE: ("✓  Accepted as is: the pattern's own result is used", "completed"),
    Action.PICK: ("✓  Picked", "completed"),
    Action.OVERRIDE: ("✓  Your answer is used as the task's output", "completed"),
    Action.RETRY: ("↻  Another round runs", "running"),
    Action.REJECT: ("✕  Skipped: the task does not run on", "failed"),
}


def resolved_text(question: ConflictQuestion, decision: Decision) -> tuple[str, str, str]:
    """(headline, status colour key, quoted text) of a decided conflict card."""
    text, status = CONFLICT_RESOLVED_TEXT.get(decision.action, ("✓  Decided", "completed"))
    if decision.action is Action.PICK:
        return f"{text} {picked_text(question, decision.text)}", status, ""
    return text, status, decision.text


def setup_buttons(card: ApprovalCard, question: ConflictQuestion) -> QPushButton:
    """Turn the card's buttons into a conflict's choices; returns "Run another round"."""
    card.approve_button.setText("&Accept as is")
    card.approve_button.setToolTip("Use the pattern's own result (shown under “If you accept as is”)")
    card.override_button.setText("&Write the answer myself…")
    card.override_button.setToolTip("Write the task's output yourself, starting from the proposal")
    card.reject_button.setText("S&kip the task…")
    card.reject_button.setToolTip("Skip this task (tasks that need it are blocked); you can say why")
    card.edit_button.hide()
    retry = QPushButton("Run another &round")
    retry.setToolTip("Let the agents go one more round (the question may come back)")
    retry.setAutoDefault(True)
    if not question.can_retry:
        retry.hide()  # (no parent yet: hide() only marks it)
    return retry
