"""The session marker tells a clean quit from a native crash, with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from app.session_marker import MARKER, begin, interrupted_by
from app.storage.records import RunSummary
from tests.support.sessions import ROOT, session_child

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_a_clean_quit_leaves_nothing_to_report(tmp_path):
    done = session_child(tmp_path, "start.marker.end()\n")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / MARKER).exists()
    assert begin(tmp_path).last is None


@posix_only
def test_a_segfault_is_reported_with_its_crash_log(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "fatal.log").write_text("Fatal Python error: an older crash\n")
    done = session_child(tmp_path, "os.kill(os.getpid(), signal.SIGSEGV)\n")
    assert done.returncode == -signal.SIGSEGV
    start = begin(tmp_path)
    last = start.last
    assert last is not None
    assert last.crash_log == tmp_path / "logs" / "fatal.log"
    assert last.summary == "Fatal Python error: Segmentation fault"
    assert any("line" in line for line in last.crash_lines)  # the Python stack
    assert not any("older crash" in line for line in last.crash_lines)
    assert last.logs_dir == tmp_path / "logs"
    # reported once: this session's marker replaced it, and a clean quit removes that
    start.marker.end()
    assert begin(tmp_path).last is None


def test_an_exit_without_cleanup_is_reported_without_a_crash_log(tmp_path):
    done = session_child(tmp_path, "os._exit(3)\n")  # as kill -9 or the OOM killer: nothing written
    assert done.returncode == 3
    before = time.time()
    last = begin(tmp_path).last
    assert last is not None and last.crash_log is None and last.summary == ""
    assert 0 < last.started <= before


@posix_only
def test_a_running_session_is_not_a_crash_and_keeps_its_marker(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from app.session_marker import begin
        begin(Path({str(tmp_path)!r}))
        print("started", flush=True)
        time.sleep(60)
    """)
    running = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                               cwd=ROOT)
    try:
        assert running.stdout is not None and running.stdout.readline().strip() == "started"
        theirs = (tmp_path / MARKER).read_text()
        second = begin(tmp_path)  # a start beside it (the single-instance lock failed)
        assert second.last is None
        second.marker.end()
        assert (tmp_path / MARKER).read_text() == theirs  # neither replaced nor removed
    finally:
        running.send_signal(signal.SIGKILL)
        running.wait()
    last = begin(tmp_path).last  # killed: now it is an unexpected end
    assert last is not None and last.pid == running.pid


def test_a_reused_pid_is_not_mistaken_for_the_owner(tmp_path):
    # a live process (ours) with another start token: the owner is gone
    (tmp_path / MARKER).write_text(json.dumps(
        {"pid": os.getppid(), "token": "another process", "started": 1.0, "fatal_log_size": 0}))
    last = begin(tmp_path).last
    assert last is not None and last.pid == os.getppid()


def test_an_unreadable_marker_is_ignored_and_replaced(tmp_path):
    (tmp_path / MARKER).write_text("{half a")
    start = begin(tmp_path)
    assert start.last is None
    assert json.loads((tmp_path / MARKER).read_text())["pid"] == os.getpid()


def test_the_run_offered_is_one_the_ended_session_left_interrupted(tmp_path):
    (tmp_path / MARKER).write_text(json.dumps(
        {"pid": 2**22 + 12345, "token": "gone", "started": 100.0, "fatal_log_size": 0}))
    last = begin(tmp_path).last
    assert last is not None

    def run(run_id: str, status: str, updated: float) -> RunSummary:
        return RunSummary(id=run_id, project="Default", goal=run_id, status=status, created=0.0,
                          updated=updated, prompt_tokens=0, completion_tokens=0, cost=0.0,
                          task_count=1, tasks_completed=0)

    older = run("old", "interrupted", 50.0)  # left by a window closed the day before
    assert interrupted_by(last, [older]) is None
    runs = [run("new", "completed", 150.0), run("crashed", "interrupted", 120.0), older]
    found = interrupted_by(last, runs)
    assert found is not None and found.id == "crashed"
