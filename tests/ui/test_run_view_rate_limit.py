"""The run view while a task waits for its provider's rate limiter (issue 15): its status
says "Waiting for <provider> rate limit", not "Running", and its time waiting is not in
its duration."""

from __future__ import annotations

import pytest

from agents.events import (
    RateLimitWaited,
    RateLimitWaiting,
    RunStarted,
    TaskFinished,
    TaskStarted,
)
from agents.run.state import TaskStatus
from ui.plan_tree.runtime import status_text
from ui.run_view import RunView

RUN, T0 = "run-1", 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def view(qtbot, clock: Clock) -> RunView:
    widget = RunView(clock=clock)
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    return widget


def test_a_waiting_task_shows_whom_it_waits_for_and_its_wait_is_not_its_duration(view, clock) -> None:
    the_plan = {"goal": "g", "tasks": [{"id": "a", "title": "Title a", "agent": "writer"}]}
    view.apply_event(RunStarted(run_id=RUN, ts=T0, goal="g", plan=the_plan))
    view.apply_event(TaskStarted(run_id=RUN, ts=T0 + 1, task_id="a", agent="writer", attempt=1))
    view.select_task("a")
    view.flush()
    assert "Running" in view.output.status.text()
    view.apply_event(RateLimitWaiting(run_id=RUN, ts=T0 + 1, task_id="a", provider="work",
                                      reason="5 calls in flight, its limit"))
    view.flush()
    clock.now = T0 + 4
    row = view.model.rows["a"]
    assert row.status is TaskStatus.RUNNING and row.waiting_for == "work"
    assert "Waiting for work rate limit" in view.output.status.text()
    assert "Running" not in view.output.status.text()
    assert "Waiting for work rate limit" in view.timeline.tooltip_for("a")
    assert status_text(row) == "waiting for work rate limit"  # the plan tree's status cell
    view.apply_event(RateLimitWaited(run_id=RUN, ts=T0 + 6, task_id="a", provider="work", seconds=5))
    view.flush()
    assert "Running" in view.output.status.text() and status_text(row) == "running"
    view.apply_event(TaskFinished(run_id=RUN, ts=T0 + 8, task_id="a", output="out", attempts=1,
                                  prompt_tokens=1, completion_tokens=1, cost=0.0, started=T0 + 1,
                                  finished=T0 + 8, waited=5.0))
    view.flush()
    assert row.duration(clock.now) == 2.0
    assert "took 0:02 (+0:05 waiting for rate limits)" in view.timeline.tooltip_for("a")
    assert "Done" in view.output.status.text()
