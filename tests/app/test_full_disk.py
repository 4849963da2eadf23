"""A history write that fails (a full disk) stops the run as interrupted, says why
in one line, never reports success, and the run resumes once space is freed.

The deterministic variant makes the writer's database connection fail the way
SQLite does on a full disk (a writer subclass at the storage layer); the real
variant runs `troupe` with its data folder on a 3 MB tmpfs (root only: skipped
where mounting is not permitted).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from agents.events import RunEvent
from agents.plan import Plan
from agents.plan.roster import Role, Roster
from agents.run.state import RunStatus
from agents.testing import ScriptedGate
from app.runs.service import RunService
from app.settings import Settings
from app.storage import EventWriter, Store
from app.storage.errors import HistoryWriteFailed
from tests.support.mounts import mount_tmpfs, unmount
from tests.support.scripted_server import Reply

BOSS = Role("orchestrator", "You plan and sum up.")
WRITER = Role("writer", "You write.")
CHAIN = Plan.from_dict({"goal": "goal", "tasks": [
    {"id": tid, "title": f"Task {tid}", "agent": "writer", "instructions": f"do {tid}",
     "depends_on": deps} for tid, deps in (("a", []), ("b", ["a"]), ("c", ["b"]))]})


class FullDiskWriter(EventWriter):
    """The writer whose database runs out of space once a task reaches `full_at`."""

    full_at: str | None = None

    def _write_batch(self, conn: Connection, events: list[RunEvent]) -> None:
        if self.full_at is not None and any(getattr(e, "task_id", None) == self.full_at for e in events):
            raise OperationalError("INSERT INTO events ...", (), sqlite3.OperationalError(
                "database or disk is full"))
        super()._write_batch(conn, events)


@pytest.fixture
def service(store: Store, llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    settings = Settings(default_model="openai/test-model", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(store, settings=settings, roster=Roster((BOSS, WRITER)))
    service.writer.close()
    service._writer = FullDiskWriter(store)
    yield service
    service.close()


async def test_a_full_disk_stops_the_run_as_interrupted_and_it_resumes_once_freed(service, store):
    writer = service.writer
    assert isinstance(writer, FullDiskWriter)
    writer.full_at = "b"
    run_id = service.create_run("P", "goal", service.config())
    handle = service.start(run_id, CHAIN, service.config(), ScriptedGate())
    try:
        with pytest.raises(HistoryWriteFailed) as stopped:
            await handle.run()
    finally:
        await service.aclose_llm()
    message = str(stopped.value)
    assert "disk is full" in message and "database or disk is full" in message
    assert f"troupe resume {run_id}" in message and "free some space" in message
    assert "\n" not in message
    run = store.get_run(run_id)
    assert run.status == RunStatus.INTERRUPTED  # never completed, and resumable
    assert "disk is full" in (run.error or "")
    # the failed batch may have held the run's start itself: then no task rows exist yet
    assert {t.task_id: t.status for t in run.tasks}.get("c") != "completed"
    assert writer.failure is not None and writer.errors

    writer.full_at = None  # space freed
    again = service.resume(run_id, ScriptedGate())
    try:
        outcome = await again.run()
    finally:
        await service.aclose_llm()
    assert outcome.status is RunStatus.COMPLETED, outcome.error
    assert writer.failure is None
    assert {t.task_id: t.status for t in store.get_run(run_id).tasks} == dict.fromkeys("abc", "completed")


async def test_when_even_the_interrupted_mark_fails_resume_marks_it_first(service, store, monkeypatch):
    writer = service.writer
    assert isinstance(writer, FullDiskWriter)
    writer.full_at = "a"

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("UPDATE runs ...", (), sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(store, "interrupt", disk_full)
    run_id = service.create_run("P", "goal", service.config())
    service.save_plan(run_id, CHAIN, "file")  # as `troupe run --plan` does
    try:
        with pytest.raises(HistoryWriteFailed, match="disk is full"):
            await service.start(run_id, CHAIN, service.config(), ScriptedGate()).run()
    finally:
        await service.aclose_llm()
    assert store.get_run(run_id).status != RunStatus.COMPLETED
    monkeypatch.undo()
    writer.full_at = None
    try:
        outcome = await service.resume(run_id, ScriptedGate()).run()
    finally:
        await service.aclose_llm()
    assert outcome.status is RunStatus.COMPLETED, outcome.error


# --- a real full disk ------------------------------------------------------------------


def test_troupe_run_on_a_full_data_folder_stops_with_one_line_and_resumes(tmp_path, llm_server):
    home = tmp_path / "home"
    home.mkdir()
    if not mount_tmpfs(home, "3m"):
        pytest.skip("mounting a small tmpfs is not permitted here")
    try:
        env = dict(os.environ, TROUPE_HOME=str(home), OPENAI_API_KEY="sk-test-x",
                   LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONUNBUFFERED="1")
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"goal": "fill the disk", "tasks": [
            {"id": f"t{i}", "title": f"Task t{i}", "instructions": f"Do t{i}.", "agent": "writer",
             "depends_on": [f"t{i - 1}"] if i else []} for i in range(12)]}))
        llm_server.default = Reply("x" * 400_000)  # each answer ~0.4 MB: the disk fills mid-run

        def troupe(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, text=True,
                                  capture_output=True, timeout=120, check=False)

        model = ["--model", "openai/test-model", "--api-base", llm_server.base_url]
        first = troupe("run", "fill the disk", "--plan", str(plan), "--yes", *model)
        assert first.returncode == 1, first.stderr
        lines = [line for line in first.stderr.splitlines() if line.startswith("troupe: ")]
        assert lines and lines[-1].startswith("troupe: stopped: the disk is full"), first.stderr
        assert "Traceback" not in first.stderr
        run_id = lines[-1].rsplit("troupe resume ", 1)[1].strip("`")

        subprocess.run(["mount", "-o", "remount,size=64m", str(home)], check=True)  # space freed
        llm_server.default = Reply("short")
        again = troupe("resume", run_id, "--yes")
        assert again.returncode == 0, again.stderr
        shown = troupe("show", run_id, "--json")
        assert json.loads(shown.stdout)["status"] == "completed"
    finally:
        unmount(home)
