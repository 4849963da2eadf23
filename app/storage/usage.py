"""Where the money went: model calls summed over a period, grouped by day, project,
model or role, and the runs that cost most (`troupe usage`, the spending view).

Everything counts from `llm_calls`, one row per model call, by when the call
finished: a run that spans midnight spends on both days, and the planner's and
synthesiser's calls are counted (as the role "orchestrator").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from app.storage.repository import Store


class GroupBy(enum.StrEnum):
    """What the calls are grouped by."""

    DAY = "day"
    """The local calendar day the call finished on (YYYY-MM-DD)."""
    PROJECT = "project"
    """The run's project."""
    MODEL = "model"
    """The litellm model string the call went to."""
    ROLE = "role"
    """The task's agent; planner and synthesis calls are "orchestrator"."""


ORCHESTRATOR = "orchestrator"
"""The role of the calls that plan, replan and synthesise (no task of their own)."""

UNKNOWN_ROLE = "(no task)"
"""The role of a task call whose task is not in the run's stored plan."""

_ORCHESTRATOR_PURPOSES = ("plan", "replan", "synthesis")


@dataclass(frozen=True)
class UsageRow:
    """The calls of one group over the period."""

    key: str
    """The day (YYYY-MM-DD), project name, model string or role."""
    calls: int
    """How many model calls."""
    prompt_tokens: int
    """Prompt tokens sent."""
    completion_tokens: int
    """Completion tokens received."""
    cost: float
    """US dollars of the priced calls."""
    unpriced_calls: int
    """Calls whose model's price was unknown (counted as $0 in `cost`)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def free(self) -> bool:
        """Every call was priced and cost nothing (models on this machine)."""
        return self.calls > 0 and self.unpriced_calls == 0 and self.cost == 0


@dataclass(frozen=True)
class RunCost:
    """One run's spending over the period."""

    id: str
    """The run id."""
    goal: str
    """The goal, verbatim."""
    project: str
    """The project's name."""
    created: float
    """When the run was created (seconds since the epoch)."""
    cost: float
    """US dollars of its priced calls in the period."""
    calls: int
    """Its model calls in the period."""
    unpriced_calls: int
    """Of those, calls whose price was unknown."""


_KEYS = {
    GroupBy.DAY: "date(c.ts, 'unixepoch', 'localtime')",
    GroupBy.PROJECT: "p.name",
    GroupBy.MODEL: "c.model",
    GroupBy.ROLE: (
        f"CASE WHEN c.purpose IN {_ORCHESTRATOR_PURPOSES!r} THEN '{ORCHESTRATOR}' "
        f"ELSE coalesce(nullif(c.agent, ''), nullif(t.agent, ''), '{UNKNOWN_ROLE}') END"
    ),
}
# a task call's role is the role that made it (a review's reviewer), else (rows from
# before migration 0004) its task's agent, in the same run
_FROM = (
    "FROM llm_calls c JOIN runs r ON r.id = c.run_id JOIN projects p ON p.id = r.project_id "
    "LEFT JOIN tasks t ON t.run_id = c.run_id AND t.task_id = c.task_id AND c.task_id != '' "
)
_SUMS = (
    "count(*), coalesce(sum(c.prompt_tokens), 0), coalesce(sum(c.completion_tokens), 0), "
    "coalesce(sum(c.cost), 0.0), coalesce(sum(CASE WHEN c.cost_known THEN 0 ELSE 1 END), 0)"
)


def _where(since: float | None, until: float | None) -> tuple[str, dict[str, Any]]:
    """The period as SQL: since inclusive, until exclusive (None: unbounded)."""
    clauses, params = ["1 = 1"], {}
    if since is not None:
        clauses.append("c.ts >= :since")
        params["since"] = since
    if until is not None:
        clauses.append("c.ts < :until")
        params["until"] = until
    return "WHERE " + " AND ".join(clauses) + " ", params


def usage_by(store: Store, by: GroupBy, since: float | None = None,
             until: float | None = None) -> list[UsageRow]:
    """The period's calls summed per group: days in order, the rest costliest first."""
    where, params = _where(since, until)
    # cost, then unpriced calls (they cost something), then calls
    order = "key" if by is GroupBy.DAY else "5 DESC, 6 DESC, 2 DESC, key"
    sql = f"SELECT {_KEYS[by]} AS key, {_SUMS} {_FROM}{where}GROUP BY key ORDER BY {order}"
    with store.engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    return [UsageRow(str(key), int(n), int(p), int(c), float(cost), int(unpriced))
            for key, n, p, c, cost, unpriced in rows]


def top_runs(store: Store, since: float | None = None, until: float | None = None,
             limit: int = 10) -> list[RunCost]:
    """The runs whose calls in the period cost most (unpriced calls break ties), costliest first."""
    where, params = _where(since, until)
    sql = (f"SELECT r.id, r.goal, p.name, r.created, {_SUMS} {_FROM}{where}"
           "GROUP BY r.id ORDER BY 8 DESC, 9 DESC, 5 DESC, r.created DESC LIMIT :limit")
    with store.engine.connect() as conn:
        rows = conn.execute(text(sql), {**params, "limit": limit}).all()
    return [RunCost(id=run_id, goal=goal, project=project, created=float(created), cost=float(cost),
                    calls=int(n), unpriced_calls=int(unpriced))
            for run_id, goal, project, created, n, _p, _c, cost, unpriced in rows]


__all__ = ["ORCHESTRATOR", "GroupBy", "RunCost", "UsageRow", "top_runs", "usage_by"]
