"""Apply RunEvents to the projection tables (runs, tasks, plans, calls, approvals).

Every function works inside the caller's transaction. The EventWriter calls
`apply_event` for each event of a batch; the Store reuses the helpers for its
own writes. Events without a projection are only logged in `events` (by the
writer), which keeps new event types cheap to add.

This is the write hot path, so it speaks SQL to the DB-API connection under
SQLAlchemy's transaction (`Sql`): about 5 us a statement instead of ~70 us
through Core, which matters because the writer thread shares the GIL with the
asyncio loop and the UI. The schema is still owned by models.py + migrations,
and the tests exercise every statement here against the migrated database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection

from agents import events as ev
from agents.approvals import Subject
from agents.ports import request_from_event
from agents.run.state import MID_TASK, blocked_reason, keeps
from app.approval_text import approval_text

DEFAULT_PROJECT = "Default"


class Sql:
    """Raw DB-API access inside a SQLAlchemy-managed transaction."""

    def __init__(self, conn: Connection) -> None:
        db: Any = conn.connection.driver_connection
        assert db is not None
        self._db = db

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; returns the row count."""
        return int(self._db.execute(sql, params).rowcount)

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute an INSERT; returns the new rowid."""
        return int(self._db.execute(sql, params).lastrowid)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self._db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self._db.execute(sql, params).fetchall())


def dumps(value: Any) -> str:
    """JSON as stored in JSON columns."""
    return json.dumps(value)


# --- shared helpers ------------------------------------------------------------------


def ensure_project(db: Sql, name: str) -> int:
    """The id of project `name`, created if missing."""
    found = db.value("SELECT id FROM projects WHERE name = ?", (name,))
    if found is not None:
        return int(found)
    return db.insert("INSERT INTO projects (name, created) VALUES (?, ?)", (name, time.time()))


def insert_run(db: Sql, run_id: str, project_id: int, goal: str, settings: dict[str, Any]) -> None:
    now = time.time()
    db.run(
        "INSERT INTO runs (id, project_id, goal, status, created, updated, settings, "
        "prompt_tokens, completion_tokens, cost) VALUES (?, ?, ?, 'planned', ?, ?, ?, 0, 0, 0.0)",
        (run_id, project_id, goal, now, now, dumps(settings)),
    )


def run_exists(db: Sql, run_id: str) -> bool:
    return db.value("SELECT 1 FROM runs WHERE id = ?", (run_id,)) is not None


def insert_plan_version(db: Sql, run_id: str, plan: dict[str, Any], source: str, ts: float) -> int:
    """Store `plan` as the run's next version; returns the version number."""
    latest = db.value("SELECT max(version) FROM plan_versions WHERE run_id = ?", (run_id,))
    version = int(latest or 0) + 1
    db.run(
        "INSERT INTO plan_versions (run_id, version, source, plan, created) VALUES (?, ?, ?, ?, ?)",
        (run_id, version, source, dumps(plan), ts),
    )
    return version


def _walk_plan(
    tasks: list[dict[str, Any]], parent: str | None = None
) -> Iterator[tuple[dict[str, Any], str | None]]:
    for task in tasks:
        yield task, parent
        yield from _walk_plan(task.get("children") or [], str(task["id"]))


def _plan_fields(task: dict[str, Any], parent: str | None, position: int) -> dict[str, Any]:
    return {
        "parent_id": parent,
        "position": position,
        "title": str(task.get("title", "")),
        "agent": str(task.get("agent", "")),
        "instructions": str(task.get("instructions", "")),
        "depends_on": dumps([str(d) for d in task.get("depends_on") or []]),
        "requires_approval": bool(task.get("requires_approval", False)),
    }


_FRESH_STATE: dict[str, Any] = {
    "status": "pending",
    "attempts": 0,
    "output": None,
    "prompt_tokens": 0,
    "completion_tokens": 0,
    "cost": 0.0,
    "started": None,
    "finished": None,
    "error": None,
}
_BARE_TASK: dict[str, Any] = {
    **_FRESH_STATE,
    "parent_id": None,
    "position": 0,
    "agent": "",
    "instructions": "",
    "depends_on": "[]",
    "requires_approval": False,
}


def sync_tasks_from_plan(db: Sql, run_id: str, plan: dict[str, Any],
                         keep: Callable[[str, str], bool] = lambda _tid, _status: False) -> None:
    """(Re)create the run's task rows from a plan dict.

    Every task becomes pending, except those `keep(task_id, status)` names,
    which keep their results (the rule is the fold's, agents.run.state.keeps).
    """
    existing = dict(db.rows("SELECT task_id, status FROM tasks WHERE run_id = ?", (run_id,)))
    seen: set[str] = set()
    for position, (task, parent) in enumerate(_walk_plan(plan.get("tasks") or [])):
        task_id = str(task["id"])
        seen.add(task_id)
        values = _plan_fields(task, parent, position)
        if task_id not in existing:
            _insert_task(db, run_id, task_id, {**_FRESH_STATE, **values})
            continue
        if not keep(task_id, existing[task_id]):
            values.update(_FRESH_STATE)
        _update_task(db, run_id, task_id, values)
    for task_id in existing.keys() - seen:
        db.run("DELETE FROM tasks WHERE run_id = ? AND task_id = ?", (run_id, task_id))


def _insert_task(db: Sql, run_id: str, task_id: str, values: dict[str, Any]) -> None:
    names = ", ".join(values)
    marks = ", ".join("?" * len(values))
    db.run(
        f"INSERT INTO tasks (run_id, task_id, {names}) VALUES (?, ?, {marks})",
        (run_id, task_id, *values.values()),
    )


def _update_task(
    db: Sql, run_id: str, task_id: str, values: dict[str, Any], sql: dict[str, str] | None = None
) -> None:
    """Update one task row; creates a bare row if the plan did not have it.

    `sql` maps columns to SQL expressions of one `?` (e.g. "coalesce(started, ?)")
    for the update; the insert then uses the plain value.
    """
    sql = sql or {}
    assignments = ", ".join(f"{name} = {sql.get(name, '?')}" for name in values)
    count = db.run(
        f"UPDATE tasks SET {assignments} WHERE run_id = ? AND task_id = ?",
        (*values.values(), run_id, task_id),
    )
    if count == 0:
        _insert_task(db, run_id, task_id, {**_BARE_TASK, "title": task_id, **values})


def _update_run(db: Sql, run_id: str, **values: Any) -> None:
    assignments = ", ".join(f"{name} = ?" for name in values)
    db.run(f"UPDATE runs SET {assignments} WHERE id = ?", (*values.values(), run_id))


# --- run events ---------------------------------------------------------------------


class Owner:
    """The process that writes a run's events (stored on RunStarted / RunResumed)."""

    def __init__(self, pid: int, token: str | None) -> None:
        self.pid = pid
        self.token = token


def _run_started(db: Sql, e: ev.RunStarted, owner: Owner) -> None:
    # running again: not partial until an end says so (the fold's rule)
    _update_run(db, e.run_id, status="running", partial=False,
                owner_pid=owner.pid, owner_token=owner.token)
    sync_tasks_from_plan(db, e.run_id, e.plan, keep=lambda tid, status: keeps(e, tid, status))
    _record_plan_as_run(db, e.run_id, e.plan, e.ts)


def _record_plan_as_run(db: Sql, run_id: str, plan: dict[str, Any], ts: float) -> None:
    """Make the plan that runs the latest version, if no event stored it yet."""
    latest = db.value(
        "SELECT plan FROM plan_versions WHERE run_id = ? ORDER BY version DESC LIMIT 1", (run_id,)
    )
    if latest is not None and json.loads(latest) == json.loads(dumps(plan)):
        return
    insert_plan_version(db, run_id, plan, "edited" if latest is not None else "file", ts)


def _run_paused(db: Sql, e: ev.RunPaused, owner: Owner) -> None:
    _update_run(db, e.run_id, status="paused")


def _run_resumed(db: Sql, e: ev.RunResumed, owner: Owner) -> None:
    _update_run(db, e.run_id, status="running", owner_pid=owner.pid, owner_token=owner.token)


def _constraints(db: Sql, e: ev.ConstraintsSet, owner: Owner) -> None:
    _update_run(db, e.run_id, budget_usd=e.budget_usd, deadline=e.deadline)


def _deliverable(db: Sql, e: ev.DeliverableReady, owner: Owner) -> None:
    _update_run(db, e.run_id, deliverable=e.markdown, partial=e.partial)


def _run_finished(db: Sql, e: ev.RunFinished, owner: Owner) -> None:
    # Totals stay the running sums of LLMCallFinished: they include the
    # planner's calls and those of an interrupted process, which the runner's
    # own totals (in this event) do not.
    _update_run(db, e.run_id, status=e.status, error=e.error or None, partial=e.partial)
    # like the fold: a task that started and never ended stops with the run
    db.run("UPDATE tasks SET finished = max(?, started) "
           "WHERE run_id = ? AND started IS NOT NULL AND finished IS NULL", (e.ts, e.run_id))


def _plan_proposed(db: Sql, e: ev.PlanProposed, owner: Owner) -> None:
    insert_plan_version(db, e.run_id, e.plan, "proposed", e.ts)


def _plan_edited(db: Sql, e: ev.PlanEdited, owner: Owner) -> None:
    insert_plan_version(db, e.run_id, e.plan, "edited", e.ts)


def _llm_call(db: Sql, e: ev.LLMCallFinished, owner: Owner) -> None:
    db.run(
        "INSERT INTO llm_calls (run_id, task_id, purpose, model, prompt_tokens, "
        "completion_tokens, cost, cost_known, latency_ms, ok, error, ts, agent, tokens_estimated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.run_id,
            e.task_id,
            e.purpose,
            e.model,
            e.prompt_tokens,
            e.completion_tokens,
            e.cost,
            e.cost_known,
            e.latency_ms,
            e.ok,
            e.error,
            e.ts,
            e.agent,
            e.tokens_estimated,
        ),
    )
    # Running totals: a live or interrupted run shows its spend as it goes.
    db.run(
        "UPDATE runs SET prompt_tokens = prompt_tokens + ?, "
        "completion_tokens = completion_tokens + ?, cost = cost + ? WHERE id = ?",
        (e.prompt_tokens, e.completion_tokens, e.cost, e.run_id),
    )
    if e.task_id:  # the task's too, until TaskFinished reports its own
        db.run(
            "UPDATE tasks SET prompt_tokens = prompt_tokens + ?, "
            "completion_tokens = completion_tokens + ?, cost = cost + ? WHERE run_id = ? AND task_id = ?",
            (e.prompt_tokens, e.completion_tokens, e.cost, e.run_id, e.task_id),
        )


# --- task events --------------------------------------------------------------------
# The rules are the fold's (agents.run.state.RunState); tests/app/test_projection_matches_fold.py
# holds the two equal on recorded runs.


def _task_started(db: Sql, e: ev.TaskStarted, owner: Owner) -> None:
    values = {"status": "running", "agent": e.agent, "attempts": e.attempt, "started": e.ts}
    values.update(finished=None, error=None)
    _update_task(db, e.run_id, e.task_id, values)


def _task_retried(db: Sql, e: ev.TaskRetried, owner: Owner) -> None:
    if not e.task_id:  # the planner's or the synthesizer's call: no task row
        return
    # attempt `e.attempt` failed; the next one is under way
    values = {"attempts": e.attempt + 1, "error": e.error}
    _update_task(db, e.run_id, e.task_id, values, sql={"attempts": "max(attempts, ?)"})


def _task_finished(db: Sql, e: ev.TaskFinished, owner: Owner) -> None:
    values = {
        "status": "completed",
        "output": e.output,
        "attempts": e.attempts,
        "prompt_tokens": e.prompt_tokens,
        "completion_tokens": e.completion_tokens,
        "cost": e.cost,
        "started": e.started,
        "finished": e.finished,
        "error": None,
    }
    _update_task(db, e.run_id, e.task_id, values)


def _task_failed(db: Sql, e: ev.TaskFailed, owner: Owner) -> None:
    values = {"status": "failed", "error": e.error, "attempts": e.attempts, "finished": e.ts}
    _update_task(db, e.run_id, e.task_id, values)


def _task_blocked(db: Sql, e: ev.TaskBlocked, owner: Owner) -> None:
    values = {"status": "blocked", "error": blocked_reason(e.because), "finished": e.ts}
    _update_task(db, e.run_id, e.task_id, values)


def _task_skipped(db: Sql, e: ev.TaskSkipped, owner: Owner) -> None:
    _update_task(db, e.run_id, e.task_id, {"status": "skipped", "error": e.reason, "finished": e.ts})


def _task_cancelled(db: Sql, e: ev.TaskCancelled, owner: Owner) -> None:
    _update_task(db, e.run_id, e.task_id, {"status": "cancelled", "error": None, "finished": e.ts})


def _approval_requested(db: Sql, e: ev.ApprovalRequested, owner: Owner) -> None:
    # A resumed run may ask again under the same request id: start it afresh.
    db.run(
        "INSERT INTO approvals (run_id, request_id, task_id, subject, title, details, "
        "requested_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, request_id) DO UPDATE SET task_id = excluded.task_id, "
        "subject = excluded.subject, title = excluded.title, details = excluded.details, "
        "requested_at = excluded.requested_at, action = NULL, text = NULL, resolved_at = NULL",
        (e.run_id, e.request_id, e.task_id, e.subject.value, e.title, approval_text(request_from_event(e)), e.ts),
    )
    if e.task_id:
        _update_task(db, e.run_id, e.task_id, {"status": "waiting_approval"})


def _approval_resolved(db: Sql, e: ev.ApprovalResolved, owner: Owner) -> None:
    db.run(
        "UPDATE approvals SET action = ?, text = ?, resolved_at = ? "
        "WHERE run_id = ? AND request_id = ?",
        (e.action, e.text, e.ts, e.run_id, e.request_id),
    )
    _index_edit(db, e)
    if not e.task_id:
        return
    subject = db.value(
        "SELECT subject FROM approvals WHERE run_id = ? AND request_id = ?", (e.run_id, e.request_id)
    )
    if subject in MID_TASK:  # asked mid-task: the task goes on running
        _resume_task(db, e.run_id, e.task_id)
        return
    # The runner follows up with TaskStarted / TaskFinished / TaskSkipped.
    edit = e.action == "edit" and bool(e.text)
    db.run(
        "UPDATE tasks SET status = 'pending', "
        "instructions = CASE WHEN ? THEN ? ELSE instructions END "
        "WHERE run_id = ? AND task_id = ? AND status = 'waiting_approval'",
        (edit, e.text, e.run_id, e.task_id),
    )


SEARCHED_EDITS = frozenset({Subject.TASK, Subject.TOOL})
"""Approvals whose edit (new instructions, new arguments) the history search finds."""


def _index_edit(db: Sql, e: ev.ApprovalResolved) -> None:
    """What the person wrote in an edit becomes a search doc (kind "approval", ref the request)."""
    if e.action != "edit" or not e.text.strip():
        return
    subject = db.value(
        "SELECT subject FROM approvals WHERE run_id = ? AND request_id = ?", (e.run_id, e.request_id)
    )
    if subject not in SEARCHED_EDITS:  # a deadline's edit is a time, not words
        return
    db.run(
        "INSERT INTO search_docs (run_id, kind, ref, body) VALUES (?, 'approval', ?, ?) "
        "ON CONFLICT (run_id, kind, ref) DO UPDATE SET body = excluded.body",
        (e.run_id, e.request_id, e.text),
    )


def _resume_task(db: Sql, run_id: str, task_id: str) -> None:
    db.run(
        "UPDATE tasks SET status = 'running' "
        "WHERE run_id = ? AND task_id = ? AND status = 'waiting_approval'",
        (run_id, task_id),
    )


_Handler = Callable[[Sql, Any, Owner], None]

HANDLERS: dict[type[ev.RunEvent], _Handler] = {
    ev.RunStarted: _run_started,
    ev.RunPaused: _run_paused,
    ev.RunResumed: _run_resumed,
    ev.ConstraintsSet: _constraints,
    ev.DeliverableReady: _deliverable,
    ev.RunFinished: _run_finished,
    ev.PlanProposed: _plan_proposed,
    ev.PlanEdited: _plan_edited,
    ev.LLMCallFinished: _llm_call,
    ev.TaskStarted: _task_started,
    ev.TaskRetried: _task_retried,
    ev.TaskFinished: _task_finished,
    ev.TaskFailed: _task_failed,
    ev.TaskBlocked: _task_blocked,
    ev.TaskSkipped: _task_skipped,
    ev.TaskCancelled: _task_cancelled,
    ev.ApprovalRequested: _approval_requested,
    ev.ApprovalResolved: _approval_resolved,
}


def apply_event(db: Sql, event: ev.RunEvent, owner: Owner) -> None:
    """Update the projections for one event (no-op for types without one)."""
    handler = HANDLERS.get(type(event))
    if handler is not None:
        handler(db, event, owner)
