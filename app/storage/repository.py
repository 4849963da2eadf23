"""Store: the history database's API for services, the CLI and the UI.

Reads use short transactions on the shared sync engine; writes take the write
lock up front (BEGIN IMMEDIATE). Everything returned is a frozen dataclass
from records.py. Events are written by EventWriter (writer.py), not here.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, select, update

from app.storage import queries
from app.storage.db import make_engine, upgrade_database, writer_engine
from app.storage.liveness import current_token, is_alive
from app.storage.models import PLAN_SOURCES, RUN_STATUSES, Project, Run, TaskRecord
from app.storage.projections import (
    Sql,
    ensure_project,
    insert_plan_version,
    insert_run,
    run_exists,
)
from app.storage.records import (
    AnswerSample,
    ApprovalRow,
    FinishedTask,
    LLMCallRow,
    PlanVersionRow,
    RunDetail,
    RunSummary,
    ToolCallRow,
)

runs_t = cast(Table, Run.__table__)
tasks_t = cast(Table, TaskRecord.__table__)
projects_t = cast(Table, Project.__table__)

LIVE_STATUSES = ("running", "paused")

_SECRET_WORDS = frozenset(
    {"key", "keys", "apikey", "token", "secret", "secrets", "password", "passwd", "passphrase"}
    | {"credential", "credentials", "auth"}
)
_SECRET_VALUE = re.compile(
    r"(^|[^A-Za-z0-9])(sk|pk|rk)-[A-Za-z0-9_-]{16,}"  # OpenAI / Anthropic style
    r"|AIza[0-9A-Za-z_-]{30,}"  # Google
    r"|\b(ghp|gho|github_pat|hf|xox[abp])_[A-Za-z0-9_]{16,}"
    r"|bearer\s+\S{16,}"
    r"|[?&](api[-_]?key|key|token|secret)=",
    re.IGNORECASE,
)


def open_database(path: str | Path) -> Store:
    """Open (creating if needed) the database at `path`, migrated to the newest schema.

    Raises app.storage.errors.StorageError when the file cannot be used (not
    ours, from a newer Troupe, or its upgrade failed and was rolled back).
    """
    engine = make_engine(path)
    try:
        upgrade_database(engine)
    except BaseException:
        engine.dispose()  # no connection left holding the file
        raise
    return Store(engine)


def new_run_id() -> str:
    """A short random run id (12 hex digits)."""
    return uuid.uuid4().hex[:12]


class Store:
    """Projects, runs, plans and their history in one SQLite database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writes = writer_engine(engine)

    def close(self) -> None:
        """Release the connections (close EventWriters on it first)."""
        self.engine.dispose()

    # --- projects and runs ----------------------------------------------------------

    def create_project(self, name: str) -> int:
        """Create project `name`; ValueError if it exists. Returns its id."""
        with self._writes.begin() as conn:
            db = Sql(conn)
            if db.value("SELECT 1 FROM projects WHERE name = ?", (name,)):
                raise ValueError(f"project {name!r} already exists")
            return ensure_project(db, name)

    def get_or_create_project(self, name: str) -> int:
        """The id of project `name`, created if missing."""
        with self._writes.begin() as conn:
            return ensure_project(Sql(conn), name)

    def projects(self) -> list[str]:
        """Project names, alphabetically."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(select(projects_t.c.name).order_by(projects_t.c.name)).scalars()
            )

    def create_run(self, project: str, goal: str, settings: Mapping[str, Any] | None = None) -> str:
        """Create a run (status "planned") in `project` (by name); returns its id.

        `settings` (model, planner_model, api_base, max_parallel, ...) must not
        hold secrets: a key named like *key*/*token*/*secret*/*password*, or a
        value that looks like an API key, raises ValueError.
        """
        clean = check_settings(settings or {})
        run_id = new_run_id()
        with self._writes.begin() as conn:
            db = Sql(conn)
            insert_run(db, run_id, ensure_project(db, project), goal, clean)
        return run_id

    def set_run_status(self, run_id: str, status: str, error: str | None = None) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r} (one of {', '.join(RUN_STATUSES)})")
        values: dict[str, Any] = {"status": status, "updated": time.time()}
        if error is not None:
            values["error"] = error
        self._update_run(run_id, values)

    def claim_run(self, run_id: str, pid: int | None = None, token: str | None = None) -> None:
        """Record the process owning a run (default: this one). EventWriter does it
        on RunStarted / RunResumed."""
        if pid is None:
            pid, token = os.getpid(), current_token()
        self._update_run(run_id, {"owner_pid": pid, "owner_token": token})

    def delete_run(self, run_id: str) -> None:
        """Delete a run and all its history."""
        with self._writes.begin() as conn:
            conn.execute(delete(runs_t).where(runs_t.c.id == run_id))

    def _update_run(self, run_id: str, values: dict[str, Any]) -> None:
        with self._writes.begin() as conn:
            result = conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(**values))
            if result.rowcount == 0:
                raise KeyError(run_id)

    # --- plans ------------------------------------------------------------------------

    def add_plan_version(self, run_id: str, plan: Mapping[str, Any], source: str) -> int:
        """Store a new version of the run's plan; returns its number (1, 2, ...)."""
        if source not in PLAN_SOURCES:
            raise ValueError(f"unknown plan source {source!r} (one of {', '.join(PLAN_SOURCES)})")
        with self._writes.begin() as conn:
            db = Sql(conn)
            if not run_exists(db, run_id):
                raise KeyError(run_id)
            return insert_plan_version(db, run_id, dict(plan), source, time.time())

    def latest_plan(self, run_id: str) -> PlanVersionRow | None:
        """The newest plan version, or None."""
        versions = self._plan_versions(run_id, latest_only=True)
        return versions[0] if versions else None

    def plan_versions(self, run_id: str) -> list[PlanVersionRow]:
        """Every plan version, oldest first."""
        return self._plan_versions(run_id, latest_only=False)

    def _plan_versions(self, run_id: str, latest_only: bool) -> list[PlanVersionRow]:
        with self.engine.connect() as conn:
            return queries.plan_versions(conn, run_id, latest_only)

    # --- reading history --------------------------------------------------------------

    def list_runs(self, search: str | None = None, limit: int = 200, offset: int = 0) -> list[RunSummary]:
        """Runs newest first, the first `offset` skipped; with `search`, only those
        matching it (full text)."""
        if search is not None and search.strip():
            return self.search_runs(search, limit, offset)
        with self.engine.connect() as conn:
            return queries.run_summaries(conn, [], limit, offset)

    def search_runs(self, text: str, limit: int = 200, offset: int = 0) -> list[RunSummary]:
        """Runs whose goal, plan, task outputs, deliverable or approval edits contain
        every word of `text` (prefix match, case and accent insensitive), newest
        first, each with its `hit` (where it matched, with the words around it)."""
        terms = queries.fts_terms(text)
        with self.engine.connect() as conn:
            runs = queries.run_summaries(conn, terms, limit, offset)
            hits = queries.search_hits(conn, terms, [r.id for r in runs])
        return [replace(r, hit=hits.get(r.id)) for r in runs]

    def get_run(self, run_id: str) -> RunDetail:
        """A snapshot of one run with its tasks; KeyError if there is no such run."""
        with self.engine.connect() as conn:
            return queries.run_detail(conn, run_id)

    def events(self, run_id: str, after_seq: int = 0) -> list[dict[str, Any]]:
        """The run's events in order, as dicts (`agents.events.event_from_dict` reads
        them back) with an extra "seq"."""
        with self.engine.connect() as conn:
            return queries.events(conn, run_id, after_seq)

    def answer_samples(self, runs: int = 200) -> list[AnswerSample]:
        """Answer lengths of the newest `runs` runs' task and synthesis calls (for estimates)."""
        with self.engine.connect() as conn:
            return queries.answer_samples(conn, runs)

    def save_estimate(self, run_id: str, estimate: Mapping[str, Any]) -> None:
        """Keep the cost estimate made before the run's first start (a later start keeps it)."""
        with self._writes.begin() as conn:
            conn.execute(update(runs_t).where(runs_t.c.id == run_id, runs_t.c.estimate.is_(None))
                         .values(estimate=dict(estimate)))

    def llm_calls(self, run_id: str) -> list[LLMCallRow]:
        with self.engine.connect() as conn:
            return queries.llm_calls(conn, run_id)

    def approvals(self, run_id: str) -> list[ApprovalRow]:
        with self.engine.connect() as conn:
            return queries.approvals(conn, run_id)

    def finished_task_outputs(self, run_id: str) -> dict[str, FinishedTask]:
        """Completed tasks' results by task id: what a resumed run does not redo."""
        with self.engine.connect() as conn:
            return queries.finished_tasks(conn, run_id)

    # --- tool calls (exactly once) --------------------------------------------------------

    def begin_tool_call(self, run_id: str, key: str, task_id: str, tool: str,
                        arguments_hash: str, arguments: str) -> None:
        """Put a call on record as started, committed before this returns (the tool
        runs next). A call already under `key` (asked again differently) is replaced."""
        with self._writes.begin() as conn:
            Sql(conn).run(
                "INSERT INTO tool_calls (run_id, key, task_id, tool, arguments_hash, arguments, "
                "status, result, error, started_at, finished_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'started', NULL, 0, ?, NULL) "
                "ON CONFLICT (key) DO UPDATE SET task_id = excluded.task_id, tool = excluded.tool, "
                "arguments_hash = excluded.arguments_hash, arguments = excluded.arguments, "
                "status = 'started', result = NULL, error = 0, started_at = excluded.started_at, "
                "finished_at = NULL",
                (run_id, key, task_id, tool, arguments_hash, arguments, time.time()),
            )

    def finish_tool_call(self, key: str, result: str, error: bool) -> None:
        """Record a call's result; KeyError if it was never begun."""
        with self._writes.begin() as conn:
            changed = Sql(conn).run(
                "UPDATE tool_calls SET status = 'finished', result = ?, error = ?, finished_at = ? "
                "WHERE key = ?", (result, int(error), time.time(), key),
            )
        if changed == 0:
            raise KeyError(key)

    def tool_call(self, key: str) -> ToolCallRow | None:
        with self.engine.connect() as conn:
            rows = Sql(conn).rows(f"SELECT {_TOOL_CALL_COLUMNS} FROM tool_calls WHERE key = ?", (key,))
        return _tool_call_row(rows[0]) if rows else None

    def tool_calls(self, run_id: str) -> list[ToolCallRow]:
        """The run's calls on record, in the order they first started."""
        with self.engine.connect() as conn:
            rows = Sql(conn).rows(
                f"SELECT {_TOOL_CALL_COLUMNS} FROM tool_calls WHERE run_id = ? ORDER BY id", (run_id,))
        return [_tool_call_row(r) for r in rows]

    # --- crash recovery ---------------------------------------------------------------

    def mark_interrupted(self) -> list[str]:
        """Flip running/paused runs whose owning process is gone to "interrupted".

        Call at startup. A run owned by a live process (this one or another)
        is left alone. Their running / waiting tasks go back to pending.
        Returns the ids flipped.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(runs_t.c.id, runs_t.c.owner_pid, runs_t.c.owner_token).where(
                    runs_t.c.status.in_(LIVE_STATUSES)
                )
            ).all()
        dead = [run_id for run_id, pid, token in rows if not is_alive(pid, token)]
        if dead:
            self._interrupt(dead)
        return dead

    def interrupt(self, run_id: str, reason: str | None = None) -> None:
        """Stop `run_id` as interrupted now (its owner is this process: it stopped
        the run itself, maybe before its start was stored: "planned" too); its
        running / waiting tasks go back to pending."""
        self._interrupt([run_id], reason, (*LIVE_STATUSES, "planned"))

    def _interrupt(self, run_ids: list[str], reason: str | None = None,
                   statuses: tuple[str, ...] = tuple(LIVE_STATUSES)) -> None:
        values: dict[str, Any] = {"status": "interrupted", "updated": time.time()}
        if reason is not None:
            values["error"] = reason
        with self._writes.begin() as conn:
            conn.execute(
                update(runs_t)
                .where(runs_t.c.id.in_(run_ids), runs_t.c.status.in_(statuses))
                .values(**values)
            )
            conn.execute(
                update(tasks_t)
                .where(
                    tasks_t.c.run_id.in_(run_ids),
                    tasks_t.c.status.in_(("running", "waiting_approval")),
                )
                .values(status="pending")
            )

    def count_runs(self, search: str | None = None) -> int:
        """How many runs list_runs(search) would give without a limit."""
        terms = queries.fts_terms(search) if search is not None and search.strip() else []
        with self.engine.connect() as conn:
            return queries.run_count(conn, terms)


# --- helpers --------------------------------------------------------------------------

_TOOL_CALL_COLUMNS = (
    "key, task_id, tool, arguments_hash, arguments, status, result, error, started_at, finished_at"
)


def _tool_call_row(row: Any) -> ToolCallRow:
    key, task_id, tool, digest, arguments, status, result, error, started, finished = row
    return ToolCallRow(key, task_id, tool, digest, arguments, status, result, bool(error), started, finished)



def _name_words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)  # apiKey -> api Key
    return {w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w}


def check_settings(settings: Mapping[str, Any], where: str = "settings") -> dict[str, Any]:
    """A plain copy of `settings`; ValueError if anything in it looks like a secret."""
    out: dict[str, Any] = {}
    for name, value in settings.items():
        path = f"{where}.{name}"
        if _name_words(str(name)) & _SECRET_WORDS or "apikey" in str(name).lower():
            raise ValueError(f"{path}: secrets are never stored in the database (use the keyring)")
        out[str(name)] = _check_value(value, path)
    return out


def _check_value(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return check_settings(value, path)
    if isinstance(value, list | tuple):
        return [_check_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        raise ValueError(f"{path}: value looks like an API key; keys belong in the keyring")
    return value


__all__ = ["Store", "check_settings", "new_run_id", "open_database"]
