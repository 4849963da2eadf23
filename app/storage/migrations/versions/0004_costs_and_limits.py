"""Costs and limits (issue 15): a run's budget, deadline and cost estimate, and a
project's monthly budget.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

- `runs.budget_usd`: the budget set at intake for this run (null: none).
- `runs.deadline`: when the run should be done, seconds since the epoch (null: none).
- `runs.estimate`: the cost estimate made before the run started
  (`RunEstimate.to_dict()`: low, expected, high, unpriced tasks, per task).
- `projects.monthly_budget_usd`: spend per calendar month across the project's
  runs before new model calls pause and ask (null: none).
- Instructions the person edited at an approval become searchable (a `search_docs`
  row of kind "approval", as the projection now writes for new ones).
- `llm_calls.agent`: the role that made the call (a review's reviewer, a vote's
  judge), so answer lengths are learned per role; "" in older rows (then the
  task's agent stands in).
- `llm_calls.tokens_estimated`: the provider reported no usage and Troupe counted
  the tokens itself (a local server's stream); false in older rows.

Plain ADD COLUMNs, nullable: `runs` is not recreated, so its search triggers
and the tables that point at it are untouched; older rows read as "none".

Rules: never edit a migration that has shipped; add a new one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("budget_usd", sa.Float(), nullable=True))
    op.add_column("runs", sa.Column("deadline", sa.Float(), nullable=True))
    op.add_column("runs", sa.Column("estimate", sa.JSON(), nullable=True))
    op.add_column("projects", sa.Column("monthly_budget_usd", sa.Float(), nullable=True))
    op.add_column("llm_calls", sa.Column("agent", sa.String(), nullable=False, server_default=""))
    op.add_column("llm_calls", sa.Column("tokens_estimated", sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    # edits made before: findable like new ones (the search triggers index the rows)
    op.execute(
        "INSERT OR IGNORE INTO search_docs (run_id, kind, ref, body) "
        "SELECT run_id, 'approval', request_id, text FROM approvals "
        "WHERE action = 'edit' AND subject IN ('task', 'tool') AND coalesce(text, '') != ''"
    )


def downgrade() -> None:
    op.execute("DELETE FROM search_docs WHERE kind = 'approval'")
    # SQLite >= 3.35 drops a column in place (no index or trigger names them)
    op.drop_column("llm_calls", "tokens_estimated")
    op.drop_column("llm_calls", "agent")
    op.drop_column("projects", "monthly_budget_usd")
    op.drop_column("runs", "estimate")
    op.drop_column("runs", "deadline")
    op.drop_column("runs", "budget_usd")
