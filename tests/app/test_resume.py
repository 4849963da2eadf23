"""Resume data and crash recovery: finished_task_outputs, mark_interrupted, liveness."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agents import events as ev
from app.storage import EventWriter, FinishedTask, Store
from app.storage.liveness import current_token, is_alive, process_token
from tests.app.storage_events import emit_all, finished, sample_plan


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # exited and reaped: the pid is free
    return proc.pid


def test_finished_task_outputs_survive_a_resume(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("P", "goal")
    plan = sample_plan()
    emit_all(
        writer,
        [
            ev.RunStarted(run_id=run_id, goal="goal", plan=plan),
            ev.TaskStarted(run_id=run_id, task_id="r1", agent="researcher", attempt=1),
            finished(run_id, "r1", "colonies", attempts=2, cost=0.5, started=5.0, finished=9.0),
            ev.TaskStarted(run_id=run_id, task_id="r2", agent="researcher", attempt=1),
            ev.TaskFailed(run_id=run_id, task_id="flaky", error="boom", attempts=3),
        ],
    )
    expected = {
        "r1": FinishedTask("r1", "colonies", 2, 10, 20, 0.5, 5.0, 9.0),
    }
    assert store.finished_task_outputs(run_id) == expected

    emit_all(writer, [ev.RunStarted(run_id=run_id, goal="goal", plan=plan, resumed=True)])
    run = store.get_run(run_id)
    assert store.finished_task_outputs(run_id) == expected
    assert run.task("r1").output == "colonies"
    assert {t.task_id: t.status for t in run.tasks if t.task_id != "r1"} == dict.fromkeys(
        ["research", "r2", "analyse", "risky", "flaky", "report"], "pending"
    )
    assert run.task("flaky").error is None and run.task("flaky").attempts == 0


def test_a_fresh_start_resets_every_task(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("P", "goal")
    emit_all(
        writer,
        [
            ev.RunStarted(run_id=run_id, goal="goal", plan=sample_plan()),
            finished(run_id, "r1", "colonies"),
        ],
    )
    smaller = sample_plan()
    smaller["tasks"] = smaller["tasks"][:2]
    emit_all(writer, [ev.RunStarted(run_id=run_id, goal="goal", plan=smaller)])
    assert store.finished_task_outputs(run_id) == {}
    assert [t.task_id for t in store.get_run(run_id).tasks] == ["research", "r1", "r2", "analyse"]
    assert [v.source for v in store.plan_versions(run_id)] == ["file", "edited"]


def _running_run(store: Store, pid: int | None, token: str | None, status: str = "running") -> str:
    run_id = store.create_run("P", f"owned by {pid}")
    store.set_run_status(run_id, status)
    if pid is not None:
        store.claim_run(run_id, pid, token)
    return run_id


def test_mark_interrupted_only_flips_runs_whose_process_died(
    store: Store, writer: EventWriter
) -> None:
    dead = _dead_pid()
    mine = _running_run(store, os.getpid(), current_token())
    mine_paused = _running_run(store, os.getpid(), current_token(), "paused")
    gone = _running_run(store, dead, None)
    gone_paused = _running_run(store, dead, "whatever", "paused")
    reused_pid = _running_run(store, os.getpid(), "another-process-instance")
    ownerless = _running_run(store, None, None)
    finished_run = _running_run(store, dead, None, "completed")

    emit_all(
        writer,
        [
            ev.RunStarted(run_id=gone, goal="g", plan=sample_plan()),
            ev.TaskStarted(run_id=gone, task_id="r1", agent="researcher", attempt=1),
        ],
    )
    store.claim_run(gone, dead, None)  # as if that dead process had written it

    flipped = store.mark_interrupted()
    assert sorted(flipped) == sorted([gone, gone_paused, reused_pid, ownerless])
    status = {r.id: r.status for r in store.list_runs()}
    assert status[mine] == "running" and status[mine_paused] == "paused"
    assert status[finished_run] == "completed"
    assert {status[r] for r in flipped} == {"interrupted"}
    assert store.get_run(gone).task("r1").status == "pending"
    assert store.mark_interrupted() == []


def test_the_writer_claims_the_run_for_this_process(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("P", "goal")
    emit_all(writer, [ev.RunStarted(run_id=run_id, goal="goal", plan=sample_plan())])
    assert store.mark_interrupted() == []
    assert store.get_run(run_id).status == "running"


_CHILD = textwrap.dedent(
    """
    import sys
    from agents import events as ev
    from app.storage import EventWriter, open_database
    store = open_database(sys.argv[1])
    run_id = store.create_run("P", "in another process")
    writer = EventWriter(store)
    writer.emit(ev.RunStarted(run_id=run_id, goal="g", plan={"goal": "g", "tasks": []}))
    writer.flush()
    print(run_id, flush=True)
    sys.stdin.read()  # live until the test kills us
    """
)


@pytest.mark.slow
def test_a_run_live_in_another_process_is_left_alone(db_file: Path, store: Store) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = child.stdout.readline().strip()
        assert run_id
        assert store.mark_interrupted() == []
        assert store.get_run(run_id).status == "running"
    finally:
        child.kill()  # SIGKILL: no chance to clean up
        child.wait()
    assert store.mark_interrupted() == [run_id]
    assert store.get_run(run_id).status == "interrupted"


def test_liveness() -> None:
    assert is_alive(os.getpid(), current_token())
    assert is_alive(os.getpid())
    assert not is_alive(os.getpid(), "not-this-process")
    assert not is_alive(_dead_pid())
    assert not is_alive(None) and not is_alive(0)
    if sys.platform.startswith("linux"):
        assert process_token(os.getpid()) == current_token() is not None
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token = process_token(child.pid)
        assert is_alive(child.pid, token)
        assert not is_alive(child.pid, "an-earlier-process-with-this-pid")
    finally:
        child.kill()
        child.wait()
    assert not is_alive(child.pid, token)
