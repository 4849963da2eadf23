"""Two real `troupe` window processes (offscreen) on one data dir: the second
brings the first forward and exits 0; leftovers of a killed instance do not
block the next start; two starts at once leave one window."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDir

from ui.single_instance import ACTIVATED_LOG, LOCK_FILE, server_name

pytestmark = pytest.mark.slow

WINDOW = [sys.executable, "-c", "import sys; from ui.launch import launch; sys.exit(launch())"]
LISTENING = "single instance: listening on"
HANDED_OVER = "Troupe is already running"


@pytest.fixture
def windows() -> Iterator[list[subprocess.Popen[str]]]:
    """Window processes started by the test; terminated after it."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=20)


def start_window(windows: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(WINDOW, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    windows.append(proc)
    return proc


def log_lines(home: Path, text: str) -> list[str]:
    log = home / "logs" / "troupe.log"
    return [line for line in log.read_text().splitlines() if text in line] if log.exists() else []


def wait_for_log(home: Path, text: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not log_lines(home, text):
        if proc.poll() is not None:
            pytest.fail(f"troupe exited {proc.returncode} first: {proc.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, f"no {text!r} in troupe.log"
        time.sleep(0.05)


def leave_a_killed_instance_behind(home: Path) -> None:
    """The lock file and socket file of an instance killed with SIGKILL."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (home / LOCK_FILE).write_text(f"{int(dead.stdout)}\npython3\n{socket.gethostname()}\n")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(Path(QDir.tempPath()) / server_name(home)))
    stale.close()


def test_a_second_start_brings_the_first_window_forward(troupe_home, windows):
    leave_a_killed_instance_behind(troupe_home)
    first = start_window(windows)
    wait_for_log(troupe_home, LISTENING, first)

    began = time.monotonic()
    second = subprocess.run(WINDOW, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - began

    assert second.returncode == 0, second.stderr
    assert f"{HANDED_OVER} (data in {troupe_home}); brought its window to the front." in second.stderr
    assert took < 20  # it hands over; it never builds a window of its own
    wait_for_log(troupe_home, ACTIVATED_LOG, first, timeout=10)
    assert first.poll() is None
    assert len(log_lines(troupe_home, LISTENING)) == 1


def test_two_starts_at_once_leave_one_window(troupe_home, windows):
    one, two = start_window(windows), start_window(windows)

    deadline = time.monotonic() + 60
    while one.poll() is None and two.poll() is None:
        assert time.monotonic() < deadline, "neither start handed over"
        time.sleep(0.05)
    handed, kept = (one, two) if one.poll() is not None else (two, one)

    _, err = handed.communicate(timeout=10)
    assert handed.returncode == 0, err
    assert HANDED_OVER in err
    wait_for_log(troupe_home, ACTIVATED_LOG, kept, timeout=10)
    assert kept.poll() is None
    assert len(log_lines(troupe_home, LISTENING)) == 1
