"""A completed run whose deliverable is partial (the person rejected a task).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

`runs.partial` is true when the run's latest end (RunFinished) completed with a
deliverable of only the tasks that finished; a new start clears it. Rows of
older databases get false (their runs ended before the flag existed).

A plain ADD COLUMN (SQLite supports it with a constant default): `runs` is not
recreated, so its search triggers and the tables that point at it are
untouched.

Rules: never edit a migration that has shipped; add a new one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "runs", sa.Column("partial", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (no index or trigger names it)
    op.drop_column("runs", "partial")
