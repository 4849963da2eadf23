"""Initial schema: projects, runs, plans, tasks, events, LLM calls, approvals, search.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Full-text search: `search_docs` holds one row per searchable text of a run
(goal, latest plan, deliverable, each task output); `search_fts` is an FTS5
index over it (external content, so texts are stored once more, not twice).
Triggers keep both in sync with runs / tasks / plan_versions, whoever writes.

Rules: never edit a migration that has shipped; add a new one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.id", ondelete="CASCADE")


def _create_core_tables() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False, unique=True),
        sa.Column("created", sa.Float(), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("deliverable", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner_pid", sa.Integer(), nullable=True),
        sa.Column("owner_token", sa.String(), nullable=True),
    )
    op.create_index("ix_runs_created", "runs", ["created"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_project_id", "runs", ["project_id"])
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(), _run_fk(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
    )
    op.create_index(
        "ux_plan_versions_run_version", "plan_versions", ["run_id", "version"], unique=True
    )


def _create_task_tables() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(), _run_fk(), nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("parent_id", sa.String(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("depends_on", sa.JSON(), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("started", sa.Float(), nullable=True),
        sa.Column("finished", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ux_tasks_run_task", "tasks", ["run_id", "task_id"], unique=True)
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(), _run_fk(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ux_events_run_seq", "events", ["run_id", "seq"], unique=True)
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(), _run_fk(), nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("cost_known", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
    )
    op.create_index("ix_llm_calls_run_id", "llm_calls", ["run_id"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(), _run_fk(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("action", sa.String(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("resolved_at", sa.Float(), nullable=True),
    )
    op.create_index("ux_approvals_run_request", "approvals", ["run_id", "request_id"], unique=True)


# --- full-text search --------------------------------------------------------------


def _set_doc(run_id: str, kind: str, ref: str, body: str) -> str:
    """SQL (for a trigger body) replacing one search doc; empty bodies are not indexed."""
    return (
        f"DELETE FROM search_docs WHERE run_id = {run_id} AND kind = '{kind}' AND ref = {ref};\n"
        f"INSERT INTO search_docs (run_id, kind, ref, body) "
        f"SELECT {run_id}, '{kind}', {ref}, b FROM (SELECT {body} AS b) "
        f"WHERE b IS NOT NULL AND b != '';\n"
    )


_PLAN_TEXT = (
    "(SELECT group_concat(value, ' ') FROM json_tree(new.plan) "
    "WHERE key IN ('goal', 'title', 'instructions') AND type = 'text')"
)

_FTS_SQL = [
    "CREATE VIRTUAL TABLE search_fts USING fts5("
    "body, content='search_docs', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    """CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
        INSERT INTO search_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    """CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END""",
    """CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
        INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO search_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    "CREATE TRIGGER runs_search_ai AFTER INSERT ON runs BEGIN\n"
    + _set_doc("new.id", "goal", "''", "new.goal")
    + _set_doc("new.id", "deliverable", "''", "new.deliverable")
    + "END",
    "CREATE TRIGGER runs_search_goal AFTER UPDATE OF goal ON runs "
    "WHEN old.goal IS NOT new.goal BEGIN\n" + _set_doc("new.id", "goal", "''", "new.goal") + "END",
    "CREATE TRIGGER runs_search_deliverable AFTER UPDATE OF deliverable ON runs "
    "WHEN old.deliverable IS NOT new.deliverable BEGIN\n"
    + _set_doc("new.id", "deliverable", "''", "new.deliverable")
    + "END",
    "CREATE TRIGGER tasks_search_ai AFTER INSERT ON tasks BEGIN\n"
    + _set_doc("new.run_id", "output", "new.task_id", "new.output")
    + "END",
    "CREATE TRIGGER tasks_search_au AFTER UPDATE OF output, task_id ON tasks "
    "WHEN old.output IS NOT new.output OR old.task_id IS NOT new.task_id BEGIN\n"
    "DELETE FROM search_docs WHERE run_id = old.run_id AND kind = 'output' "
    "AND ref = old.task_id;\n"
    + _set_doc("new.run_id", "output", "new.task_id", "new.output")
    + "END",
    """CREATE TRIGGER tasks_search_ad AFTER DELETE ON tasks BEGIN
        DELETE FROM search_docs
        WHERE run_id = old.run_id AND kind = 'output' AND ref = old.task_id;
    END""",
    "CREATE TRIGGER plan_versions_search_ai AFTER INSERT ON plan_versions BEGIN\n"
    + _set_doc("new.run_id", "plan", "''", _PLAN_TEXT)
    + "END",
]


def _create_search() -> None:
    op.create_table(
        "search_docs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(), _run_fk(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ux_search_docs_key", "search_docs", ["run_id", "kind", "ref"], unique=True)
    for statement in _FTS_SQL:
        op.execute(statement)


def upgrade() -> None:
    _create_core_tables()
    _create_task_tables()
    _create_search()


def downgrade() -> None:
    for trigger in (
        "plan_versions_search_ai",
        "tasks_search_ad",
        "tasks_search_au",
        "tasks_search_ai",
        "runs_search_deliverable",
        "runs_search_goal",
        "runs_search_ai",
        "search_docs_au",
        "search_docs_ad",
        "search_docs_ai",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS search_fts")
    for table in (
        "search_docs",
        "approvals",
        "llm_calls",
        "events",
        "tasks",
        "plan_versions",
        "runs",
        "projects",
    ):
        op.drop_table(table)
