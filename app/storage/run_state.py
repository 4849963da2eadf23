"""A stored run as the one fold of its events (agents.run.state).

`troupe show`, its `--json` and the exports read a run's task statuses,
attempts, outputs and totals from here, not from the projection tables,
which follow the same rules (tests/app/test_projection_matches_fold.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.events import RunEvent, event_from_dict
from agents.run.state import RunState, RunStatus, fold

if TYPE_CHECKING:
    from app.storage.records import RunDetail
    from app.storage.repository import Store


def stored_events(store: Store, run_id: str) -> list[RunEvent]:
    """The run's stored events, rebuilt."""
    return [event_from_dict({k: v for k, v in row.items() if k != "seq"}) for row in store.events(run_id)]


def stored_run_state(store: Store, run: RunDetail) -> RunState:
    """The fold of the run's events; a run that never started shows its latest plan's tasks.

    Storage alone knows that a run's process ended mid-run: its status
    "interrupted" overrides the fold's (which still says running or paused).
    """
    state = fold(stored_events(store, run.id))
    if state.status is RunStatus.PLANNED:
        latest = store.latest_plan(run.id)
        if latest is not None:
            state.load_plan(latest.plan)
    if run.status == RunStatus.INTERRUPTED:
        state.interrupt()
    return state
