"""What a person asks of a run at intake: a budget and a deadline, and the project's
monthly budget the run counts against. Values only; the runner enforces them
(agents/run/runner.py), the edges parse and show them (app/constraints.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Constraints:
    """A run's own limits, set when its goal is given (stored with the run)."""

    budget_usd: float | None = None
    """US dollars this run may spend before it asks to go on; None: the settings' budget."""
    deadline: float | None = None
    """When the run should be done, epoch seconds; None: no deadline."""

    @property
    def empty(self) -> bool:
        return self.budget_usd is None and self.deadline is None

    def to_dict(self) -> dict[str, Any]:
        return {"budget_usd": self.budget_usd, "deadline": self.deadline}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Constraints:
        data = data or {}
        budget, deadline = data.get("budget_usd"), data.get("deadline")
        return cls(budget_usd=None if budget is None else float(budget),
                   deadline=None if deadline is None else float(deadline))


@dataclass(frozen=True)
class MonthlyBudget:
    """The project's budget for this calendar month, as the run starts."""

    project: str
    """The project's name."""
    limit: float
    """US dollars the project's runs may spend this month before new model calls ask."""
    spent_before: float
    """What the project's runs (this one's earlier calls included) spent this month
    before this start; the runner adds its own calls to it."""
    month: str = ""
    """The month in words ("December 2026"), for the question."""

    @property
    def step(self) -> float:
        """How much more this run may spend after the person says continue."""
        return self.limit / 10


__all__ = ["Constraints", "MonthlyBudget"]
