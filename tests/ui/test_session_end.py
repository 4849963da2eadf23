"""The real window in a child process: a native crash is reported at the next
start, a SIGTERM (a logout) is a clean quit."""

from __future__ import annotations

import signal
import sys

import pytest

from app.session_marker import MARKER, begin
from tests.support.sessions import gui_process, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_a_segfault_in_the_window_is_reported_at_the_next_start(tmp_path):
    window = gui_process(tmp_path)
    try:
        wait_for(tmp_path / MARKER, window)
        window.send_signal(signal.SIGSEGV)
        assert window.wait(60) == -signal.SIGSEGV
    finally:
        window.kill()
        window.wait()
    last = begin(tmp_path).last
    assert last is not None and last.pid == window.pid
    assert last.crash_log == tmp_path / "logs" / "fatal.log"
    assert last.summary == "Fatal Python error: Segmentation fault"


def test_sigterm_quits_the_window_cleanly(tmp_path):
    window = gui_process(tmp_path)
    try:
        wait_for(tmp_path / MARKER, window)
        window.send_signal(signal.SIGTERM)
        assert window.wait(60) == 0
    finally:
        window.kill()
        window.wait()
    assert not (tmp_path / MARKER).exists()
    assert begin(tmp_path).last is None
