"""Inline approval cards, and the ApprovalGate that the run awaits on them.

`ApprovalCard` shows one ApprovalRequest with Approve / Edit / Reject /
Use my answer; it emits `decided(Decision)` exactly once, then shows how it
was resolved. Everything it shows comes from the request's typed question
(`request.task` / `.tool` / `.budget`), never from text the core formatted. `QtApprovalGate.decide(request)` asks its host to show a card
and awaits an asyncio Future that the card's signal resolves: only that
task waits, every other task of the run keeps going.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from agents.approvals import BudgetScope, Subject
from agents.errors import ApprovalError
from agents.ports import Action, ApprovalRequest, Decision
from app.approval_text import IN_DOUBT_NOTE, INSTEAD_NOTE, NO_INSTRUCTIONS, dollars
from app.constraints import BadConstraint, clock_text, parse_deadline
from ui import conflict, theme
from ui.flow_layout import FlowLayout

ACCENT = theme.STATUS_COLOURS["waiting_approval"]
DETAILS_MAX_LINES = 12

RESOLVED_TEXT = {
    Action.APPROVE: ("✓  Approved", "completed"),
    Action.EDIT: ("✓  Approved with your instructions", "completed"),
    Action.REJECT: ("✕  Rejected: the task is skipped", "failed"),
    Action.OVERRIDE: ("✓  Your answer is used as the task's output", "completed"),
}

TOOL_RESOLVED_TEXT = {
    Action.APPROVE: ("✓  Approved: the tool runs", "completed"),
    Action.EDIT: ("✓  Approved with your arguments", "completed"),
    Action.REJECT: ("✕  Refused: the agent is told", "failed"),
    Action.OVERRIDE: ("✓  Your text is used as the tool's result", "completed"),
}
IN_DOUBT_RESOLVED_TEXT = {
    Action.APPROVE: ("✓  Re-run", "completed"),
    Action.EDIT: ("✓  Re-run with your arguments", "completed"),
    Action.REJECT: ("✕  Skipped: not run again", "failed"),
    Action.OVERRIDE: ("✓  Your text is used as the tool's result", "completed"),
}

DEADLINE_RESOLVED_TEXT = {
    Action.APPROVE: ("✓  Continued without a deadline", "completed"),
    Action.EDIT: ("✓  Continued with a new deadline", "completed"),
    Action.REJECT: ("✕  Stopped: what is finished is written up (a partial result)", "failed"),
}

HEADINGS = {Subject.TASK: "Task needs your approval", Subject.TOOL: "Tool call needs your approval",
            Subject.BUDGET: "Budget needs your approval", Subject.CONFLICT: "Agents disagree",
            Subject.DEADLINE: "Deadline needs your decision"}
IN_DOUBT_HEADING = "Tool call in doubt: re-run it?"
KICKER_SUBJECTS = {Subject.TASK: "Task", Subject.TOOL: "Tool call", Subject.BUDGET: "Budget",
                   Subject.CONFLICT: "Conflict", Subject.DEADLINE: "Deadline"}
RISKS = {"read": "Only reads", "write": "Can change files", "execute": "Can run programs",
         "network": "Can reach the network"}


def is_in_doubt(request: ApprovalRequest) -> bool:
    return request.tool is not None and request.tool.in_doubt


def heading(request: ApprovalRequest) -> str:
    """The card's kicker: what kind of question this is."""
    return IN_DOUBT_HEADING if is_in_doubt(request) else HEADINGS[request.subject]


def body_text(request: ApprovalRequest) -> str:
    """What the card's box shows: a task's instructions, a tool call's arguments."""
    if request.task is not None:
        return request.task.instructions or NO_INSTRUCTIONS
    if request.tool is not None:
        return request.tool.arguments
    if request.conflict is not None:
        return request.conflict.proposed
    return ""


def facts_html(request: ApprovalRequest) -> str:
    """The line under the title: agent and inputs, a tool's risk, the budget's numbers."""
    parts: list[str] = []
    if request.task is not None:
        parts.append(f"Agent: <b>{html.escape(request.task.agent)}</b>")
        if request.task.inputs:
            names = ", ".join(f"{html.escape(ref.title)} <span style='font-family:monospace'>"
                              f"({html.escape(ref.task_id)})</span>" for ref in request.task.inputs)
            parts.append(f"Inputs: {names}")
    elif request.tool is not None and request.tool.risk:
        risk = request.tool.risk
        parts.append(f"<b>{RISKS[risk]}</b> ({risk})" if risk in RISKS else f"Risk: <b>{html.escape(risk)}</b>")
    elif request.budget is not None and request.budget.scope is BudgetScope.PROJECT_MONTH:
        budget = request.budget
        month = f" in {html.escape(budget.month)}" if budget.month else " this month"
        parts.append(f"The project's runs spent <b>{dollars(budget.spent, 4)}</b>{month}, over its "
                     f"{dollars(budget.limit)} monthly budget")
        parts.append(f"Continue lets this run spend another <b>{dollars(budget.step)}</b>; "
                     "stopping keeps finished work")
    elif request.budget is not None:
        budget = request.budget
        parts.append(f"Spent <b>{dollars(budget.spent, 4)}</b> of the {dollars(budget.limit)} limit")
        parts.append(f"Continue allows another <b>{dollars(budget.step)}</b>; stopping keeps finished work")
    elif request.deadline is not None:
        question = request.deadline
        running = f", <b>{question.running}</b> under way" if question.running else ""
        parts.append(f"<b>{question.done}</b> of {question.total} task(s) finished{running}")
        parts.append("Stopping cancels what runs and writes up what is finished")
    elif request.conflict is not None:
        parts.append(conflict.why_html(request.conflict))
    return " &nbsp;·&nbsp; ".join(parts)


def arguments_error(text: str) -> str:
    """Why `text` is not usable as a tool's arguments ("" when it is a JSON object)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"Not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}. Fix it, or go back."
    except ValueError as exc:
        return f"Not valid JSON: {exc}. Fix it, or go back."
    if not isinstance(value, dict):
        return 'The arguments must be a JSON object, like {"path": "notes.txt"}.'
    return ""


class ApprovalCard(QFrame):
    """One approval request, decided inline. Emits `decided` once."""

    decided = Signal(object)
    """The person's Decision (emitted once)."""

    def __init__(self, request: ApprovalRequest, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self._mode: Action | None = None
        self._decision: Decision | None = None
        self.setObjectName("ApprovalCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.setAccessibleName(f"Approval: {request.title}")
        self._build()
        self._restyle(ACCENT)
        self.setFocusProxy(self.approve_button)

    # --- construction ---------------------------------------------------------

    def _as_budget_question(self) -> None:
        """A budget crossing is continue-or-stop: nothing to edit or answer."""
        self.approve_button.setText("&Continue")
        self.approve_button.setToolTip("Allow as much again and carry on")
        self.reject_button.setText("&Stop the run")
        self.reject_button.setToolTip("Stop here; finished work is kept")
        self.edit_button.hide()
        self.override_button.hide()
        self.details.hide()  # the numbers are in the facts line

    def _as_deadline_question(self) -> None:
        """The deadline came: continue (no deadline, or a new one) or stop and write up."""
        self.approve_button.setText("&Continue")  # short: three buttons fit the narrowest column
        self.approve_button.setToolTip("Carry on without a deadline")
        self.edit_button.setText("&New deadline…")
        self.edit_button.setToolTip("Carry on until a new deadline: 30m, 2h or HH:MM")
        self.reject_button.setText("&Stop")
        self.reject_button.setToolTip("Cancel what runs and write up the finished tasks (a partial result)")
        self.override_button.hide()
        self.details.hide()  # the numbers are in the facts line

    def _as_tool_question(self) -> None:
        """A tool call: approve, edit its arguments JSON, refuse, or give its result."""
        if is_in_doubt(self.request):
            self.approve_button.setText("&Re-run")
            self.approve_button.setToolTip("Run the call again (it may have taken effect already)")
            self.reject_button.setText("&Skip")
            self.reject_button.setToolTip("Do not run it again; the agent is told it was skipped")
        else:
            self.approve_button.setToolTip("Run the tool with these arguments")
            self.reject_button.setText("&Reject")
            self.reject_button.setToolTip("Refuse the call; the agent is told")
        self.edit_button.setToolTip("Change the arguments (JSON), then run the tool")
        self.override_button.setText("&Give the result…")
        self.override_button.setToolTip("Write the tool's result yourself; the tool does not run")

    def _build(self) -> None:
        request = self.request
        self.kicker = kicker = QLabel(heading(request).upper())
        font = QFont(kicker.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        font.setBold(True)
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 0.6)
        kicker.setFont(font)
        kicker.setStyleSheet(f"color: {ACCENT};")
        task_id = QLabel(request.task_id)
        theme.dim(task_id)
        task_id.setFont(theme.monospace_font(-1))
        top = QHBoxLayout()
        top.addWidget(kicker)
        top.addStretch(1)
        top.addWidget(task_id)

        self.title_label = QLabel(request.title)
        title_font = QFont(self.title_label.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.2)
        title_font.setBold(True)
        self.title_label.setFont(title_font)
        self.title_label.setWordWrap(True)
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts_label = self._facts()
        self.doubt_label = self._note(IN_DOUBT_NOTE if is_in_doubt(request) else "")
        self.confinement_label = self._confinement(request)
        self.claims_panel: conflict.ClaimsPanel | None = None
        question: list[QWidget] = []  # a conflict's claims, before the proposal
        if request.conflict is not None:
            self.claims_panel = conflict.ClaimsPanel(request.conflict.claims)
            self.claims_panel.picked.connect(lambda n: self._decide(Decision(Action.PICK, str(n))))
            self.proposal_label = QLabel("If you accept as is:")
            theme.dim(self.proposal_label)
            self.facts_label.setStyleSheet("")  # the why line is read, not dimmed
            question = [self.claims_panel, self.proposal_label]
        self.details = self._text_box(body_text(request), mono=request.tool is not None, name="Details")
        instead = request.tool.instead if request.tool is not None else None
        self.instead_label = self._note(INSTEAD_NOTE if instead is not None else "")
        self.instead_box = self._text_box(f"{instead.tool} {instead.arguments}" if instead else "",
                                          mono=True, name="The call asked for instead")
        if instead is None:
            self.instead_box.hide()

        self._build_actions()
        self.editor_panel = self._build_editor()
        self.reason_panel = self._build_reason()
        if request.conflict is not None:
            self.confirm_reject_button.setText("Skip task")
        self.resolved_label = QLabel()
        self.resolved_label.setWordWrap(True)
        self.resolved_label.setTextFormat(Qt.TextFormat.RichText)
        self.resolved_label.hide()
        self.details_toggle = QToolButton()
        self.details_toggle.setText("Show details")
        self.details_toggle.setCheckable(True)
        self.details_toggle.setAutoRaise(True)
        self.details_toggle.toggled.connect(self._on_details_toggled)
        self.details_toggle.hide()
        resolved_row = QHBoxLayout()
        resolved_row.addWidget(self.resolved_label, 1)
        resolved_row.addWidget(self.details_toggle, 0, Qt.AlignmentFlag.AlignVCenter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 14, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.title_label)
        for widget in (self.facts_label, *question, self.confinement_label, self.doubt_label, self.details,
                       self.instead_label,
                       self.instead_box, self.actions_row, self.editor_panel, self.reason_panel):
            layout.addWidget(widget)
        layout.addLayout(resolved_row)

    def _build_actions(self) -> None:
        self.approve_button = self._button("&Approve", "Run the task as planned")
        self.edit_button = self._button("&Edit…", "Change the instructions, then run the task")
        self.reject_button = self._button("&Reject…", "Skip this task (tasks that need it are blocked); "
                                          "you can say why")
        self.override_button = self._button("&Use my answer…", "Write the task's output yourself")
        self.approve_button.setDefault(True)
        self.approve_button.clicked.connect(lambda: self._decide(Decision(Action.APPROVE)))
        self.reject_button.clicked.connect(self._on_reject_clicked)
        self.edit_button.clicked.connect(lambda: self.open_editor(Action.EDIT))
        self.override_button.clicked.connect(lambda: self.open_editor(Action.OVERRIDE))
        self.retry_button: QPushButton | None = None
        if self.request.conflict is not None:
            self.retry_button = conflict.setup_buttons(self, self.request.conflict)
            self.retry_button.clicked.connect(lambda: self._decide(Decision(Action.RETRY)))
        self.actions_row = QWidget()
        actions = FlowLayout(self.actions_row)  # wraps in a narrow conversation
        buttons = [self.approve_button, self.edit_button, self.reject_button, self.override_button]
        if self.retry_button is not None:
            buttons = [self.approve_button, self.retry_button, self.override_button, self.reject_button]
        for button in buttons:
            actions.addWidget(button)
        if self.request.subject is Subject.BUDGET:
            self._as_budget_question()
        elif self.request.subject is Subject.DEADLINE:
            self._as_deadline_question()
        elif self.request.subject is Subject.TOOL:
            self._as_tool_question()

    def _facts(self) -> QLabel:
        label = QLabel(facts_html(self.request))
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.dim(label)
        if not label.text():
            label.hide()  # (never show() a widget before it has a parent: it would open a window)
        return label

    def _confinement(self, request: ApprovalRequest) -> QLabel:
        """What confines a code tool's call: the sandbox, or a warning that there is none."""
        text = request.tool.confinement if request.tool is not None else ""
        label = QLabel(text)
        label.setObjectName("confinement")
        label.setWordWrap(True)
        if text.startswith("No sandbox"):
            label.setStyleSheet(f"color: {theme.FAILED_COLOUR};")
        if not text:
            label.hide()
        return label

    def _note(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setStyleSheet(f"color: {ACCENT};")
        if not text:
            label.hide()
        return label

    def _text_box(self, text: str, mono: bool, name: str) -> QPlainTextEdit:
        box = QPlainTextEdit(text)
        box.setReadOnly(True)
        if mono:
            box.setFont(theme.monospace_font(-1))
        box.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        box.setAccessibleName(name)
        box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        box.setFrameShape(QFrame.Shape.NoFrame)
        lines = max(2, min(DETAILS_MAX_LINES, text.strip("\n").count("\n") + 1))
        box.setFixedHeight(QFontMetrics(box.font()).lineSpacing() * lines + 12)
        return box

    def _button(self, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setAutoDefault(True)  # Enter on a focused button clicks it
        return button

    def _build_editor(self) -> QWidget:
        panel = QWidget()
        self.editor_label = QLabel()
        self.editor = QPlainTextEdit()
        self.editor.setTabChangesFocus(True)
        spacing = QFontMetrics(self.editor.font()).lineSpacing()
        self.editor.setMinimumHeight(spacing * 4 + 12)
        self.editor.setMaximumHeight(spacing * 9 + 12)
        self.editor.installEventFilter(self)
        self.editor.textChanged.connect(self._on_editor_text_changed)
        self.editor_label.setBuddy(self.editor)
        self.editor_error = QLabel()
        self.editor_error.setWordWrap(True)
        self.editor_error.setStyleSheet(f"color: {theme.FAILED_COLOUR};")
        self.editor_error.setAccessibleName("Problem with the text")
        self.editor_error.hide()
        hint = QLabel("Ctrl+Enter to confirm, Esc to go back")
        theme.dim(hint)
        self.confirm_button = self._button("&Confirm", "Send this (Ctrl+Enter)")
        self.cancel_edit_button = self._button("Back", "Close the text box (Esc)")
        self.confirm_button.clicked.connect(self.confirm_text)
        self.cancel_edit_button.clicked.connect(self.close_editor)
        buttons = QHBoxLayout()
        buttons.addWidget(hint)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_edit_button)
        buttons.addWidget(self.confirm_button)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.editor_label)
        layout.addWidget(self.editor)
        layout.addWidget(self.editor_error)
        layout.addLayout(buttons)
        panel.hide()
        return panel

    def _build_reason(self) -> QWidget:
        """A task's Reject asks why (optional): one line, Enter rejects, Esc goes back."""
        panel = QWidget()
        label = QLabel("&Why? (optional)")
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("e.g. not needed, we already have these numbers")
        self.reason_edit.setAccessibleName("Why the task is rejected (optional)")
        self.reason_edit.setMaxLength(500)
        self.reason_edit.installEventFilter(self)
        self.reason_edit.returnPressed.connect(self.confirm_reject)
        label.setBuddy(self.reason_edit)
        # no mnemonics: Enter in the box rejects, Esc goes back
        self.confirm_reject_button = self._button("Reject task", "Skip the task; the reason is kept with the run (Enter)")
        self.cancel_reject_button = self._button("Back", "Keep the task waiting (Esc)")
        self.confirm_reject_button.clicked.connect(self.confirm_reject)
        self.cancel_reject_button.clicked.connect(self.close_editor)
        row = QHBoxLayout(panel)
        row.setContentsMargins(0, 4, 0, 0)
        row.addWidget(label)
        row.addWidget(self.reason_edit, 1)
        row.addWidget(self.cancel_reject_button)
        row.addWidget(self.confirm_reject_button)
        panel.hide()
        return panel

    def _on_reject_clicked(self) -> None:
        if self.request.subject in (Subject.TASK, Subject.CONFLICT):
            self.open_reason()
        else:
            self._decide(Decision(Action.REJECT))

    def open_reason(self) -> None:
        """Show the reason box of a task's Reject (Enter rejects, Esc goes back)."""
        if self.resolved:
            return
        self._mode = Action.REJECT
        self.actions_row.hide()
        self.reason_panel.show()
        self.reason_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def confirm_reject(self) -> None:
        """Reject, with the reason typed (if any)."""
        if self._mode is Action.REJECT:
            self._decide(Decision(Action.REJECT, self.reason_edit.text().strip()))

    def _restyle(self, accent: str) -> None:
        background = theme.css(theme.subtle_background(0.05))
        border = theme.css(theme.subtle_background(0.18))
        self.setStyleSheet(
            f"#ApprovalCard {{ background: {background}; border: 1px solid {border};"
            f" border-left: 4px solid {accent}; border-radius: 8px; }}"
        )

    # --- state --------------------------------------------------------------------

    @property
    def resolved(self) -> bool:
        return self._decision is not None or not self.actions_row.isEnabled()

    @property
    def decision(self) -> Decision | None:
        return self._decision

    @property
    def editing(self) -> Action | None:
        """EDIT or OVERRIDE while the text box is open, REJECT while the reason box is; else None."""
        return self._mode

    def open_editor(self, action: Action) -> None:
        """Show the text box for EDIT (prefilled with the instructions) or OVERRIDE."""
        if self.resolved:
            return
        self._mode = action
        tool = self.request.subject is Subject.TOOL
        if self.request.subject is Subject.DEADLINE:
            self.editor_label.setText("New deadline (30m, 2h, 1h30m or HH:MM):")
            self.editor.setPlaceholderText("30m")
            self.editor.clear()
            self.confirm_button.setText("&Continue until then")
        elif action is Action.EDIT and tool:
            self.editor_label.setText("The call's arguments (a JSON object):")
            self.editor.setPlaceholderText('{"path": "notes.txt"}')
            self.editor.setFont(theme.monospace_font(-1))
            self.editor.setPlainText(self.request.edit_text)
            self.confirm_button.setText("&Confirm and run")
        elif action is Action.OVERRIDE and tool:
            self.editor_label.setText("The tool's result (sent to the agent; the tool does not run):")
            self.editor.setPlaceholderText("What should the agent get back from this call?")
            self.editor.setFont(self.font())
            self.editor.clear()
            self.confirm_button.setText("&Confirm result")
        elif self.request.conflict is not None:
            self.editor_label.setText("The task's output (starts from the proposal; the agents do not run again):")
            self.editor.setPlaceholderText("Write the answer this task should give…")
            self.editor.setPlainText(self.request.edit_text)
            self.confirm_button.setText("&Confirm answer")
        elif action is Action.EDIT:
            self.editor_label.setText("New instructions for the agent:")
            self.editor.setPlaceholderText("What should the agent do instead?")
            self.editor.setPlainText(self.request.edit_text)
            self.confirm_button.setText("&Confirm and run")
        else:
            self.editor_label.setText("Your answer (used as this task's output, the agent does not run):")
            self.editor.setPlaceholderText("Write the output this task should produce…")
            self.editor.clear()
            self.confirm_button.setText("&Confirm answer")
        self.actions_row.hide()
        if self.claims_panel is not None:  # the editor starts from the proposal: no need for both
            self.proposal_label.hide()
            self.details.hide()
        self.editor_panel.show()
        self._on_editor_text_changed()
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)

    def close_editor(self) -> None:
        self._mode = None
        self.editor_panel.hide()
        self.reason_panel.hide()
        if not self.resolved:
            self.actions_row.show()
            if self.claims_panel is not None:
                self.proposal_label.show()
                self.details.show()
            self.approve_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def confirm_text(self) -> None:
        """Decide with the text box's content (EDIT or OVERRIDE)."""
        text = self.editor.toPlainText().strip()
        if self._mode is None or not text:
            return
        if self._mode is Action.EDIT and self.request.subject is Subject.TOOL:
            problem = arguments_error(text)
            if problem:
                self._show_editor_error(problem)
                return
        if self.request.subject is Subject.DEADLINE:  # the core takes the new deadline as epoch seconds
            try:
                text = repr(parse_deadline(text))
            except BadConstraint as exc:
                self._show_editor_error(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
                return
        self._decide(Decision(self._mode, text))

    def _show_editor_error(self, problem: str) -> None:
        self.editor_error.setText(problem)
        self.editor_error.show()
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)

    def mark_resolved(self, action: Action | str, text: str = "") -> None:
        """Show a decision taken elsewhere (history, another window) without emitting."""
        self._show_resolved(Decision(Action(action), text))

    def mark_cancelled(self, reason: str = "The run was cancelled before a decision") -> None:
        """Show that nobody needs to decide any more (the run ended)."""
        if self.resolved:
            return
        self._freeze()
        self._restyle(theme.STATUS_COLOURS["cancelled"])
        self._set_kicker("Not needed", theme.STATUS_COLOURS["cancelled"])
        self.resolved_label.setText(f"<span style='color:{theme.STATUS_COLOURS['cancelled']}'>"
                                    f"<b>{html.escape(reason)}</b></span>")
        self.resolved_label.show()

    # --- internals ------------------------------------------------------------------

    def _decide(self, decision: Decision) -> None:
        if self.resolved:
            return
        self._show_resolved(decision)
        self.decided.emit(decision)

    def _show_resolved(self, decision: Decision) -> None:
        if self._decision is not None:
            return
        self._decision = decision
        self._freeze()
        texts = RESOLVED_TEXT
        if self.request.subject is Subject.TOOL:
            texts = IN_DOUBT_RESOLVED_TEXT if is_in_doubt(self.request) else TOOL_RESOLVED_TEXT
        quote = decision.text
        if self.request.conflict is not None:
            text, status, quote = conflict.resolved_text(self.request.conflict, decision)
        elif self.request.subject is Subject.DEADLINE:
            text, status = DEADLINE_RESOLVED_TEXT.get(decision.action, RESOLVED_TEXT[Action.APPROVE])
            quote = _deadline_quote(decision)
        else:
            text, status = texts[decision.action]
        colour = theme.STATUS_COLOURS[status]
        body = f"<span style='color:{colour}'><b>{html.escape(text)}</b></span>"
        if quote:
            quote = quote if len(quote) <= 400 else quote[:400] + "…"
            body += f"<br><span style='white-space:pre-wrap'>{html.escape(quote)}</span>"
        self.resolved_label.setText(body)
        self.resolved_label.show()
        self._restyle(colour)
        self._set_kicker("Decided", colour)

    def _set_kicker(self, text: str, colour: str) -> None:
        subject = KICKER_SUBJECTS[self.request.subject]
        kind = subject if self.request.subject is Subject.CONFLICT else f"{subject} approval"
        self.kicker.setText(f"{kind} · {text}".upper())
        self.kicker.setStyleSheet(f"color: {colour};")

    def _freeze(self) -> None:
        self._mode = None
        for widget in (self.actions_row, self.editor_panel, self.reason_panel):
            widget.setEnabled(False)
            widget.hide()
        self.setFocusProxy(None)  # type: ignore[arg-type]  # PySide6 stub bug: None (nullptr) removes the proxy
        # Decided cards fold their details away: a long run stays readable.
        folded = self._foldable()
        for widget in folded:
            widget.hide()
        self.details_toggle.setChecked(False)
        self.details_toggle.setVisible(bool(folded))

    def _foldable(self) -> list[QWidget]:
        """What a decided card hides until "Show details": the question's text boxes and notes."""
        widgets: list[QWidget] = []
        if self.request.subject not in (Subject.BUDGET, Subject.DEADLINE):
            widgets.append(self.details)
        if self.claims_panel is not None:
            widgets += [self.claims_panel, self.proposal_label]
        if is_in_doubt(self.request):
            widgets.append(self.doubt_label)
        if self.request.tool is not None and self.request.tool.confinement:
            widgets.append(self.confinement_label)
        if self.request.tool is not None and self.request.tool.instead is not None:
            widgets += [self.instead_label, self.instead_box]
        return widgets

    def _on_details_toggled(self, shown: bool) -> None:
        for widget in self._foldable():
            widget.setVisible(shown)
        self.details_toggle.setText("Hide details" if shown else "Show details")

    def _on_editor_text_changed(self) -> None:
        self.editor_error.hide()
        self.confirm_button.setEnabled(bool(self.editor.toPlainText().strip()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress:  # (the filters see events while _build runs)
            return super().eventFilter(watched, event)
        key_event: QKeyEvent = event  # type: ignore[assignment]
        key = key_event.key()
        if watched is self.editor:
            ctrl = key_event.modifiers() & Qt.KeyboardModifier.ControlModifier
            if ctrl and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.confirm_text()
                return True
            if key == Qt.Key.Key_Escape:
                self.close_editor()
                return True
        elif watched is self.reason_edit and key == Qt.Key.Key_Escape:
            self.close_editor()
            return True
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.resolved and not _typing_elsewhere(self):
            self.approve_button.setFocus(Qt.FocusReason.OtherFocusReason)


def _deadline_quote(decision: Decision) -> str:
    """A new deadline as a clock shows it (the decision's text is epoch seconds)."""
    if decision.action is not Action.EDIT:
        return ""
    try:
        return f"Until {clock_text(float(decision.text))}"
    except ValueError:
        return decision.text


def _typing_elsewhere(card: QWidget) -> bool:
    """True when the person is typing in a text box outside `card` (don't steal focus)."""
    focus = QApplication.focusWidget()
    if focus is None or card.isAncestorOf(focus):
        return False
    return isinstance(focus, QPlainTextEdit | QLineEdit) and not focus.isReadOnly()


CardHost = Callable[[ApprovalCard], object]


class QtApprovalGate:
    """An ApprovalGate answered by ApprovalCards.

    `show_card(card)` must put the card where the person sees it (the
    conversation view's `add_approval_card`). `decide()` then awaits a Future
    that the card's `decided` signal resolves: nothing else blocks. Works on
    any asyncio loop running in the Qt thread (qasync in the app).
    """

    def __init__(self, show_card: CardHost) -> None:
        self._show_card = show_card
        self._pending: dict[str, ApprovalCard] = {}

    async def decide(self, request: ApprovalRequest) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        card = self.make_card(request)
        bind(card, future)
        self._pending[request.request_id] = card
        try:
            self._show_card(card)
            return await future
        except asyncio.CancelledError:
            card.mark_cancelled()
            raise
        finally:
            self._pending.pop(request.request_id, None)

    def make_card(self, request: ApprovalRequest) -> ApprovalCard:
        return ApprovalCard(request)

    def pending(self) -> list[ApprovalCard]:
        """Cards still waiting for the person, oldest first."""
        return list(self._pending.values())


def bind(card: ApprovalCard, future: asyncio.Future[Decision]) -> None:
    """Resolve `future` with the card's decision; fail it if the card is destroyed first."""

    def on_decided(decision: Decision) -> None:
        if not future.done():
            future.set_result(decision)

    def on_destroyed(*_args: object) -> None:
        if not future.done():
            future.set_exception(ApprovalError("the approval card was closed before a decision"))

    card.decided.connect(on_decided)
    card.destroyed.connect(on_destroyed)
