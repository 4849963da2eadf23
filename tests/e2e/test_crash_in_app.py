"""The real `ui.gui.main()` in a process of its own (offscreen): an error in a
slot shows the dialog and Continue keeps the app; an error while building the
window shows the dialog without Continue and exits 1. A script of timers in
the child plays the person's part."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ui.single_instance import LOCK_FILE

pytestmark = pytest.mark.slow

PERSON = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import ui.gui as gui
from ui.crash import CrashDialog
from ui.main_window import MainWindow

app = QApplication(sys.argv)

def dialogs():
    return [w for w in app.topLevelWidgets() if isinstance(w, CrashDialog) and w.isVisible()]

def answer(button):
    if not dialogs():
        QTimer.singleShot(20, lambda: answer(button))
        return
    [dialog] = dialogs()
    print("DIALOG", dialog.error.text(), "continue" if dialog.continue_button.isVisible() else "-",
          flush=True)
    getattr(dialog, button).click()
    QTimer.singleShot(300, close_windows)

def close_windows():
    windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    print("WINDOWS", len(windows), flush=True)
    for window in windows:
        window.close()
"""


def run_person(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PERSON + script], capture_output=True, text=True,
                          timeout=90)


def reports(home: Path) -> list[Path]:
    return sorted((home / "logs").glob("crash-*.log"))


def test_an_error_in_a_slot_leaves_the_app_running(troupe_home):
    done = run_person("""
def broken_slot():
    raise RuntimeError("the timeline broke")
QTimer.singleShot(0, broken_slot)
QTimer.singleShot(0, lambda: answer("continue_button"))
sys.exit(gui.main())
""")

    assert done.returncode == 0, done.stderr
    assert "DIALOG RuntimeError: the timeline broke continue" in done.stdout
    assert "WINDOWS 1" in done.stdout  # after Continue the window was still there
    [report] = reports(troupe_home)
    assert "in broken_slot" in report.read_text()


def test_an_error_while_building_the_window_is_fatal_but_not_silent(troupe_home):
    done = run_person("""
def broken_roster():
    raise RuntimeError("roster exploded")
gui.read_user_roster = broken_roster
QTimer.singleShot(0, lambda: answer("quit_button"))
sys.exit(gui.main())
""")

    assert done.returncode == 1, done.stderr
    assert "DIALOG RuntimeError: roster exploded -" in done.stdout
    assert "start-up or shutdown (fatal)" in reports(troupe_home)[0].read_text()
    assert not (troupe_home / LOCK_FILE).exists()  # the next start is not blocked
