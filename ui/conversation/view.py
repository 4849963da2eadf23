"""ConversationView: the goal, the orchestrator's replies, the plan, approvals, the deliverable.

A scrolling column. Streamed text (`append_stream`) is coalesced and the
bubble re-rendered at most every STREAM_MS, whatever the delta rate. The view
sticks to the bottom while the person has not scrolled up.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayoutItem,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ui import theme
from ui.approvals import ApprovalCard
from ui.conversation.markdown_render import WARM_UP
from ui.conversation.welcome import Welcome
from ui.conversation.widgets import (
    ORCHESTRATOR,
    USER,
    DeliverableCard,
    MessageBubble,
    PlanCard,
    plan_preview,
    plan_roles,
)

WARM_UP_GAP_MS = 30
_warm_up_steps = iter(WARM_UP)
_warming_up = False


def _warm_up_markdown() -> None:
    """Markdown's first-use work, one piece per turn of the event loop (once)."""
    global _warming_up
    if not _warming_up:
        _warming_up = True
        QTimer.singleShot(WARM_UP_GAP_MS, _next_warm_up_step)


def _next_warm_up_step() -> None:
    step = next(_warm_up_steps, None)
    if step is not None:
        step()
        QTimer.singleShot(WARM_UP_GAP_MS, _next_warm_up_step)


BUBBLE_SHARE = 0.78
"""A bubble's widest, as a share of the column."""
CARD_MAX = 860
"""Plan and approval cards' widest, in pixels."""


class ConversationView(QWidget):
    """A column of messages and cards; owns no run logic, only shows and signals."""

    planApproved = Signal()
    """"Approve plan & run" was clicked on the latest plan card."""
    planEditRequested = Signal()
    exportRequested = Signal(str)
    """Export of the deliverable asked for: "md", "html" or "json"."""
    followUpRequested = Signal()
    """"Follow up…" on the deliverable: the next goal builds on it."""

    STREAM_MS = 100

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bubbles: list[MessageBubble] = []
        self._cards: list[QWidget] = []
        self._stream_bubble: MessageBubble | None = None
        self._stream_parts: list[str] = []
        self._stream_text = ""
        self._stick = True
        self.stream_renders = 0
        """How many times the streaming bubble was re-rendered (tests, benchmarks)."""
        self.deliverable: DeliverableCard | None = None

        self.column = QWidget()
        self.column.setObjectName("ConversationColumn")
        self._layout = QVBoxLayout(self.column)
        self._layout.setContentsMargins(18, 16, 18, 16)
        self._layout.setSpacing(12)
        self._layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(self.column)
        bar = self.scroll_area.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)
        self.scroll_area.viewport().installEventFilter(self)
        self.welcome = Welcome()
        """What Troupe does and example goals, while the conversation is empty."""
        self.exampleChosen = self.welcome.exampleChosen
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.welcome)
        layout.addWidget(self.scroll_area)
        self.scroll_area.hide()

        self._stream_timer = QTimer(self)
        self._stream_timer.setSingleShot(True)
        self._stream_timer.setInterval(self.STREAM_MS)
        self._stream_timer.timeout.connect(self._render_stream)

    # --- messages -------------------------------------------------------------------

    def add_user_message(self, text: str) -> MessageBubble:
        """The person's goal or follow-up (plain text, right-aligned)."""
        return self._add_bubble(MessageBubble(USER, text))

    add_goal = add_user_message

    def add_orchestrator_message(self, text: str) -> MessageBubble:
        """An orchestrator reply (Markdown, left-aligned)."""
        self.end_stream()
        return self._add_bubble(MessageBubble(ORCHESTRATOR, text))

    def add_note(self, text: str) -> QLabel:
        """A small centred line: "Run finished · 12,345 tokens · $0.02"."""
        label = QLabel(text)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        theme.dim(label)
        self._insert(label)
        return label

    # --- streaming ------------------------------------------------------------------

    def append_stream(self, text: str) -> None:
        """Add streamed orchestrator text; the bubble re-renders at most every STREAM_MS."""
        if not text:
            return
        if self._stream_bubble is None:
            self._stream_bubble = self._add_bubble(MessageBubble(ORCHESTRATOR, ""))
            self._stream_text = ""
        self._stream_parts.append(text)
        if not self._stream_timer.isActive():
            self._stream_timer.start()

    def end_stream(self) -> str:
        """Render what was streamed now and close the bubble; returns its text."""
        if self._stream_bubble is None:
            return ""
        self._render_stream()
        text = self._stream_text
        self._stream_bubble = None
        self._stream_text = ""
        return text

    def discard_stream(self) -> None:
        """Remove the streaming bubble (its text is shown elsewhere, e.g. as the deliverable)."""
        bubble = self._stream_bubble
        self._stream_timer.stop()
        self._stream_bubble, self._stream_text = None, ""
        self._stream_parts.clear()
        if bubble is None:
            return
        for i in range(self._layout.count()):
            item = self._layout.itemAt(i)
            row = item.layout() if item is not None else None
            if row is not None and row.indexOf(bubble) >= 0:
                self._layout.takeAt(i)
                row.deleteLater()
                break
        self._bubbles.remove(bubble)
        bubble.deleteLater()

    def streaming_text(self) -> str:
        """All text streamed into the open bubble, rendered or not."""
        return self._stream_text + "".join(self._stream_parts)

    def streaming_bubble(self) -> MessageBubble | None:
        return self._stream_bubble

    def _render_stream(self) -> None:
        self._stream_timer.stop()
        if self._stream_bubble is None or not self._stream_parts:
            return
        self._stream_text += "".join(self._stream_parts)
        self._stream_parts.clear()
        self._stream_bubble.set_text(self._stream_text)
        self.stream_renders += 1

    # --- cards ----------------------------------------------------------------------

    def add_plan_card(self, summary: str, tasks: list[tuple[str, str]] | None = None,
                      task_count: int | None = None, needs_approval: int = 0,
                      roles: list[str] | None = None) -> PlanCard:
        """A plan summary; its "Approve plan & run" emits planApproved."""
        self.end_stream()
        _warm_up_markdown()  # a deliverable will follow: render it without a stall
        card = PlanCard(summary, tasks or [], task_count, needs_approval, roles=roles)
        card.approved.connect(self.planApproved.emit)
        card.editRequested.connect(self.planEditRequested.emit)
        self._add_card(card)
        return card

    def add_plan(self, plan: Any, summary: str | None = None) -> PlanCard:
        """A plan card for a Plan (or its to_dict()): leaf tasks, their agents, approvals."""
        tasks, approvals = plan_preview(plan)
        goal = plan["goal"] if isinstance(plan, dict) else plan.goal
        text = summary if summary is not None else f"Here is how the team will work on “{goal}”."
        return self.add_plan_card(text, tasks, needs_approval=approvals, roles=plan_roles(plan))

    def update_plan_card(self, card: PlanCard, plan: Any) -> None:
        """Show the plan as edited on its card (titles, counts, roles)."""
        tasks, approvals = plan_preview(plan)
        card.show_plan(tasks, approvals, plan_roles(plan))

    def add_approval_card(self, card: ApprovalCard) -> ApprovalCard:
        """Insert an approval card (QtApprovalGate's host callback)."""
        self.end_stream()
        self._add_card(card)
        self._stick = True
        self.scroll_to_bottom()
        return card

    def show_deliverable(self, markdown_text: str, title: str = "Deliverable") -> DeliverableCard:
        """The final Markdown, rendered with highlighted code, and export buttons."""
        self.end_stream()
        card = DeliverableCard(markdown_text, title)
        card.exportRequested.connect(self.exportRequested.emit)
        card.followUpRequested.connect(self.followUpRequested.emit)
        self.deliverable = card
        self._insert(card)
        return card

    def add_widget(self, widget: QWidget) -> QWidget:
        """Any other widget, full width."""
        self._insert(widget)
        return widget

    def clear(self) -> None:
        self.welcome.show()
        self.scroll_area.hide()
        self._stream_timer.stop()
        self._stream_bubble, self._stream_parts, self._stream_text = None, [], ""
        while self._layout.count() > 1:
            _discard(self._layout.takeAt(0))
        self._bubbles.clear()
        self._cards.clear()
        self.deliverable = None
        self._stick = True

    def items(self) -> list[QWidget]:
        """The widgets of the column, top to bottom (bubbles inside their rows)."""
        out: list[QWidget] = []
        for i in range(self._layout.count()):
            item = self._layout.itemAt(i)
            if item is None:
                continue
            widget, layout = item.widget(), item.layout()
            if widget is not None:
                out.append(widget)
            elif layout is not None:
                for j in range(layout.count()):
                    inner = layout.itemAt(j)
                    child = inner.widget() if inner is not None else None
                    if child is not None:
                        out.append(child)
        return out

    def scroll_to_bottom(self) -> None:
        bar = self.scroll_area.verticalScrollBar()
        bar.setValue(bar.maximum())

    # --- layout ------------------------------------------------------------------------

    def _leave_welcome(self) -> None:
        self.welcome.hide()
        self.scroll_area.show()

    def _add_bubble(self, bubble: MessageBubble) -> MessageBubble:
        self._leave_welcome()
        bubble.set_max_width(self._bubble_width())
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if bubble.role == USER:
            row.addStretch(1)
            row.addWidget(bubble)
        else:
            row.addWidget(bubble)
            row.addStretch(1)
        self._layout.insertLayout(self._layout.count() - 1, row)
        self._bubbles.append(bubble)
        return bubble

    def _add_card(self, card: QWidget) -> None:
        card.setMaximumWidth(CARD_MAX)
        self._cards.append(card)
        self._insert(card)

    def _insert(self, widget: QWidget) -> None:
        self._leave_welcome()
        self._layout.insertWidget(self._layout.count() - 1, widget)

    def _bubble_width(self) -> int:
        width = self.scroll_area.viewport().width() - 36
        return max(240, int(width * BUBBLE_SHARE))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.scroll_area.viewport() and event.type() == QEvent.Type.Resize:
            width = self._bubble_width()
            for bubble in self._bubbles:
                bubble.set_max_width(width)
        return super().eventFilter(watched, event)

    def _on_scrolled(self, value: int) -> None:
        self._stick = value >= self.scroll_area.verticalScrollBar().maximum() - 24

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._stick:
            self.scroll_area.verticalScrollBar().setValue(maximum)


def _discard(item: QLayoutItem | None) -> None:
    """Delete what a layout item holds: its widget, or every widget of its layout
    (a message bubble sits in a row layout; left alone it stays on screen)."""
    if item is None:
        return
    widget, layout = item.widget(), item.layout()
    if widget is not None:
        widget.hide()
        widget.deleteLater()
    elif layout is not None:
        while layout.count():
            _discard(layout.takeAt(0))
        layout.deleteLater()
