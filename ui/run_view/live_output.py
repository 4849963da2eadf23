"""LiveOutputPane: the text each task's agent is streaming, one task shown at a time.

Deltas arrive far faster than a person reads (300 agents x tens of deltas a
second), so `append()` only stores them; a single-shot QTimer flushes every
FLUSH_MS: per task, the pending pieces are joined once, and only the shown
task's new text goes into the QPlainTextEdit (one insert, no re-layout of
what is already there). Each task keeps at most MAX_CHARS_PER_TASK characters
(the tail; the head is dropped with a marker).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QIcon,
    QPainter,
    QPixmap,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ui import theme
from ui.run_view import tool_lines

ORCHESTRATOR_TITLE = "Orchestrator (plan and deliverable)"
TRIMMED_MARKER = "[… earlier output trimmed …]\n"
ATTEMPT_MARK = "── attempt "
"""Starts the line that separates a task's attempts: "── attempt 2 ──"."""


def attempt_line(number: int) -> str:
    return f"{ATTEMPT_MARK}{number} ──\n"


def dot_icon(colour: QColor, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pixmap)


class ToolLineHighlighter(QSyntaxHighlighter):
    """Colours tool-call lines (dim; failures in the failure colour) and their result lines."""

    OK, FAILED = 1, 2

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self._ok = QTextCharFormat()
        self._ok.setForeground(theme.dim_text_colour())
        self._failed = QTextCharFormat()
        self._failed.setForeground(QColor(theme.FAILED_COLOUR))
        self._mark = QTextCharFormat()
        self._mark.setForeground(QColor(theme.STATUS_COLOURS["retrying"]))
        self._attempt = QTextCharFormat(self._mark)
        self._attempt.setFontWeight(700)

    def highlightBlock(self, text: str) -> None:
        if text.startswith(ATTEMPT_MARK):
            self.setFormat(0, len(text), self._attempt)
            self.setCurrentBlockState(0)
        elif text.startswith(tool_lines.TOOL_PREFIX):
            failed = any(word in text for word in tool_lines.ERROR_WORDS)
            self.setFormat(0, len(text), self._failed if failed else self._ok)
            mark = text.rfind(" · ")
            if mark > 0 and not failed:
                self.setFormat(mark + 3, len(text) - mark - 3, self._mark)
            self.setCurrentBlockState(self.FAILED if failed else self.OK)
        elif text.startswith(tool_lines.RESULT_PREFIX) and self.previousBlockState() in (self.OK, self.FAILED):
            state = self.previousBlockState()
            self.setFormat(0, len(text), self._failed if state == self.FAILED else self._ok)
            self.setCurrentBlockState(state)
        else:
            self.setCurrentBlockState(0)


class LiveOutputPane(QWidget):
    """Streamed text per task: a task selector over a read-only text view."""

    taskSelected = Signal(str)
    """The person picked another task in the selector (its id)."""

    FLUSH_MS = 80
    MAX_CHARS_PER_TASK = 100_000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pending: dict[str, list[str]] = {}
        self._chunks: dict[str, list[str]] = {}
        self._sizes: dict[str, int] = {}
        self._info: dict[str, tuple[str, str]] = {}
        self._status: dict[str, str] = {}
        self._icons: dict[str, QIcon] = {}
        self._current: str | None = None
        self._open_calls: dict[str, str] = {}
        """task id -> the call whose line is the task's last, still without its outcome."""
        self._heads: dict[str, str] = {}
        """call id -> its line's start, for calls in flight."""
        self._attempts: dict[str, int] = {}
        """task id -> attempts begun (TaskStarted, TaskRetried) since the pane was cleared."""
        self._owed: dict[str, int] = {}
        """task id -> the attempt whose line goes before the task's first text (none shown yet)."""
        self.flushes = 0
        """How many flushes wrote something (for tests and benchmarks)."""

        self.selector = QComboBox()
        self.selector.setAccessibleName("Task shown in the live output")
        self.selector.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.selector.setMinimumContentsLength(28)
        self.selector.setMaxVisibleItems(20)
        self.selector.setPlaceholderText("No output yet")
        self.selector.currentIndexChanged.connect(self._on_selector_changed)
        self.status = QLabel("")
        theme.dim(self.status)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        caption = QLabel("Live output")
        font = caption.font()
        font.setBold(True)
        caption.setFont(font)
        caption.setBuddy(self.selector)

        self.editor = QPlainTextEdit()
        self.editor.setReadOnly(True)
        self.editor.setUndoRedoEnabled(False)
        self.editor.setFont(theme.monospace_font())
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.editor.setPlaceholderText("Select a task to see what its agent is writing.")
        self.editor.setAccessibleName("Live output")
        self.highlighter = ToolLineHighlighter(self.editor.document())

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(caption)
        header.addWidget(self.selector)
        header.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(header)
        layout.addWidget(self.editor, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.FLUSH_MS)
        self._timer.timeout.connect(self.flush)

    # --- feeding ----------------------------------------------------------------

    def append(self, task_id: str, text: str) -> None:
        """Queue streamed text for a task; cheap, safe to call thousands of times a second."""
        if not text:
            return
        if self._open_calls and self._open_calls.pop(task_id, None) is not None:
            text = "\n" + text  # the model writes again while a call is in flight
        self._queue(task_id, text)

    def tool_requested(self, task_id: str, call_id: str, tool: str, arguments: str) -> None:
        """Start a call's line: "⚙ tool {args}"; its outcome follows on the same line."""
        head = tool_lines.call_head(tool, arguments)
        self._heads[call_id] = head
        self._queue(task_id, self._line_start(task_id) + head)
        self._open_calls[task_id] = call_id

    def tool_finished(self, task_id: str, call_id: str, tool: str, result: str, error: bool,
                      duration_ms: float, permission: str) -> None:
        """End a call's line with " → ok, 12 ms" (and a mark), then the result's first lines."""
        head = self._heads.pop(call_id, None)
        if self._open_calls.get(task_id) == call_id:
            del self._open_calls[task_id]
            text = ""
        else:  # other output came in between (or the request was not seen): restate the call
            text = self._line_start(task_id) + (head or f"{tool_lines.TOOL_PREFIX}{tool}")
        text += tool_lines.outcome(error, duration_ms, permission) + "\n" + tool_lines.result_lines(result, permission)
        self._queue(task_id, text)

    def tool_progress(self, task_id: str, message: str) -> None:
        """A line "… step 3 (40%)" under the running call (its outcome then restates the call)."""
        self._queue(task_id, self._line_start(task_id) + f"    … {message}\n")

    def step_started(self, task_id: str, step: str, agent: str) -> None:
        """A pattern task's next step ("draft 2", "review 2") heads what it writes."""
        self._queue(task_id, self._line_start(task_id) + ("\n" if self.text(task_id) else "")
                    + f"── {step} · {agent} ──\n")

    def begin_attempt(self, task_id: str) -> None:
        """A task's next attempt begins (a retry, Retry task, a re-run): its text
        is set apart by "── attempt N ──" (which waits for the first text when
        earlier attempts wrote nothing)."""
        number = self._attempts[task_id] = self._attempts.get(task_id, 0) + 1
        if number == 1:
            return
        if self.text(task_id):
            self._queue(task_id, self._line_start(task_id) + attempt_line(number))
        else:
            self._owed[task_id] = number

    def _line_start(self, task_id: str) -> str:
        """"\n" unless the task's text is empty or ends a line (closes an open call line)."""
        self._open_calls.pop(task_id, None)
        pending = self._pending.get(task_id)
        if pending:
            last = pending[-1]
        else:
            chunks = self._chunks.get(task_id)
            last = chunks[-1] if chunks else ""
        return "\n" if last and not last.endswith("\n") else ""

    def _queue(self, task_id: str, text: str) -> None:
        if self._owed:
            owed = self._owed.pop(task_id, None)
            if owed is not None:
                text = attempt_line(owed) + text
        pending = self._pending.get(task_id)
        if pending is None:
            self._pending[task_id] = [text]
        else:
            pending.append(text)
        if not self._timer.isActive():
            self._timer.start()

    def set_task_info(self, task_id: str, title: str, agent: str) -> None:
        """How a task is named in the selector."""
        self._info[task_id] = (title, agent)
        index = self.selector.findData(task_id)
        if index >= 0:
            self.selector.setItemText(index, self._label(task_id))
            self.selector.setItemIcon(index, self._icon(agent))
        if task_id == self._current:
            self._show_status()

    def set_task_status(self, task_id: str, status: str, label: str = "") -> None:
        """The task's status, shown by its name unless `label` says it in other words."""
        self._status[task_id] = label or theme.status_label(status)
        if task_id == self._current:
            self._show_status()

    def flush(self) -> None:
        """Move pending text into the per-task buffers and the shown task's view."""
        self._timer.stop()
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        for task_id, pieces in pending.items():
            chunk = "".join(pieces)
            trimmed = self._store(task_id, chunk)
            if task_id == self._current:
                if trimmed:
                    self._reload()
                else:
                    self._insert(chunk)
        if self._current is None and pending:
            self.show_task(next(iter(pending)))
        self.flushes += 1

    # --- showing ----------------------------------------------------------------

    def show_task(self, task_id: str) -> None:
        """Show a task's output (adding it to the selector if needed)."""
        self._ensure_item(task_id)
        if task_id != self._current:
            self._current = task_id
            self.selector.blockSignals(True)
            self.selector.setCurrentIndex(self.selector.findData(task_id))
            self.selector.blockSignals(False)
            self._reload()
            self._show_status()

    def current_task(self) -> str | None:
        return self._current

    def text(self, task_id: str) -> str:
        """Everything received for a task so far, flushed or not."""
        return "".join(self._chunks.get(task_id, ())) + "".join(self._pending.get(task_id, ()))

    def displayed_text(self) -> str:
        return self.editor.toPlainText()

    def tasks_with_output(self) -> list[str]:
        return [self.selector.itemData(i) for i in range(self.selector.count())]

    def clear(self) -> None:
        self._timer.stop()
        for store in (self._pending, self._chunks, self._sizes, self._status, self._open_calls, self._heads,
                      self._attempts, self._owed):
            store.clear()
        self._current = None
        self.selector.blockSignals(True)
        self.selector.clear()
        self.selector.blockSignals(False)
        self.editor.clear()
        self.status.clear()

    # --- internals --------------------------------------------------------------

    def _store(self, task_id: str, chunk: str) -> bool:
        """Keep `chunk`; returns True when the task's head had to be dropped."""
        chunks = self._chunks.get(task_id)
        if chunks is None:
            chunks = self._chunks[task_id] = []
            self._ensure_item(task_id)
        chunks.append(chunk)
        size = self._sizes.get(task_id, 0) + len(chunk)
        if len(chunks) > 256:  # keep the list short: one join now, not one per reload
            chunks[:] = ["".join(chunks)]
        if size <= self.MAX_CHARS_PER_TASK:
            self._sizes[task_id] = size
            return False
        keep = self.MAX_CHARS_PER_TASK * 3 // 4
        tail = "".join(chunks)[-keep:]
        cut = tail.find("\n")
        if 0 <= cut < 200:
            tail = tail[cut + 1 :]
        chunks[:] = [TRIMMED_MARKER, tail]
        self._sizes[task_id] = len(TRIMMED_MARKER) + len(tail)
        return True

    def _insert(self, chunk: str) -> None:
        bar = self.editor.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.editor.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk)
        if at_bottom:
            bar.setValue(bar.maximum())

    def _reload(self) -> None:
        task_id = self._current
        self.editor.setPlainText("".join(self._chunks.get(task_id, ())) if task_id is not None else "")
        bar = self.editor.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _ensure_item(self, task_id: str) -> None:
        if self.selector.findData(task_id) < 0:
            agent = self._info.get(task_id, ("", ""))[1]
            self.selector.blockSignals(True)
            self.selector.addItem(self._icon(agent), self._label(task_id), task_id)
            if self._current is None:
                self.selector.setCurrentIndex(-1)
            self.selector.blockSignals(False)

    def _label(self, task_id: str) -> str:
        if not task_id:
            return ORCHESTRATOR_TITLE
        title, _agent = self._info.get(task_id, (task_id, ""))
        return title if title else task_id

    def _icon(self, agent: str) -> QIcon:
        icon = self._icons.get(agent)
        if icon is None:
            icon = self._icons[agent] = dot_icon(theme.role_colour(agent or "orchestrator"))
        return icon

    def _show_status(self) -> None:
        task_id = self._current
        if task_id is None:
            self.status.clear()
            return
        agent = self._info.get(task_id, ("", ""))[1] or ("orchestrator" if not task_id else "")
        parts = [p for p in (agent, task_id) if p]
        status = self._status.get(task_id)
        if status:
            parts.append(status)
        self.status.setText("  ·  ".join(parts))

    def _on_selector_changed(self, index: int) -> None:
        task_id = self.selector.itemData(index) if index >= 0 else None
        if task_id is None or task_id == self._current:
            return
        self.show_task(task_id)
        self.taskSelected.emit(task_id)
