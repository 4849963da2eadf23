"""Builders of plans and realistic event sequences for the storage tests."""

from __future__ import annotations

from typing import Any

from agents import events as ev
from agents.approvals import TaskQuestion
from app.storage import EventWriter


def task(id: str, title: str, agent: str = "writer", **extra: Any) -> dict[str, Any]:
    """A task dict in Plan.to_dict() form."""
    base: dict[str, Any] = {
        "id": id,
        "title": title,
        "instructions": f"Do {title.lower()}.",
        "agent": agent,
        "depends_on": [],
        "requires_approval": False,
        "children": [],
    }
    base.update(extra)
    return base


def sample_plan(goal: str = "Write a report on penguins") -> dict[str, Any]:
    """research (group: r1, r2) -> analyse -> risky (approval); flaky -> report."""
    return {
        "goal": goal,
        "tasks": [
            task(
                "research",
                "Research",
                "researcher",
                children=[
                    task("r1", "Find colonies", "researcher"),
                    task("r2", "Find diets", "researcher"),
                ],
            ),
            task("analyse", "Analyse", "analyst", depends_on=["research"]),
            task("risky", "Publish", "coder", depends_on=["analyse"], requires_approval=True),
            task("flaky", "Fetch charts", "coder"),
            task("report", "Write report", "writer", depends_on=["flaky"]),
        ],
    }


def finished(run_id: str, task_id: str, output: str, **kw: Any) -> ev.TaskFinished:
    values: dict[str, Any] = dict(
        attempts=1, prompt_tokens=10, completion_tokens=20, cost=0.01, started=100.0, finished=101.0
    )
    values.update(kw)
    return ev.TaskFinished(run_id=run_id, task_id=task_id, output=output, **values)


def call(run_id: str, task_id: str, purpose: str = "task", **kw: Any) -> ev.LLMCallFinished:
    values: dict[str, Any] = dict(
        model="openai/gpt-4o-mini",
        prompt_tokens=10,
        completion_tokens=20,
        cost=0.01,
        cost_known=True,
        latency_ms=12.5,
    )
    values.update(kw)
    return ev.LLMCallFinished(run_id=run_id, task_id=task_id, purpose=purpose, **values)


def first_half(run_id: str, plan: dict[str, Any]) -> list[ev.RunEvent]:
    """Planning, the research group, a retry, a failure and a blocked task."""
    edited = {**plan, "tasks": [*plan["tasks"]]}
    return [
        ev.PlanProposed(run_id=run_id, plan=plan),
        call(run_id, "", "plan"),
        ev.PlanEdited(run_id=run_id, plan=edited, note="nothing really"),
        ev.RunStarted(run_id=run_id, goal=plan["goal"], plan=edited),
        ev.TokenDelta(run_id=run_id, task_id="r1", text="Peng"),
        ev.TaskStarted(run_id=run_id, task_id="r1", agent="researcher", attempt=1),
        call(run_id, "r1"),
        finished(run_id, "r1", "Emperor penguins huddle in colonies"),
        ev.TaskStarted(run_id=run_id, task_id="r2", agent="researcher", attempt=1),
        ev.TaskRetried(run_id=run_id, task_id="r2", attempt=1, error="rate limited", delay=0.1),
        ev.TaskStarted(run_id=run_id, task_id="r2", agent="researcher", attempt=2),
        call(run_id, "r2"),
        finished(run_id, "r2", "They eat krill and fish", attempts=2),
        finished(run_id, "research", "both", source="group", prompt_tokens=0, cost=0.0),
        ev.TaskStarted(run_id=run_id, task_id="flaky", agent="coder", attempt=1),
        call(
            run_id,
            "flaky",
            ok=False,
            error="HTTP 500",
            cost=0.0,
            prompt_tokens=0,
            completion_tokens=0,
        ),
        ev.TaskFailed(run_id=run_id, task_id="flaky", error="HTTP 500", attempts=1),
        ev.TaskBlocked(run_id=run_id, task_id="report", because="flaky"),
        ev.TaskStarted(run_id=run_id, task_id="analyse", agent="analyst", attempt=1),
        call(run_id, "analyse"),
        finished(run_id, "analyse", "Colonies shrink as sea ice melts"),
        ev.ApprovalRequested(
            run_id=run_id,
            request_id="req-1",
            task_id="risky",
            subject="task",
            title="Publish",
            task=TaskQuestion(agent="writer", instructions="Do publish."),
        ),
    ]


def second_half(run_id: str) -> list[ev.RunEvent]:
    return [
        ev.ApprovalResolved(
            run_id=run_id,
            request_id="req-1",
            task_id="risky",
            action="edit",
            text="Publish as a draft.",
        ),
        ev.TaskStarted(run_id=run_id, task_id="risky", agent="coder", attempt=1),
        call(run_id, "risky"),
        finished(run_id, "risky", "Draft published"),
        call(run_id, "", "synthesis"),
        ev.DeliverableReady(run_id=run_id, markdown="# Penguins\n\nA waddle of findings."),
        ev.RunFinished(
            run_id=run_id,
            status="failed",
            prompt_tokens=60,
            completion_tokens=120,
            cost=0.06,
            error="1 task failed",
        ),
    ]


def emit_all(writer: EventWriter, events: list[ev.RunEvent]) -> None:
    for event in events:
        writer.emit(event)
    assert writer.flush(5)
    assert writer.errors == []
