"""Unexpected errors in a slot, an asyncio task or a thread: a report on disk and
one dialog (real widgets, offscreen), instead of the app vanishing."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication

from tests.support.settings_ui import qasync_loop, wait_for
from ui.crash import HEADLINE, CrashDialog, CrashReporter

# The reporter takes sys.excepthook itself; pytest-qt's capture would swap it back.
pytestmark = pytest.mark.qt_no_exception_capture

SECRET = "sk-crashdialog-NEVERSHOWN-0123456789"


class Emitter(QObject):
    fired = Signal()


@pytest.fixture
def reporter(qapp: QApplication) -> Iterator[CrashReporter]:
    reporter = CrashReporter()
    reporter.install()
    yield reporter
    reporter.uninstall()
    for dialog in crash_dialogs():
        dialog.close()
    qapp.processEvents()


def crash_dialogs() -> list[CrashDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, CrashDialog) and w.isVisible()]


def reports(home: Path) -> list[Path]:
    return sorted((home / "logs").glob("crash-*.log"))


def raising_emitter(message: str) -> Emitter:
    emitter = Emitter()

    def slot() -> None:
        raise RuntimeError(message)

    emitter.fired.connect(slot)
    return emitter


def test_an_exception_in_a_slot_writes_a_report_and_shows_the_dialog(reporter, qapp, troupe_home, tmp_path):
    emitter = raising_emitter("the plan view broke")
    emitter.fired.emit()  # PySide hands it to sys.excepthook
    qapp.processEvents()  # the dialog opens from the event loop, not inside the slot

    [report] = reports(troupe_home)
    assert "RuntimeError: the plan view broke" in report.read_text()
    assert "Where: the UI thread" in report.read_text()
    [dialog] = crash_dialogs()
    assert dialog.headline.text() == HEADLINE
    assert dialog.error.text() == "RuntimeError: the plan view broke"
    assert str(report) in dialog.where.text()
    assert dialog.continue_button.isVisible() and dialog.quit_button.isVisible()
    assert dialog.count.isHidden()
    dialog.grab().save(str(tmp_path / "crash-dialog.png"))

    dialog.continue_button.click()
    qapp.processEvents()
    assert crash_dialogs() == [] and reporter.dialog is None


def test_repeated_errors_share_one_dialog_and_one_report(reporter, qapp, troupe_home):
    emitter = raising_emitter("again")
    for _ in range(5):
        emitter.fired.emit()
    qapp.processEvents()

    [dialog] = crash_dialogs()
    assert dialog.count.text() == "It happened 5 times." and not dialog.count.isHidden()
    [report] = reports(troupe_home)
    assert report.read_text().count("RuntimeError: again") == 5

    dialog.continue_button.click()
    emitter.fired.emit()  # after Continue, a new error is a new incident
    qapp.processEvents()
    assert len(crash_dialogs()) == 1 and crash_dialogs()[0] is not dialog
    assert len(reports(troupe_home)) == 2


def test_an_exception_in_an_asyncio_task_is_reported(reporter, qapp, troupe_home):
    async def fails() -> None:
        raise LookupError("no such run")

    with qasync_loop(qapp) as loop:
        reporter.watch_loop(loop)

        async def start_and_forget() -> None:
            loop.create_task(fails())  # noqa: RUF006 - unretrieved on purpose: that is the case tested

        loop.run_until_complete(start_and_forget())

        def dialog_shown() -> bool:
            gc.collect()  # the loop reports an unretrieved exception when the task is freed
            return bool(crash_dialogs())

        wait_for(loop, dialog_shown, 10)

    [dialog] = crash_dialogs()
    assert dialog.error.text() == "LookupError: no such run"
    text = reports(troupe_home)[0].read_text()
    assert "Where: an asyncio task or callback (Task exception was never retrieved)" in text
    assert "in fails" in text


def test_an_exception_in_a_callback_is_reported(reporter, qapp, troupe_home):
    def callback() -> None:
        raise KeyError("missing")

    with qasync_loop(qapp) as loop:
        reporter.watch_loop(loop)
        loop.call_soon(callback)
        wait_for(loop, crash_dialogs, 10)

    assert crash_dialogs()[0].error.text() == "KeyError: 'missing'"


def test_an_exception_in_a_thread_is_shown_on_the_ui_thread(reporter, qapp, troupe_home):
    thread = threading.Thread(target=lambda: 1 / 0, name="history-writer")
    thread.start()
    thread.join()
    assert reports(troupe_home)  # written by the thread itself
    for _ in range(50):
        qapp.processEvents()
        if crash_dialogs():
            break

    [dialog] = crash_dialogs()
    assert dialog.error.text() == "ZeroDivisionError: division by zero"
    assert "Where: thread 'history-writer'" in reports(troupe_home)[0].read_text()


def test_a_secret_in_the_error_is_redacted_everywhere(reporter, qapp, troupe_home):
    emitter = raising_emitter(f"401 Unauthorized: incorrect API key {SECRET}")
    emitter.fired.emit()
    qapp.processEvents()

    [dialog] = crash_dialogs()
    assert SECRET not in dialog.error.text() and "[redacted]" in dialog.error.text()
    assert SECRET not in reports(troupe_home)[0].read_text()
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "Troupe crash report" in copied and SECRET not in copied


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open_url(self, url: QUrl) -> None:
        self.urls.append(url)


def test_open_log_folder_opens_the_logs_directory(reporter, qapp, troupe_home):
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open_url")
    try:
        emitter = raising_emitter("x")
        emitter.fired.emit()
        qapp.processEvents()
        crash_dialogs()[0].folder_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")

    assert [url.toLocalFile() for url in catcher.urls] == [str(troupe_home / "logs")]


def test_quit_ends_the_event_loop(reporter, qapp):
    with qasync_loop(qapp) as loop:
        quitting = asyncio.Event()
        qapp.aboutToQuit.connect(quitting.set)  # what ui/gui.py waits for
        emitter = raising_emitter("x")
        emitter.fired.emit()
        wait_for(loop, crash_dialogs, 5)
        QTimer.singleShot(0, crash_dialogs()[0].quit_button.click)
        loop.run_until_complete(quitting.wait())  # as ui/gui.py does (pytest's timeout bounds it)
        qapp.aboutToQuit.disconnect(quitting.set)
    assert crash_dialogs() == []
    # After a quit Qt ends nested event loops at once; a round of the app's own
    # loop resets that for the tests that follow.
    QTimer.singleShot(0, qapp.quit)
    qapp.exec()


def test_a_fatal_error_shows_a_dialog_without_continue(reporter, qapp, troupe_home):
    seen: list[tuple[str, bool]] = []

    def look_then_close() -> None:  # runs inside the dialog's own event loop (exec)
        if not crash_dialogs():
            QTimer.singleShot(10, look_then_close)
            return
        [dialog] = crash_dialogs()
        seen.append((dialog.error.text(), dialog.continue_button.isHidden()))
        dialog.reject()

    QTimer.singleShot(0, look_then_close)
    code = reporter.show_fatal(RuntimeError("the window could not be built"))

    assert code == 1
    assert seen == [("RuntimeError: the window could not be built", True)]
    assert "start-up or shutdown (fatal)" in reports(troupe_home)[0].read_text()


def test_without_a_qapplication_the_report_path_goes_to_stderr(troupe_home):
    script = ("from ui.crash import CrashReporter\n"
              "CrashReporter().install()\n"
              "raise ValueError('before any window')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)

    [report] = reports(troupe_home)
    assert done.returncode == 1
    assert f"unexpected error (ValueError: before any window); details in {report}" in done.stderr
    assert "Traceback" in report.read_text()
