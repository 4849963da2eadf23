"""The desktop app's composition root: QApplication, the qasync loop, the window.

Lives in ui/ so that app/ never imports Qt or ui (see ui/launch.py).

Staged start: the window is built and painted before the history database is
opened (SQLAlchemy alone costs ~0.3 s to import); MainWindow opens it right
after its first frame, and litellm is imported once the history is shown.

One window per data dir (ui/single_instance.py: a second start brings the
first window forward), and an unexpected error anywhere shows a dialog and
leaves a report in the logs folder (ui/crash.py) instead of ending the app.
A native crash cannot be caught: faulthandler writes its stacks to
logs/fatal.log, and the next start says the session ended unexpectedly
(app/session_marker.py; SIGTERM quits cleanly, so a logout is no crash).
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import socket
import sys
from pathlib import Path
from typing import IO

import qasync
from PySide6.QtCore import QCoreApplication, QSocketNotifier
from PySide6.QtWidgets import QApplication

from app.logs import setup_logging
from app.paths import data_dir, logs_dir
from app.roster_store import read_user_roster
from app.runs.service import RunService
from app.session_marker import UnexpectedEnd, begin
from ui.app_icon import DESKTOP_FILE_NAME, app_icon
from ui.crash import CrashReporter
from ui.main_thread_gc import MainThreadGC
from ui.main_window import MainWindow
from ui.single_instance import FirstInstance, activate_running, bring_to_front, claim
from ui.theme import apply_theme

_fatal_log: IO[str] | None = None  # open for the process's life: faulthandler writes to it
_wakeup: tuple[socket.socket, socket.socket] | None = None  # SIGTERM's way into the Qt loop


def main(argv: list[str] | None = None, *, single_instance: bool = True) -> int:
    """The window. `single_instance=False` skips the one-window-per-data-dir check
    (for `troupe --self-test`, which may run beside the person's window)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    setup_logging()
    _record_fatal_signals()
    reporter = CrashReporter()
    reporter.install()
    try:
        instance = claim(data_dir()) if single_instance else None
        if single_instance and instance is None:
            return _hand_over(data_dir())
        try:
            return _run(argv, reporter, instance)
        finally:
            if instance is not None:
                instance.release()
    except Exception as exc:  # noqa: BLE001 - what would otherwise end the app without a word
        return reporter.show_fatal(exc)
    finally:
        reporter.uninstall()


def _run(argv: list[str] | None, reporter: CrashReporter, instance: FirstInstance | None) -> int:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or sys.argv)
    app.setApplicationName("Troupe")
    app.setOrganizationName("Troupe")
    app.setDesktopFileName(DESKTOP_FILE_NAME)  # Wayland matches the window to troupe.desktop
    app.setWindowIcon(app_icon())
    if instance is not None:
        instance.listen()
    _quit_on_terminate(app)
    # only the lock holder gets here: a second start handing over writes no marker
    session = begin(data_dir())
    try:
        return _run_window(app, reporter, instance, session.last)
    finally:
        session.marker.end()  # a clean end by any Python path: no notice next time


def _run_window(app: QCoreApplication, reporter: CrashReporter, instance: FirstInstance | None,
                last: UnexpectedEnd | None) -> int:
    collector = MainThreadGC(app)  # Qt objects must die on this thread, whoever allocates
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    reporter.watch_loop(loop)
    loaded = read_user_roster()
    service = RunService.deferred(roster=loaded.roster)
    apply_theme(service.settings.theme)  # before the first widget: nothing to repaint
    window = MainWindow(service)
    window.show()
    if last is not None:
        window.report_unexpected_end(last)
    if instance is not None:
        instance.activateRequested.connect(lambda: bring_to_front(window))
    if loaded.warning:
        window.show_warning("Agent roster", loaded.warning)
    warm: list[asyncio.Task[None]] = []
    window.storageReady.connect(lambda: warm.append(loop.create_task(_after_start(window))))
    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
        loop.run_until_complete(window.session.aclose())
        loop.run_until_complete(service.aclose_llm())
        for task in warm:
            task.cancel()
    service.close()
    collector.stop()
    return 0


def _hand_over(home: Path) -> int:
    """Another instance owns this data dir: bring its window forward instead."""
    if activate_running(home):
        print(f"Troupe is already running (data in {home}); brought its window to the front.",
              file=sys.stderr)
        return 0
    print(f"Troupe is already running (data in {home}) but did not answer; "
          "not starting a second copy.", file=sys.stderr)
    return 1


def _record_fatal_signals() -> None:
    """A crash in native code (a segfault) leaves the Python stacks in logs/fatal.log."""
    global _fatal_log
    if _fatal_log is None:
        try:
            _fatal_log = (logs_dir() / "fatal.log").open("a", encoding="utf-8")
        except OSError:  # a read-only data folder: the window says so once the history opens
            return
        faulthandler.enable(_fatal_log, all_threads=True)


def _quit_on_terminate(app: QCoreApplication) -> None:
    """SIGTERM (a logout, `kill`) quits as closing the window does: a running run
    is left resumable and the next start reports no crash. POSIX only.

    A Python signal handler runs only when Python code does, and an idle Qt loop
    runs none: the signal's number reaches the loop through a wakeup socket."""
    if sys.platform == "win32":
        return
    receive, send = socket.socketpair()
    for end in (receive, send):
        end.setblocking(False)
    signal.set_wakeup_fd(send.fileno())
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    notifier = QSocketNotifier(receive.fileno(), QSocketNotifier.Type.Read, app)

    def on_signal() -> None:
        try:
            received = receive.recv(64)
        except OSError:
            return
        if signal.SIGTERM in received:
            app.quit()

    notifier.activated.connect(on_signal)
    global _wakeup
    _wakeup = (receive, send)  # open for the process's life, as the notifier


async def _after_start(window: MainWindow) -> None:
    """Once the window and its history are shown: first-run setup, then litellm."""
    from agents.llm.litellm_info import warm_up  # noqa: PLC0415
    from app.providers.checks import run_first_time_setup  # noqa: PLC0415

    # probes 127.0.0.1 for Ollama and LM Studio (once per data dir): off the UI thread
    found = await asyncio.to_thread(run_first_time_setup)
    if found is not None:
        window.apply_first_run(found)
    # litellm takes seconds to import; its thread holds the GIL for most of a second
    await warm_up()
