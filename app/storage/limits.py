"""A run's stored constraints (runs.budget_usd, runs.deadline) and a project's monthly
budget (projects.monthly_budget_usd, migration 0004), with what a project spent in a
calendar month (the sum of its runs' model calls, from llm_calls)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from agents.constraints import Constraints
from app.storage.db import writer_engine
from app.storage.projections import Sql
from app.storage.repository import Store


class UnknownProject(KeyError):
    """No project has this name."""


@dataclass(frozen=True)
class ProjectBudget:
    """A project, its monthly budget and what its runs spent this month."""

    name: str
    """The project's name."""
    monthly_budget_usd: float | None
    """US dollars per calendar month before new model calls ask; None: none."""
    spent: float
    """What its runs' model calls cost since the month began."""


def run_constraints(store: Store, run_id: str) -> Constraints:
    """The budget and deadline stored with the run; KeyError if there is no such run."""
    with store.engine.connect() as conn:
        rows = Sql(conn).rows("SELECT budget_usd, deadline FROM runs WHERE id = ?", (run_id,))
    if not rows:
        raise KeyError(run_id)
    budget, deadline = rows[0]
    return Constraints(budget_usd=budget, deadline=deadline)


def set_run_constraints(store: Store, run_id: str, constraints: Constraints) -> None:
    """Store the run's budget and deadline (None clears one)."""
    with writer_engine(store.engine).begin() as conn:
        count = Sql(conn).run("UPDATE runs SET budget_usd = ?, deadline = ? WHERE id = ?",
                              (constraints.budget_usd, constraints.deadline, run_id))
    if count == 0:
        raise KeyError(run_id)


def set_project_budget(store: Store, project: str, usd: float | None) -> None:
    """Set (None: remove) a project's monthly budget; UnknownProject if there is none by that name."""
    with writer_engine(store.engine).begin() as conn:
        count = Sql(conn).run("UPDATE projects SET monthly_budget_usd = ? WHERE name = ?", (usd, project))
    if count == 0:
        raise UnknownProject(project)


def project_budgets(store: Store, now: float | None = None) -> list[ProjectBudget]:
    """Every project, alphabetically, with its monthly budget and this month's spend."""
    since = month_start(now)
    with store.engine.connect() as conn:
        rows = Sql(conn).rows(
            "SELECT p.name, p.monthly_budget_usd, "
            "(SELECT coalesce(sum(c.cost), 0) FROM llm_calls c JOIN runs r ON r.id = c.run_id "
            " WHERE r.project_id = p.id AND c.ts >= ?) "
            "FROM projects p ORDER BY p.name", (since,))
    return [ProjectBudget(name, budget, float(spent)) for name, budget, spent in rows]


def project_budget(store: Store, project: str, now: float | None = None) -> ProjectBudget | None:
    """One project's budget and this month's spend; None when there is no such project."""
    since = month_start(now)
    with store.engine.connect() as conn:
        rows = Sql(conn).rows(
            "SELECT p.name, p.monthly_budget_usd, "
            "(SELECT coalesce(sum(c.cost), 0) FROM llm_calls c JOIN runs r ON r.id = c.run_id "
            " WHERE r.project_id = p.id AND c.ts >= ?) "
            "FROM projects p WHERE p.name = ?", (since, project))
    return ProjectBudget(rows[0][0], rows[0][1], float(rows[0][2])) if rows else None


def month_start(now: float | None = None) -> float:
    """When the current calendar month began, on this machine's clock (epoch seconds)."""
    local = time.localtime(now)
    return time.mktime((local.tm_year, local.tm_mon, 1, 0, 0, 0, 0, 0, -1))


def month_name(now: float | None = None) -> str:
    """The current month in words: "December 2026"."""
    return time.strftime("%B %Y", time.localtime(now))


__all__ = [
    "ProjectBudget", "UnknownProject", "month_name", "month_start", "project_budget", "project_budgets",
    "run_constraints", "set_project_budget", "set_run_constraints",
]
