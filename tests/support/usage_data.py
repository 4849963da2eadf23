"""Recorded spending for the usage tests: runs in three projects over a few days,
written through the real EventWriter (so llm_calls and tasks are the projections'),
with priced, free (on this machine) and unpriced calls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from agents import events as ev
from app.storage import EventWriter, Store
from tests.app.storage_events import call, task


def local_ts(day: dt.date, hour: int = 12, minute: int = 0) -> float:
    """Seconds since the epoch of a local time on `day`."""
    return dt.datetime.combine(day, dt.time(hour, minute)).timestamp()


@dataclass(frozen=True)
class Seeded:
    """The ids of the seeded runs and the days they spent on."""

    report: str
    """Project Alpha: planner, researcher, writer and synthesis calls on two days ($0.10 in all)."""
    local: str
    """Project Local: two calls to a model on this machine (free)."""
    mystery: str
    """Project Mystery: one priced call ($0.05) and two the price of which is unknown."""
    old: str
    """Project Alpha, 60 days ago: $1.00 (outside the last 30 days)."""
    today: dt.date
    """The day the data is relative to."""


def _run(store: Store, writer: EventWriter, project: str, goal: str,
         agents: dict[str, str]) -> str:
    run_id = store.create_run(project, goal)
    plan = {"goal": goal, "tasks": [task(tid, tid.title(), agent) for tid, agent in agents.items()]}
    writer.emit(ev.RunStarted(run_id=run_id, goal=goal, plan=plan))
    return run_id


def seed_usage(store: Store, today: dt.date | None = None) -> Seeded:
    """Three runs in the last two days and one two months ago."""
    today = today or dt.date.today()
    yesterday, long_ago = today - dt.timedelta(days=1), today - dt.timedelta(days=60)
    writer = EventWriter(store)
    try:
        report = _run(store, writer, "Alpha", "Write a report on penguins",
                      {"research": "researcher", "write": "writer"})
        for event in (
            call(report, "", "plan", cost=0.01, ts=local_ts(yesterday, 9)),
            call(report, "research", cost=0.02, prompt_tokens=100, completion_tokens=50,
                 ts=local_ts(yesterday, 10)),
            call(report, "research", cost=0.03, ts=local_ts(today, 8)),
            call(report, "write", cost=0.03, model="anthropic/claude-3-5-haiku-latest",
                 ts=local_ts(today, 9)),
            call(report, "", "synthesis", cost=0.01, ts=local_ts(today, 10)),
        ):
            writer.emit(event)
        local = _run(store, writer, "Local", "Summarise my notes", {"sum": "writer"})
        for hour in (11, 12):
            writer.emit(call(local, "sum", model="openai/llama3.2", cost=0.0, ts=local_ts(today, hour)))
        mystery = _run(store, writer, "Mystery", "Translate the manual", {"tr": "translator"})
        writer.emit(call(mystery, "tr", model="openai/gpt-4o-mini", cost=0.05, ts=local_ts(today, 13)))
        for hour in (14, 15):
            writer.emit(call(mystery, "tr", model="openai/mystery-1", cost=0.0, cost_known=False,
                             ts=local_ts(today, hour)))
        old = _run(store, writer, "Alpha", "An old essay", {"essay": "writer"})
        writer.emit(call(old, "essay", cost=1.0, ts=local_ts(long_ago)))
        assert writer.flush()
    finally:
        writer.close()
    return Seeded(report, local, mystery, old, today)
