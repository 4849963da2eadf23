"""SQLAlchemy models of the history database.

The schema itself is owned by the Alembic migrations in `migrations/versions`;
these models must match them (a test compares the two). Timestamps are floats,
seconds since the epoch, like `RunEvent.ts`.

Full-text search lives in `search_docs` (one row per searchable text: a run's
goal, its latest plan, its deliverable, each task's output) and the FTS5 table
`search_fts` over it. Both are kept in sync by SQL triggers created in the
migrations, so every writer (Store, EventWriter, a future tool) stays consistent.
The one exception: what a person wrote when editing at an approval (kind
"approval", ref the request id) is added by the projection of ApprovalResolved
(app/storage/projections.py); search_fts follows it through the same triggers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

RUN_STATUSES = ("planned", "running", "paused", "completed", "failed", "cancelled", "interrupted")
TASK_STATUSES = (
    "pending",
    "running",
    "waiting_approval",
    "completed",
    "failed",
    "blocked",
    "skipped",
    "cancelled",
)
PLAN_SOURCES = ("proposed", "edited", "file")


metadata = MetaData()
"""Every table of the history database (Alembic's autogenerate compares against it)."""


class Base:
    """Compatibility: `Base.metadata` as with the former declarative models."""

    metadata = metadata


def _run_fk() -> Column[str]:
    return Column("run_id", String, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _req(name: str, type_: Any, *args: Any, **kw: Any) -> Column[Any]:
    return Column(name, type_, *args, nullable=False, **kw)


def _opt(name: str, type_: Any) -> Column[Any]:
    return Column(name, type_, nullable=True)


projects = Table(
    "projects", metadata, _id(),
    _req("name", String, unique=True), _req("created", Float),
    _opt("monthly_budget_usd", Float),
)
runs = Table(
    "runs", metadata,
    Column("id", String, primary_key=True),
    _req("project_id", Integer, ForeignKey("projects.id")),
    _req("goal", Text), _req("status", String, default="planned"),
    _req("created", Float), _req("updated", Float),
    _req("settings", JSON, default=dict), _opt("deliverable", Text),
    _req("prompt_tokens", Integer, default=0), _req("completion_tokens", Integer, default=0),
    _req("cost", Float, default=0.0), _opt("error", Text),
    _opt("owner_pid", Integer), _opt("owner_token", String),
    _req("partial", Boolean, default=False, server_default=false()),
    _opt("budget_usd", Float), _opt("deadline", Float), _opt("estimate", JSON),
    Index("ix_runs_created", "created"), Index("ix_runs_status", "status"),
    Index("ix_runs_project_id", "project_id"),
)
plan_versions = Table(
    "plan_versions", metadata, _id(), _run_fk(),
    _req("version", Integer), _req("source", String), _req("plan", JSON), _req("created", Float),
    Index("ux_plan_versions_run_version", "run_id", "version", unique=True),
)
tasks = Table(
    "tasks", metadata, _id(), _run_fk(),
    _req("task_id", String), _opt("parent_id", String), _req("position", Integer, default=0),
    _req("title", Text, default=""), _req("agent", String, default=""),
    _req("instructions", Text, default=""), _req("depends_on", JSON, default=list),
    _req("requires_approval", Boolean, default=False), _req("status", String, default="pending"),
    _req("attempts", Integer, default=0), _opt("output", Text),
    _req("prompt_tokens", Integer, default=0), _req("completion_tokens", Integer, default=0),
    _req("cost", Float, default=0.0), _opt("started", Float), _opt("finished", Float),
    _opt("error", Text),
    Index("ux_tasks_run_task", "run_id", "task_id", unique=True),
)
events = Table(
    "events", metadata, Column("id", Integer, primary_key=True, autoincrement=True), _run_fk(),
    _req("seq", Integer), _req("type", String), _req("ts", Float), _req("data", JSON),
    Index("ux_events_run_seq", "run_id", "seq", unique=True),
)
llm_calls = Table(
    "llm_calls", metadata, _id(), _run_fk(),
    _req("task_id", String, default=""), _req("purpose", String), _req("model", String),
    _req("prompt_tokens", Integer, default=0), _req("completion_tokens", Integer, default=0),
    _req("cost", Float, default=0.0), _req("cost_known", Boolean, default=True),
    _req("latency_ms", Float, default=0.0), _req("ok", Boolean, default=True),
    _req("error", Text, default=""), _req("ts", Float),
    _req("agent", String, default="", server_default=""),
    _req("tokens_estimated", Boolean, default=False, server_default=false()),
    Index("ix_llm_calls_run_id", "run_id"),
)
approvals = Table(
    "approvals", metadata, _id(), _run_fk(),
    _req("request_id", String), _req("task_id", String, default=""),
    _req("subject", String, default="task"), _req("title", Text, default=""),
    _req("details", Text, default=""), _opt("action", String), _opt("text", Text),
    _req("requested_at", Float), _opt("resolved_at", Float),
    Index("ux_approvals_run_request", "run_id", "request_id", unique=True),
)
search_docs = Table(
    "search_docs", metadata, _id(), _run_fk(),
    _req("kind", String), _req("ref", String, default=""), _req("body", Text),
    Index("ux_search_docs_key", "run_id", "kind", "ref", unique=True),
)

tool_calls = Table(
    "tool_calls", metadata, _id(), _run_fk(),
    _req("key", String), _req("task_id", String, default=""), _req("tool", String),
    _req("arguments_hash", String), _req("arguments", Text), _req("status", String),
    _opt("result", Text), _req("error", Boolean, default=False),
    _req("started_at", Float), _opt("finished_at", Float),
    Index("ux_tool_calls_key", "key", unique=True), Index("ix_tool_calls_run_id", "run_id"),
)
"""Tool calls on record before they run and with their result after (exactly once)."""


class _Model:
    """`Run.__table__` and friends, as the ORM models offered them."""

    def __init__(self, table: Table) -> None:
        self.__table__ = table


Project, Run, PlanVersion, TaskRecord = _Model(projects), _Model(runs), _Model(plan_versions), _Model(tasks)
EventRecord, LLMCall, Approval, SearchDoc = (
    _Model(events), _Model(llm_calls), _Model(approvals), _Model(search_docs))
ToolCallRecord = _Model(tool_calls)


FTS_TABLE = "search_fts"
"""FTS5 virtual table (external content: search_docs); not a model."""


def is_fts_table(name: str) -> bool:
    """True for the FTS5 table and its shadow tables (hidden from autogenerate)."""
    return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
