"""The strip above the conversation that says the last session ended unexpectedly
(app/session_marker.py found its marker left behind): where the crash log is,
Resume for the run it interrupted, the logs folder, Dismiss."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.session_marker import UnexpectedEnd
from ui import theme

HEADLINE = "Troupe closed unexpectedly last time."
GOAL_WIDTH = 220
"""At most this many pixels of the interrupted run's goal on the Resume button (elided
further to fit the row; just "Resume" when there is no room)."""
SPACING = 6


class CrashNotice(QFrame):
    """Hidden until `show_for` is given an unexpected end; the person can dismiss it."""

    resumeRequested = Signal(str)
    """The run id to open and resume."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashNotice")
        self.setAccessibleName("Unexpected end of the last session")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # copy the path
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.open_logs = QPushButton("Open log folder")
        self.open_logs.clicked.connect(self._on_open_logs_clicked)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.hide)
        # the sentence over the whole width, the buttons under it: the centre column
        # may be narrow, and a path squeezed beside three buttons wraps at every "/"
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 8, 10, 8)
        column.setSpacing(SPACING)
        column.addWidget(self.text)
        row = QHBoxLayout()
        row.setSpacing(SPACING)
        row.addStretch(1)
        for button in (self.resume_button, self.open_logs, self.dismiss_button):
            row.addWidget(button, 0)
        column.addLayout(row)
        self._run_id: str | None = None
        self._goal = ""
        self._last: UnexpectedEnd | None = None
        colour = theme.STATUS_COLOURS["waiting_approval"]
        self.setStyleSheet(f"QFrame#crashNotice {{ background: {theme.tint(colour)}; "
                           f"border: 1px solid {colour}; border-radius: 4px; }}")
        self.hide()

    @property
    def run_id(self) -> str | None:
        """The interrupted run Resume is for, while it is offered."""
        return self._run_id if self.resume_button.isVisibleTo(self) else None

    def show_for(self, last: UnexpectedEnd, run_id: str | None = None, goal: str = "") -> None:
        """Say how the last session ended; offer Resume for `run_id` when given."""
        self._last = last
        self._run_id = run_id
        said = f"<b>{html.escape(HEADLINE)}</b>"
        if last.crash_log is not None:
            said += f" A crash log was written to {html.escape(str(last.crash_log))}."
        self.text.setText(said)
        self.text.setToolTip(last.summary)
        self._goal = " ".join(goal.split()) or (run_id or "")
        if run_id is not None:
            self.resume_button.setToolTip(f"Open the interrupted run and continue it: {goal}")
        self.resume_button.setVisible(run_id is not None)
        self._fit_resume_text()
        self.show()

    def offer_resume(self, available: bool) -> None:
        """Resume stays only while its run is still interrupted."""
        if not available:
            self.resume_button.hide()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_resume_text()

    def _fit_resume_text(self) -> None:
        """"Resume “<goal>”" with as much of the goal as the row has room for."""
        metrics = QFontMetrics(self.resume_button.font())
        margins = self.contentsMargins().left() + self.contentsMargins().right() + 20
        others = self.open_logs.sizeHint().width() + self.dismiss_button.sizeHint().width()
        padding = self.resume_button.sizeHint().width() - metrics.horizontalAdvance(self.resume_button.text())
        room = self.width() - margins - others - 2 * SPACING - padding - metrics.horizontalAdvance("Resume “”")
        room = min(room, GOAL_WIDTH)
        if room < metrics.horizontalAdvance("Abcdef…"):
            text = "Resume"
        else:
            text = f"Resume “{metrics.elidedText(self._goal, Qt.TextElideMode.ElideRight, room)}”"
        if text != self.resume_button.text():
            self.resume_button.setText(text)

    def _on_resume_clicked(self) -> None:
        if self._run_id is not None:
            self.resumeRequested.emit(self._run_id)
            self.hide()

    def _on_open_logs_clicked(self) -> None:
        if self._last is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._last.logs_dir)))

