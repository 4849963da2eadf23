"""The pieces of the conversation column: message bubbles, plan card, deliverable."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication, QPalette, QResizeEvent, QTextDocument
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from agents.plan.patterns import from_fields
from agents.plan.patterns import label as pattern_label
from agents.run.state import walk_plan
from ui import theme
from ui.conversation.markdown_render import document_css, render_markdown

USER = "user"
ORCHESTRATOR = "orchestrator"

EXPORT_FORMATS = (("md", "&Markdown"), ("html", "&HTML"), ("json", "&JSON"))


def kicker(text: str, colour: str | None = None) -> QLabel:
    """A small, spaced, upper-case caption."""
    label = QLabel(text.upper())
    font = QFont(label.font())
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
    font.setBold(True)
    font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 0.6)
    label.setFont(font)
    if colour:
        label.setStyleSheet(f"color: {colour};")
    else:
        theme.dim(label)
    return label


def card_style(name: str, accent: str | None = None, t: float = 0.05) -> str:
    background = theme.css(theme.subtle_background(t))
    border = theme.css(theme.subtle_background(0.16))
    left = f" border-left: 4px solid {accent};" if accent else ""
    return f"#{name} {{ background: {background}; border: 1px solid {border};{left} border-radius: 10px; }}"


class MessageBubble(QFrame):
    """A message: the person's (plain text, right) or the orchestrator's (Markdown, left)."""

    def __init__(self, role: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self._text = ""
        self._max_width = 560
        self.setObjectName("Bubble")
        self.caption = kicker("You" if role == USER else role.capitalize(),
                              None if role == USER else theme.css(theme.role_colour(role)))
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.body.setOpenExternalLinks(False)
        self.body.setTextFormat(Qt.TextFormat.PlainText if role == USER else Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 10)
        layout.setSpacing(3)
        layout.addWidget(self.caption, 0, Qt.AlignmentFlag.AlignRight if role == USER else Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.body)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self._restyle()
        self.set_text(text)

    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        self._text = text
        self.body.setText(text if self.role == USER else render_markdown(text, theme.is_dark_mode()))
        self._fit()

    def set_max_width(self, width: int) -> None:
        if width != self._max_width:
            self._max_width = width
            self._fit()

    def _fit(self) -> None:
        """Width of the longest line, up to the maximum: short messages stay small."""
        doc = QTextDocument()
        doc.setDefaultFont(self.body.font())
        if self.role == USER:
            doc.setPlainText(self._text)
        else:
            doc.setHtml(self.body.text())
        limit = max(120, self._max_width - 28)
        ideal = math.ceil(doc.idealWidth()) + 4
        self.body.setFixedWidth(min(max(ideal, 60), limit))

    def _restyle(self) -> None:
        palette = QGuiApplication.palette()
        if self.role == USER:
            tint = theme.mix(palette.color(QPalette.ColorRole.Highlight), palette.color(QPalette.ColorRole.Base), 0.8)
            self.setStyleSheet(f"#Bubble {{ background: {theme.css(tint)}; border-radius: 12px; }}")
        else:
            self.setStyleSheet(card_style("Bubble", t=0.05).replace("10px", "12px"))


class PlanCard(QFrame):
    """The orchestrator's plan in brief, with "Approve plan & run"."""

    approved = Signal()
    editRequested = Signal()
    PREVIEW = 10

    def __init__(self, summary: str, tasks: Sequence[tuple[str, str]] = (), task_count: int | None = None,
                 needs_approval: int = 0, parent: QWidget | None = None,
                 roles: Sequence[str] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PlanCard")
        self.task_count = len(tasks) if task_count is None else task_count
        accent = theme.css(theme.role_colour("orchestrator"))
        self.setStyleSheet(card_style("PlanCard", accent))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 14, 12)
        layout.setSpacing(6)
        layout.addWidget(kicker("Plan", accent))
        self.summary = QLabel(summary)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        self.facts = QLabel()
        bold = QFont(self.facts.font())
        bold.setBold(True)
        self.facts.setFont(bold)
        layout.addWidget(self.facts)
        self.preview = self._preview_label()
        layout.addWidget(self.preview)
        self.show_plan(tasks, needs_approval, roles, task_count)
        self.estimate = QLabel()
        """The plan's cost estimate (set once it is worked out, off the UI thread)."""
        self.estimate.setTextFormat(Qt.TextFormat.RichText)
        self.estimate.setWordWrap(True)
        self.estimate.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.estimate.hide()
        layout.addWidget(self.estimate)
        self.notice = QLabel()
        """Said of a template plan (a model too small to plan); hidden otherwise."""
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("font-style: italic;")
        self.notice.hide()
        layout.addWidget(self.notice)
        self.approve_button = QPushButton("&Approve plan && run")
        self.approve_button.setDefault(True)
        self.approve_button.setAutoDefault(True)
        self.edit_button = QPushButton("Edit plan…")
        self.edit_button.setAutoDefault(True)
        self.approve_button.clicked.connect(self._on_approve)
        self.edit_button.clicked.connect(self.editRequested.emit)
        self.state_label = QLabel()
        self.state_label.hide()
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 4, 0, 0)
        buttons.addWidget(self.approve_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.state_label)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def set_notice(self, text: str) -> None:
        """Show `text` under the plan ("Offline template plan: ...")."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def show_plan(self, tasks: Sequence[tuple[str, str]], needs_approval: int = 0,
                  roles: Sequence[str] | None = None, task_count: int | None = None) -> None:
        """The plan as it stands (the card follows the person's edits until the run starts)."""
        self.task_count = len(tasks) if task_count is None else task_count
        roles = sorted({agent for _title, agent in tasks}) if roles is None else list(roles)
        facts = [f"{self.task_count} task{'s' if self.task_count != 1 else ''}"]
        if roles:
            facts.append(f"{len(roles)} agent{'s' if len(roles) != 1 else ''}")
        if needs_approval:
            facts.append(f"{needs_approval} need{'s' if needs_approval == 1 else ''} your approval")
        self.facts.setText("  ·  ".join(facts))
        self.preview.setText(self._preview_html(tasks))
        self.preview.setVisible(bool(tasks))

    def _preview_label(self) -> QLabel:
        label = QLabel()
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setContentsMargins(4, 2, 0, 2)
        return label

    def _preview_html(self, tasks: Sequence[tuple[str, str]]) -> str:
        """The first tasks as coloured lines; two columns when there are more than four."""
        dim = theme.css(theme.dim_text_colour())
        cells = []
        for title, agent in tasks[: self.PREVIEW]:
            colour = theme.css(theme.role_colour(agent))
            cells.append(f"<span style='color:{colour}'>●</span>&nbsp; {html.escape(title)}"
                         f" <span style='color:{dim}'>· {html.escape(agent)}</span>")
        if len(tasks) > self.PREVIEW:
            cells.append(f"<span style='color:{dim}'>… and {len(tasks) - self.PREVIEW} more</span>")
        if len(cells) <= 4:
            text = "<br>".join(cells)
        else:
            half = (len(cells) + 1) // 2
            left, right = cells[:half], cells[half:] + [""] * (half - len(cells[half:]))
            rows = "".join(f"<tr><td style='padding-right:28px'>{a}</td><td>{b}</td></tr>"
                           for a, b in zip(left, right, strict=True))
            text = f"<table cellspacing='0' cellpadding='1'>{rows}</table>"
        return text

    def set_estimate(self, headline: str, notes: Sequence[str] = ()) -> None:
        """Show the cost estimate: the headline in bold, what to know about it dimmed under it."""
        dim = theme.css(theme.dim_text_colour())
        lines = [f"<b>{html.escape(headline)}</b>"]
        lines += [f"<span style='color:{dim}'>{html.escape(note)}</span>" for note in notes]
        self.estimate.setText("<br>".join(lines))
        self.estimate.show()

    @property
    def is_approved(self) -> bool:
        return not self.approve_button.isEnabled()

    def set_approved(self, text: str = "✓  Plan approved: running") -> None:
        self.approve_button.setEnabled(False)
        self.edit_button.setEnabled(False)
        self.approve_button.hide()
        self.edit_button.hide()
        self.state_label.setText(f"<b style='color:{theme.STATUS_COLOURS['completed']}'>{html.escape(text)}</b>")
        self.state_label.show()

    def reopen(self) -> None:
        """Undo set_approved: the run did not start (the person went back to the plan)."""
        for button in (self.approve_button, self.edit_button):
            button.setEnabled(True)
            button.show()
        self.state_label.hide()

    def _on_approve(self) -> None:
        # marked approved by whoever starts the run: a plan with problems, or one the
        # person takes back at an "over budget?" question, leaves the card as it was
        if not self.is_approved:
            self.approved.emit()


def plan_preview(plan: Any) -> tuple[list[tuple[str, str]], int]:
    """(leaf (title, agent) pairs, how many need approval) of a Plan or its to_dict();
    a task with a pattern says so after its title ("Essay — review ×3 by reviewer")."""
    data: Mapping[str, Any] = plan if isinstance(plan, Mapping) else plan.to_dict()
    leaves: list[tuple[str, str]] = []
    approvals = 0
    titles = {str(t.get("id")): str(t.get("title") or t.get("id")) for t, _ in walk_plan(data.get("tasks") or ())}
    for task, _depth in walk_plan(data.get("tasks") or ()):
        if task.get("children"):
            continue
        title = str(task.get("title") or task.get("id"))
        if shown := _pattern_text(task, titles):
            title += f" — {shown}"
        leaves.append((title, str(task.get("agent", ""))))
        approvals += bool(task.get("requires_approval"))
    return leaves, approvals


def _pattern_text(task: Mapping[str, Any], titles: Mapping[str, str]) -> str:
    try:
        return pattern_label(from_fields(task), titles)
    except (ValueError, TypeError):  # a stored plan from before, or hand-edited: no label
        return ""


def plan_roles(plan: Any) -> list[str]:
    """Every role a plan puts to work: the tasks' agents, reviewers, voters, debaters, judges."""
    data: Mapping[str, Any] = plan if isinstance(plan, Mapping) else plan.to_dict()
    roles: set[str] = set()
    for task, _depth in walk_plan(data.get("tasks") or ()):
        if task.get("children"):
            continue
        roles.add(str(task.get("agent", "")))
        for field in ("reviewer", "judge"):
            if task.get(field):
                roles.add(str(task[field]).partition("@")[0])
        for field in ("voters", "debaters"):
            roles.update(str(name).partition("@")[0] for name in task.get(field) or ())
    return sorted(r for r in roles if r)


class AutoHeightBrowser(QTextBrowser):
    """A QTextBrowser as tall as its document: the page scrolls, not the browser."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self, *_args: object) -> None:
        self.document().setTextWidth(self.viewport().width())
        height = math.ceil(self.document().size().height()) + 2 * self.frameWidth() + 4
        if self.height() != height:
            self.setFixedHeight(height)

    def sizeHint(self) -> QSize:
        return QSize(400, self.height())


class DeliverableCard(QFrame):
    """The run's final Markdown, rendered, with export buttons."""

    exportRequested = Signal(str)
    """"md", "html" or "json"."""
    followUpRequested = Signal()
    """"Follow up…": the next goal builds on this result."""

    def __init__(self, markdown_text: str, title: str = "Deliverable", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DeliverableCard")
        accent = theme.STATUS_COLOURS["completed"]
        self.setStyleSheet(card_style("DeliverableCard", accent, t=0.02))
        self.markdown = ""
        self.html = ""
        # the actions sit under the text in two short rows: one row of six buttons was
        # cut off in a conversation column narrower than ~560 px (seen at 1280x800)
        self.follow_up_button = QPushButton("&Follow up…")
        self.follow_up_button.setToolTip("Ask for more with this result as context (a new run, linked to this one)")
        self.follow_up_button.clicked.connect(self.followUpRequested.emit)
        self.copy_button = QPushButton("Cop&y")
        self.copy_button.setToolTip("Copy the Markdown to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        actions = QHBoxLayout()
        actions.addWidget(self.follow_up_button)
        actions.addWidget(self.copy_button)
        actions.addStretch(1)
        exports = QHBoxLayout()
        export = QLabel("Export:")
        theme.dim(export)
        exports.addWidget(export)
        self.export_buttons: dict[str, QPushButton] = {}
        for fmt, text in EXPORT_FORMATS:
            button = QPushButton(text)
            button.setToolTip(f"Save the run as {fmt.upper()}")
            button.setAutoDefault(True)
            button.clicked.connect(lambda _=False, f=fmt: self.exportRequested.emit(f))
            self.export_buttons[fmt] = button
            exports.addWidget(button)
        exports.addStretch(1)
        self.browser = AutoHeightBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setAccessibleName(title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 14, 10)
        layout.setSpacing(6)
        layout.addWidget(kicker(title, accent))
        layout.addWidget(self.browser)
        layout.addLayout(actions)
        layout.addLayout(exports)
        self.set_markdown(markdown_text)

    def set_markdown(self, markdown_text: str) -> None:
        dark = theme.is_dark_mode()
        self.markdown = markdown_text
        self.html = render_markdown(markdown_text, dark)
        self.browser.document().setDefaultStyleSheet(document_css(dark))
        self.browser.setHtml(self.html)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.markdown)
