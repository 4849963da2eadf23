"""SQLAlchemy models of the history database.

The schema itself is owned by the Alembic migrations in `migrations/versions`;
these models must match them (a test compares the two). Timestamps are floats,
seconds since the epoch, like `RunEvent.ts`.

Full-text search lives in `search_docs` (one row per searchable text: a run's
goal, its latest plan, its deliverable, each task's output) and the FTS5 table
`search_fts` over it. Both are kept in sync by SQL triggers created in the
migrations, so every writer (Store, EventWriter, a future tool) stays consistent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


def _run_fk() -> ForeignKey:
    return ForeignKey("runs.id", ondelete="CASCADE")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    created: Mapped[float] = mapped_column(Float)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_created", "created"),
        Index("ix_runs_status", "status"),
        Index("ix_runs_project_id", "project_id"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    goal: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String, default="planned")
    created: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    deliverable: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    """Process that runs (ran) this run; see liveness.py."""
    owner_token: Mapped[str | None] = mapped_column(String)
    """That process's start token, so a reused pid is not taken for the owner."""


class PlanVersion(Base):
    __tablename__ = "plan_versions"
    __table_args__ = (Index("ux_plan_versions_run_version", "run_id", "version", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(_run_fk())
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[float] = mapped_column(Float)


class TaskRecord(Base):
    """Projection of a task's state, updated from events."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ux_tasks_run_task", "run_id", "task_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(_run_fk())
    task_id: Mapped[str] = mapped_column(String)
    parent_id: Mapped[str | None] = mapped_column(String)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(Text, default="")
    agent: Mapped[str] = mapped_column(String, default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    depends_on: Mapped[list[str]] = mapped_column(JSON, default=list)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    output: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    started: Mapped[float | None] = mapped_column(Float)
    finished: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class EventRecord(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ux_events_run_seq", "run_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(_run_fk())
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String)
    ts: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class LLMCall(Base):
    __tablename__ = "llm_calls"
    __table_args__ = (Index("ix_llm_calls_run_id", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(_run_fk())
    task_id: Mapped[str] = mapped_column(String, default="")
    purpose: Mapped[str] = mapped_column(String)
    model: Mapped[str] = mapped_column(String)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    cost_known: Mapped[bool] = mapped_column(Boolean, default=True)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str] = mapped_column(Text, default="")
    ts: Mapped[float] = mapped_column(Float)


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (Index("ux_approvals_run_request", "run_id", "request_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(_run_fk())
    request_id: Mapped[str] = mapped_column(String)
    task_id: Mapped[str] = mapped_column(String, default="")
    subject: Mapped[str] = mapped_column(String, default="task")
    title: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str | None] = mapped_column(String)
    text: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float)


class SearchDoc(Base):
    """One searchable text of a run; written only by triggers."""

    __tablename__ = "search_docs"
    __table_args__ = (Index("ux_search_docs_key", "run_id", "kind", "ref", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(_run_fk())
    kind: Mapped[str] = mapped_column(String)
    """goal / plan / deliverable / output."""
    ref: Mapped[str] = mapped_column(String, default="")
    """The task id for outputs, "" otherwise."""
    body: Mapped[str] = mapped_column(Text)


FTS_TABLE = "search_fts"
"""FTS5 virtual table (external content: search_docs); not a model."""


def is_fts_table(name: str) -> bool:
    """True for the FTS5 table and its shadow tables (hidden from autogenerate)."""
    return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
