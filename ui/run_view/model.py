"""What the run view shows: the one fold of the run's events. Plain Python, no Qt.

`RunModel` wraps an `agents.run.state.RunState` (the fold the runner, the
plan tree and `troupe show` use too); its rows are the fold's TaskStates.
`apply(event)` folds one event in and says which parts of the view need a
refresh (`Change`), so a burst of events costs a few dict updates each.
The view's lifecycle is the fold's `RunStatus`, except that storage may
decide a run was interrupted (`status` can be set).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agents.events import RunEvent
from agents.run.state import Change, Counts, RunState, RunStatus, TaskState, TaskStatus

RETRYABLE = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.BLOCKED, TaskStatus.SKIPPED})
LIVE = frozenset({RunStatus.RUNNING, RunStatus.PAUSED})
"""Statuses in which bars grow and the clock ticks."""

TaskRow = TaskState
"""One task as the run view shows it: the fold's TaskState."""

__all__ = ["LIVE", "RETRYABLE", "Change", "RunModel", "TaskRow"]


class RunModel:
    """The view's handle on one RunState; `clear()` starts a fresh one."""

    def __init__(self) -> None:
        self.run = RunState()

    def clear(self) -> None:
        """Back to an empty, planned run (same model object: views keep their reference)."""
        revision = self.run.revision
        self.run = RunState(revision=revision + 1)

    def apply(self, event: RunEvent) -> frozenset[Change]:
        """Fold one event in; returns what it changed."""
        return self.run.apply(event)

    def load_plan(self, plan: Mapping[str, Any]) -> None:
        """Rows for every task of a Plan.to_dict(), keeping progress already known."""
        self.run.load_plan(plan)

    # --- reading (the fold's fields under the names the views use) ------------------

    @property
    def rows(self) -> dict[str, TaskState]:
        """Tasks by id, in plan order."""
        return self.run.tasks

    @property
    def status(self) -> RunStatus:
        return self.run.status

    @status.setter
    def status(self, status: RunStatus) -> None:
        """Storage's word on a stored run (interrupted) overrides the fold's."""
        if status is RunStatus.INTERRUPTED:
            self.run.interrupt()
        else:
            self.run.status = status

    @property
    def live(self) -> bool:
        return self.run.status in LIVE

    @property
    def started(self) -> float | None:
        return self.run.started

    @started.setter
    def started(self, ts: float | None) -> None:
        self.run.started = ts

    @property
    def finished(self) -> float | None:
        return self.run.finished

    @property
    def partial(self) -> bool:
        return self.run.partial

    @property
    def prompt_tokens(self) -> int:
        return self.run.prompt_tokens

    @property
    def tokens_estimated(self) -> bool:
        """Some calls' tokens were counted by Troupe, not reported by the provider."""
        return self.run.tokens_estimated

    @property
    def completion_tokens(self) -> int:
        return self.run.completion_tokens

    @property
    def total_tokens(self) -> int:
        return self.run.total_tokens

    @property
    def cost(self) -> float:
        return self.run.cost

    @property
    def cost_known(self) -> bool:
        return self.run.cost_known

    @property
    def warnings(self) -> list[str]:
        return self.run.warnings

    @property
    def revision(self) -> int:
        """Bumped whenever rows are added, removed or reordered."""
        return self.run.revision

    @property
    def last_ts(self) -> float | None:
        return self.run.last_ts

    def leaves(self) -> Iterable[TaskState]:
        return self.run.leaves()

    def counts(self) -> Counts:
        return self.run.counts()
