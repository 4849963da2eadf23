"""Storage faults end in one clear line and the right exit code, never a traceback,
and the history writer loses nothing to a lock (issue 13, "Clear messages, never a
traceback", and the lock item of its smaller defects).

Everything is real: SQLite files, a second sqlite3 connection holding the lock,
`troupe` as a child process, a full tmpfs and a read-only bind mount (root only:
those tests skip where mounting is not permitted; the mapping of a read-only
database is also checked through a `?mode=ro` open, which needs nothing), the
window and its restore dialog offscreen. TROUPE_BUSY_TIMEOUT makes SQLite give up
on a lock after 0.3 s instead of 5.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from agents.plan import Plan
from agents.plan.roster import Role, Roster
from agents.run.state import RunStatus
from agents.testing import ScriptedGate
from app.runs.service import RunService
from app.settings import Settings
from app.storage import EventWriter, Store, backups, open_database
from app.storage.errors import (
    DatabaseDamaged,
    DatabaseLocked,
    DatabaseUnavailable,
    DataFolderReadOnly,
    DiskFull,
    HistoryWriteFailed,
    storage_error,
)
from app.storage.run_state import stored_run_state
from tests.app.storage_events import first_half, sample_plan, second_half
from tests.support.mounts import fill, mount_read_only, mount_tmpfs, unmount
from tests.support.scripted_server import Reply
from tests.support.sessions import gui_process
from tests.support.window_start import close_window, start_window
from ui.main_thread_gc import MainThreadGC
from ui.restore_dialog import RestoreDialog

ROOT = Path(__file__).resolve().parents[2]
BUSY = "0.3"
"""TROUPE_BUSY_TIMEOUT here: seconds SQLite waits for another connection's lock."""
MODEL = ["--model", "openai/test-model", "--api-base", "http://127.0.0.1:9/v1"]
PLAN = {"goal": "g", "tasks": [
    {"id": "a", "title": "A", "instructions": "Do a.", "agent": "writer"}]}


@pytest.fixture(autouse=True)
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROUPE_BUSY_TIMEOUT", BUSY)


# --- helpers ----------------------------------------------------------------------------


def troupe(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`troupe` as a person runs it, on data folder `home` (no keychain, nothing probed)."""
    env = {**os.environ, "TROUPE_HOME": str(home), "OPENAI_API_KEY": "sk-test-x",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def last_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    """The `troupe: ...` line a command ended with, after checking its exit code and
    that nothing like a traceback was printed."""
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "Error:" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("troupe: "), done.stderr
    return line


def make_history(home: Path, runs: int = 2) -> Path:
    """A real troupe.db in `home` with `runs` runs, every connection closed (so the
    whole history is in the file itself, no -wal beside it)."""
    path = home / "troupe.db"
    store = open_database(path)
    with EventWriter(store) as writer:
        for n in range(runs):
            run_id = store.create_run("P", f"goal {n}")
            for event in first_half(run_id, sample_plan()) + second_half(run_id):
                writer.emit(event)
    store.close()
    assert not path.with_name("troupe.db-wal").exists()
    return path


@pytest.fixture
def history(troupe_home: Path) -> Path:
    return make_history(troupe_home)


@contextmanager
def locked(path: Path, exclusive: bool = False) -> Iterator[sqlite3.Connection]:
    """Another program holding the database's write lock (`exclusive`: readers are
    shut out too, as with locking_mode=EXCLUSIVE)."""
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        if exclusive:
            holder.execute("PRAGMA locking_mode=EXCLUSIVE")
            holder.execute("BEGIN EXCLUSIVE")
            holder.execute("UPDATE runs SET goal = goal")  # a write takes the WAL's own lock
        else:
            holder.execute("BEGIN IMMEDIATE")
        yield holder
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def hold_lock(path: Path, seconds: float) -> tuple[threading.Event, threading.Thread]:
    """Hold the write lock for `seconds` from a thread (ends when it lets go); the
    event is set once it is held."""
    held = threading.Event()

    def hold() -> None:
        with locked(path):
            held.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(5)
    return held, thread


def truncate(path: Path) -> bytes:
    """Keep the first half of the file (a copy cut short); returns what is left."""
    data = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(data)
    return data


# --- a lock held past the busy timeout ------------------------------------------------------


@pytest.mark.parametrize(("exclusive", "command"), [
    (False, ["run", "g", "--plan", "{plan}", "--yes", *MODEL]),  # writing: creating the run
    (True, ["runs"]),  # reading too, when the other program shuts readers out
], ids=["run", "runs"])
def test_a_locked_database_is_one_line(history: Path, tmp_path: Path, exclusive: bool,
                                       command: list[str]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    with locked(history, exclusive):
        done = troupe(history.parent, *(arg.replace("{plan}", str(plan)) for arg in command))
    line = last_line(done, 1)
    assert line == (f"troupe: The history database is locked by another program (database is "
                    f"locked): {history}. Close the program that holds it (a database browser, a "
                    "sync or backup tool), then try again.")
    assert troupe(history.parent, "runs").returncode == 0  # the lock gone, all is well


# --- a read-only or full data folder ---------------------------------------------------------


@pytest.fixture(params=[DataFolderReadOnly, DiskFull], ids=["read-only", "full"])
def unwritable(request: pytest.FixtureRequest, troupe_home: Path) -> Iterator[type[DatabaseUnavailable]]:
    """The data folder, with a history in it, made read-only (a read-only bind mount:
    chmod does not stop root) or full (a small tmpfs, filled); skips where mounting is
    not permitted. Yields the error the fault should be reported as."""
    fault: type[DatabaseUnavailable] = request.param
    if fault is DiskFull:
        if not mount_tmpfs(troupe_home, "2m"):
            pytest.skip("mounting a small tmpfs is not permitted here")
        make_history(troupe_home)
        fill(troupe_home)
    else:
        make_history(troupe_home)
        if not mount_read_only(troupe_home):
            pytest.skip("a read-only bind mount is not permitted here")
    try:
        yield fault
    finally:
        unmount(troupe_home)


def said(fault: type[DatabaseUnavailable]) -> tuple[str, str]:
    """How the line for `fault` starts and ends (SQLite's or the system's words between)."""
    return (f"The {fault.what.removeprefix('the ')} (", f"{fault.fix[0].upper()}{fault.fix[1:]}, "
            "then try again.")


def test_a_read_only_or_full_data_folder_is_one_line_even_for_reading(
    unwritable: type[DatabaseUnavailable], troupe_home: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    begins, ends = said(unwritable)
    for command in (["runs"], ["show", "nothing"], ["run", "g", "--plan", str(plan), "--yes", *MODEL]):
        line = last_line(troupe(troupe_home, *command), 1)
        assert line.startswith(f"troupe: {begins}") and line.endswith(ends), line
        assert f"): {troupe_home}" in line  # the folder, or the database in it


def test_a_read_only_database_is_typed_by_the_storage_layer(history: Path) -> None:
    """Where mounting is not permitted: SQLite's own read-only refusal, mapped."""
    uri = f"{history.as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn, pytest.raises(sqlite3.Error) as refused:
        conn.execute("UPDATE runs SET goal = 'x'")
    error = storage_error(refused.value, history)
    assert isinstance(error, DataFolderReadOnly)
    assert error.reason == ("the data folder is read-only (attempt to write a readonly "
                            f"database): {history.parent}")
    assert "\n" not in str(error)


# --- a damaged (truncated) database ------------------------------------------------------------


def test_a_truncated_database_names_the_newest_backup_and_restore_puts_it_back(history: Path) -> None:
    home = history.parent
    older = backups.back_up(history, "0003", now=time.time() - 3600)
    newest = backups.back_up(history, "0003")
    left = truncate(history)

    line = last_line(troupe(home, "runs"), 1)
    assert line == (f"troupe: The history database is damaged (database disk image is malformed): "
                    f"{history}. The newest backup is {newest.name}: restore it with "
                    "`troupe db restore` (the damaged file is kept beside it, renamed).")

    restored = last_line_ok(troupe(home, "db", "restore"))
    [kept] = home.glob("troupe.db.damaged-*")
    assert restored == (f"restored {history} from {newest.name}; the file it replaced is kept as "
                        f"{kept.name} (runs since the backup are only in it)")
    assert kept.read_bytes() == left  # set aside as it was, never deleted
    assert older.exists() and newest.exists()
    listed = troupe(home, "runs", "--json")
    assert [r["goal"] for r in json.loads(listed.stdout)] == ["goal 1", "goal 0"], listed.stderr

    again = last_line(troupe(home, "db", "restore"), 1)  # a sound database is not replaced...
    assert "is not damaged (it passes SQLite's integrity check): nothing was changed" in again
    assert last_line_ok(troupe(home, "db", "restore", older.name, "--force")).startswith(
        f"restored {history} from {older.name}; the file it replaced is kept as ")  # ...unless told
    assert len(list(home.glob("troupe.db.damaged-*"))) == 2


def last_line_ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1]


def test_a_truncated_database_without_a_backup_says_how_to_start_fresh(history: Path) -> None:
    home = history.parent
    truncate(history)

    line = last_line(troupe(home, "runs"), 1)
    assert line == (f"troupe: The history database is damaged (database disk image is malformed): "
                    f"{history}. There is no backup of it: to start with an empty history, move "
                    "it aside (rename it to troupe.db.damaged, say) and start Troupe again.")
    assert "There is no backup of" in last_line(troupe(home, "db", "restore"), 1)

    history.rename(history.with_name("troupe.db.damaged"))  # as it says
    assert last_line_ok(troupe(home, "runs")) == "no runs yet"


# --- a plan file nested 100,000 deep -------------------------------------------------------------


@pytest.mark.parametrize("nested", [
    '{"goal": "g", "tasks": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"goal": "g", "tasks": [' + '{"id": "a", "title": "A", "agent": "writer", "children": ['
    * 100_000 + "]}" * 100_000 + "]}",
    json.dumps({"goal": "g", "tasks": [
        {"id": "t0", "title": "T", "agent": "writer", "children": [
            {"id": "t1", "title": "T", "agent": "writer", "children": []}]}]}).replace(
        '"children": []', '"children": [' + '{"id": "x", "title": "T", "agent": "writer", "children": ['
        * 400 + "]}" * 400 + "]"),
], ids=["lists", "tasks", "tasks-400"])
def test_a_deeply_nested_plan_file_is_bad_input(troupe_home: Path, tmp_path: Path, nested: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(nested)
    line = last_line(troupe(troupe_home, "run", "g", "--plan", str(path), "--yes", *MODEL), 2)
    assert line.startswith(f"troupe: invalid plan file {path}: ")
    assert "nest" in line and len(line) < 300


# --- the history writer and a lock ------------------------------------------------------------------


def stored_view(store: Store, run_id: str) -> tuple[object, ...]:
    """What a run's stored history says: its events, totals and tasks."""
    run = store.get_run(run_id)
    return ([e["type"] for e in store.events(run_id)], run.status, run.prompt_tokens,
            run.completion_tokens, round(run.cost, 6), {t.task_id: (t.status, t.output) for t in run.tasks})


@pytest.mark.parametrize("seconds", [0.1, 1.5], ids=["within-the-busy-timeout", "past-it"])
def test_the_writer_waits_out_a_lock_and_stores_every_event_and_projection(
    tmp_path: Path, seconds: float, caplog: pytest.LogCaptureFixture
) -> None:
    events = lambda run_id: first_half(run_id, sample_plan()) + second_half(run_id)  # noqa: E731
    reference = open_database(tmp_path / "reference.db")
    with EventWriter(reference) as writer:
        expected_id = reference.create_run("P", "goal")
        for event in events(expected_id):
            writer.emit(event)
    expected = stored_view(reference, expected_id)
    reference.close()

    store = open_database(tmp_path / "troupe.db")
    run_id = store.create_run("P", "goal")
    writer = EventWriter(store, lock_patience=10)
    hold_lock(tmp_path / "troupe.db", seconds)
    for event in events(run_id):  # all of them while another program holds the lock
        writer.emit(event)
    assert writer.flush(writer.longest_wait)
    assert writer.failure is None and writer.errors == []
    assert stored_view(store, run_id) == expected  # no event, total or task status lost
    retried = "trying again" in caplog.text
    assert retried == (seconds > float(BUSY))  # past the busy timeout the batch was tried again
    writer.close()
    store.close()


BOSS = Role("orchestrator", "You plan and sum up.")
WRITER = Role("writer", "You write.")
CHAIN = Plan.from_dict({"goal": "goal", "tasks": [
    {"id": tid, "title": f"Task {tid}", "agent": "writer", "instructions": f"do {tid}",
     "depends_on": deps} for tid, deps in (("a", []), ("b", ["a"]), ("c", ["b"]))]})


@pytest.fixture
def service(troupe_home: Path, llm_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunService]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    settings = Settings(default_model="openai/test-model", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(open_database(troupe_home / "troupe.db"), settings=settings,
                         roster=Roster((BOSS, WRITER)))
    service.writer.lock_patience = 2.0
    yield service
    service.close()


def lock_while_b_runs(llm_server, db: Path, seconds: float) -> list[threading.Thread]:  # type: ignore[no-untyped-def]
    """Another program takes the lock (for `seconds`) as task b's model call comes in;
    the list gets the thread holding it."""
    holders: list[threading.Thread] = []

    def answer(_request):  # type: ignore[no-untyped-def]
        holders.append(hold_lock(db, seconds)[1])
        return Reply("b's answer")

    llm_server.on(contains="Your task (b)", reply=answer, times=1)
    return holders


async def test_a_run_through_a_lock_stores_the_totals_it_reports(
    service: RunService, llm_server, troupe_home: Path, caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    """The defect: a lock during a run lost one projection (372 tokens stored, 390 printed)."""
    lock_while_b_runs(llm_server, troupe_home / "troupe.db", 1.0)
    run_id = service.create_run("P", "goal", service.config())
    try:
        outcome = await service.start(run_id, CHAIN, service.config(), ScriptedGate()).run()
    finally:
        await service.aclose_llm()
    assert outcome.status is RunStatus.COMPLETED, outcome.error
    run = service.store.get_run(run_id)
    calls = service.store.llm_calls(run_id)
    assert run.prompt_tokens + run.completion_tokens == outcome.usage.total > 0
    assert sum(c.prompt_tokens + c.completion_tokens for c in calls) == outcome.usage.total
    assert stored_run_state(service.store, run).total_tokens == outcome.usage.total
    assert service.writer.errors == [] and service.writer.failure is None
    assert "trying again" in caplog.text  # the lock did outlast the busy timeout


async def test_a_lock_past_the_writers_patience_stops_the_run_as_interrupted(
    service: RunService, llm_server, troupe_home: Path  # type: ignore[no-untyped-def]
) -> None:
    db = troupe_home / "troupe.db"
    holders = lock_while_b_runs(llm_server, db, 3.0)  # the writer's patience: 2 s
    run_id = service.create_run("P", "goal", service.config())
    try:
        with pytest.raises(HistoryWriteFailed) as stopped:
            await service.start(run_id, CHAIN, service.config(), ScriptedGate()).run()
    finally:
        await service.aclose_llm()
    assert str(stopped.value) == (
        f"stopped: the history database is locked by another program (database is locked): {db}; "
        "close the program that holds it (a database browser, a sync or backup tool), "
        f"then `troupe resume {run_id}`")
    assert isinstance(service.writer.failure, DatabaseLocked)
    assert all("not stored: the history database is locked" in e.message for e in service.writer.errors)
    await asyncio.to_thread(holders[0].join)  # the other program lets go
    try:
        outcome = await service.resume(run_id, ScriptedGate()).run()
    finally:
        await service.aclose_llm()
    assert outcome.status is RunStatus.COMPLETED, outcome.error
    assert {t.task_id: t.status for t in service.store.get_run(run_id).tasks} == dict.fromkeys("abc", "completed")


# --- the window ---------------------------------------------------------------------------------------


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """The app's loop, with garbage collected on the UI thread as in the app."""
    collector = MainThreadGC(qapp)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qapp.processEvents()
    loop.close()
    collector.stop()


def test_the_window_starts_on_a_locked_database_with_one_line(
    qloop: qasync.QEventLoop, history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with locked(history, exclusive=True):
        window, warnings = start_window(qloop, monkeypatch)
    assert warnings == [f"The history database is locked by another program (database is locked): "
                        f"{history}. Close the program that holds it (a database browser, a sync or "
                        "backup tool), then try again."]
    assert window.history.empty.text() == "The history could not be opened."
    assert not window.send.isEnabled() and not window.service.ready
    close_window(window, qloop)


def test_the_window_offers_the_newest_backup_of_a_damaged_database_and_restores_it(
    qloop: qasync.QEventLoop, history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = backups.back_up(history, "0003")
    truncate(history)

    window, warnings = start_window(qloop, monkeypatch)

    dialog = window.restore_dialog
    assert dialog is not None and dialog.isVisible() and warnings == []
    assert dialog.text().startswith(f"The history database is damaged (database disk image is "
                                    f"malformed): {history}. The newest backup is {backup.name}")
    assert dialog.restore_button.text() == "Restore the backup"
    dialog.restore_button.click()
    QApplication.processEvents()
    [kept] = history.parent.glob("troupe.db.damaged-*")
    assert window.status.text() == (f"Restored the history from {backup.name}; the damaged file "
                                    f"is kept as {kept.name}.")
    assert window.service.ready and window.send.isEnabled()
    assert [r.goal for r in window.service.store.list_runs()] == ["goal 1", "goal 0"]
    close_window(window, qloop)


def test_the_restore_dialog_without_a_backup_moves_the_file_aside(qapp: QApplication, history: Path) -> None:
    left = truncate(history)
    with pytest.raises(DatabaseDamaged) as damaged:
        open_database(history)
    assert damaged.value.backup is None
    dialog = RestoreDialog(damaged.value)
    done: list[str] = []
    dialog.restored.connect(done.append)
    dialog.show()
    assert dialog.text() == str(damaged.value)
    assert dialog.restore_button.text() == "Start with an empty history"
    dialog.restore_button.click()
    [kept] = history.parent.glob("troupe.db.damaged-*")
    assert done == [f"The damaged history was moved aside to {kept.name}."]
    assert kept.read_bytes() == left and not history.exists()
    open_database(history).close()  # a fresh, empty history
    dialog.deleteLater()


def test_a_failed_restore_changes_nothing_and_says_why(qapp: QApplication, history: Path) -> None:
    backup = backups.back_up(history, "0003")
    truncate(backup)  # the backup is damaged too
    left = truncate(history)
    with pytest.raises(DatabaseDamaged) as damaged:
        open_database(history)
    dialog = RestoreDialog(damaged.value)
    said: list[str] = []
    dialog.failed.connect(said.append)
    dialog.restore_button.click()
    assert len(said) == 1 and said[0].startswith(f"The backup {backup} is damaged too (")
    assert said[0].endswith("nothing was changed.")
    assert history.read_bytes() == left and list(history.parent.glob("troupe.db.damaged-*")) == []
    dialog.deleteLater()


def read_until(process: subprocess.Popen[str], text: str, timeout: float = 30) -> str:
    """The child's output up to the line holding `text` (fails if it never comes)."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        try:
            seen += lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {text!r} from the window in {timeout} s:\n{seen}") from None
    return seen


def test_the_app_starts_on_a_read_only_or_full_data_folder_with_one_line(
    unwritable: type[DatabaseUnavailable], troupe_home: Path
) -> None:
    """The real window (ui/gui.py, offscreen): logs, the crash log, the session marker and
    the single-instance lock cannot be written; it says why once and quits cleanly."""
    window = gui_process(troupe_home)
    try:
        output = read_until(window, f"troupe: {said(unwritable)[0]}")
    finally:
        window.send_signal(signal.SIGTERM)
        rest, _ = window.communicate(timeout=30)
    assert window.returncode == 0, output + rest
    assert "Traceback" not in output + rest
