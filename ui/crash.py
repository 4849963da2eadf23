"""Unexpected errors: a crash report on disk and a dialog, instead of vanishing.

`CrashReporter.install()` takes over sys.excepthook (which PySide also calls
for exceptions in slots and event handlers), threading.excepthook and, with
`watch_loop`, the asyncio loop's exception handler (tasks and callbacks).
Each error is written to <data dir>/logs/crash-*.log (app/crash_report.py)
and shown in one CrashDialog at a time: errors arriving while it is open are
added to the same report and counted, so a failing paint or timer cannot
open a storm of dialogs. The dialog is always shown from the UI thread's
event loop (a queued signal), never from inside the failing code.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import PySide6
from PySide6.QtCore import QObject, Qt, QUrl, Signal, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.crash_report import CrashReport, append_repeat, write_report

HEADLINE = "Troupe hit an unexpected problem."


def qt_versions() -> dict[str, str]:
    return {"Qt": f"{qVersion()} (PySide6 {PySide6.__version__})"}


def _print_where(report: CrashReport) -> None:
    """Where no dialog can show it, the terminal is told where the report is."""
    print(f"Troupe: unexpected error ({report.summary}); details in {report.path}", file=sys.stderr)


class CrashDialog(QDialog):
    """The report's headline, its one-line error and file, and what to do next."""

    def __init__(self, report: CrashReport, *, can_continue: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        self.setWindowTitle("Troupe: unexpected problem")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.headline = QLabel(HEADLINE)
        self.headline.setStyleSheet("font-weight: bold")
        self.error = QLabel(report.summary)
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.count = QLabel()
        self.count.hide()
        hint = "You can keep working, or quit and start Troupe again." if can_continue else \
            "Troupe cannot go on and will close."
        self.where = QLabel(f"Details are in {report.path}\n{hint}")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._build(can_continue)

    def _build(self, can_continue: bool) -> None:
        self.copy_button = QPushButton("Copy details")
        self.folder_button = QPushButton("Open log folder")
        self.continue_button = QPushButton("Continue")
        self.quit_button = QPushButton("Quit")
        self.continue_button.setVisible(can_continue)
        self.copy_button.clicked.connect(self._on_copy)
        self.folder_button.clicked.connect(self._on_open_folder)
        self.continue_button.clicked.connect(self.accept)
        self.quit_button.clicked.connect(self._on_quit)
        buttons = QHBoxLayout()
        for button in (self.copy_button, self.folder_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.continue_button, self.quit_button):
            buttons.addWidget(button)
        (self.continue_button if can_continue else self.quit_button).setDefault(True)
        layout = QVBoxLayout(self)
        for label in (self.headline, self.error, self.count, self.where):
            layout.addWidget(label)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)

    def set_repeats(self, count: int) -> None:
        """Say how often the error happened while this dialog was open."""
        self.count.setText(f"It happened {count} times.")
        self.count.setVisible(count > 1)

    def _on_copy(self) -> None:
        try:  # the file also holds the repeats that came while the dialog was open
            details = self.report.path.read_text(encoding="utf-8")
        except OSError:
            details = self.report.text
        QGuiApplication.clipboard().setText(details)

    def _on_open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report.path.parent)))

    def _on_quit(self) -> None:
        self.reject()
        QApplication.quit()  # as closing the window does: the app's own shutdown runs


class _Incident:
    """One report and how often its error came, until its dialog is closed."""

    def __init__(self, report: CrashReport) -> None:
        self.report = report
        self.count = 1


class CrashReporter(QObject):
    """Writes reports and shows them; install once, early in main()."""

    _arrived = Signal()  # from any thread; handled on the UI thread

    def __init__(self) -> None:
        super().__init__()
        self.dialog: CrashDialog | None = None
        self._incident: _Incident | None = None
        self._lock = threading.Lock()
        self._previous: tuple[Callable[..., Any], Callable[..., Any]] | None = None
        self._arrived.connect(self._present, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._on_excepthook
        threading.excepthook = self._on_thread_exception

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None

    def watch_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.set_exception_handler(self._on_loop_exception)

    def report(self, exc: BaseException, where: str) -> CrashReport:
        """Write `exc` down and have it shown (from any thread)."""
        can_show = QApplication.instance() is not None
        with self._lock:
            incident = self._incident
            if incident is None:
                report = write_report(exc, where, qt_versions())
                # without an app nothing will show it: the next error gets its own report
                self._incident = _Incident(report) if can_show else None
            else:
                incident.count += 1
                report = incident.report
                append_repeat(report, exc, where, incident.count)
        if can_show:
            self._arrived.emit()
        else:
            _print_where(report)
        return report

    def show_fatal(self, exc: BaseException) -> int:
        """An error that ends the app: its own report, shown until the person
        closes it (or printed without an app); returns the exit code."""
        report = write_report(exc, "start-up or shutdown (fatal)", qt_versions())
        app = QApplication.instance()
        if app is None:
            _print_where(report)
            return 1
        if self.dialog is not None:
            self.dialog.close()
        dialog = CrashDialog(report, can_continue=False)
        with self._lock:
            self.dialog, self._incident = dialog, _Incident(report)
        dialog.finished.connect(self._on_dialog_closed)
        dialog.finished.connect(app.quit)
        dialog.show()
        # app.exec(), not dialog.exec(): after a quit (an error during shutdown)
        # Qt ends nested event loops at once, the application's own loop starts afresh
        app.exec()
        return 1

    def _present(self) -> None:
        incident = self._incident
        if incident is None:
            return
        if self.dialog is None:
            self.dialog = CrashDialog(incident.report)
            self.dialog.finished.connect(self._on_dialog_closed)
            self.dialog.show()
            self.dialog.raise_()
        self.dialog.set_repeats(incident.count)

    def _on_dialog_closed(self) -> None:
        with self._lock:
            self.dialog = None
            self._incident = None

    # --- the hooks ------------------------------------------------------------------

    def _on_excepthook(self, kind: type[BaseException], exc: BaseException,
                       tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt) or self._previous is None:
            sys.__excepthook__(kind, exc, tb)
            return
        self._report_safely(exc, "the UI thread (a Qt slot or event handler)")

    def _on_thread_exception(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "?"
        self._report_safely(args.exc_value, f"thread {name!r}")

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not isinstance(exc, Exception):  # a warning without an error, or a cancellation
            loop.default_exception_handler(context)
            return
        self._report_safely(exc, f"an asyncio task or callback ({context.get('message', '')})")

    def _report_safely(self, exc: BaseException, where: str) -> None:
        try:
            self.report(exc, where)
        except Exception as failure:  # noqa: BLE001 - the hook must never raise itself
            print(f"Troupe: unexpected error ({type(exc).__name__}), and writing its report "
                  f"failed too ({failure})", file=sys.stderr)
