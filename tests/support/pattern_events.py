"""Recorded-looking events of a run whose plan has every task pattern, for the window's tests.

The events are the ones agents/run/team.py emits (StepStarted/StepFinished/
StepFailed with its step keys, a conflict's ApprovalRequested), with times
spread out like a real run, so folding them (agents.run.state.fold) gives
the RunState a person would see mid-run.
"""

from __future__ import annotations

from agents.events import (
    RunEvent,
    RunStarted,
    StepFailed,
    StepFinished,
    StepStarted,
    SubtasksPlanned,
    TaskFinished,
    TaskSkipped,
    TaskStarted,
)
from agents.plan import Plan

RUN = "run-14"
T0 = 1_700_000_000.0


def every_pattern() -> Plan:
    return Plan.from_dict({"goal": "Choose a vector database for 50M documents", "tasks": [
        {"id": "sources", "title": "Sources", "agent": "researcher",
         "instructions": "List every vector database worth a look, one per line."},
        {"id": "notes", "title": "Notes per database", "agent": "researcher", "depends_on": ["sources"],
         "pattern": "map", "over": "sources", "max_items": 300},
        {"id": "pick", "title": "Pick the database", "agent": "analyst", "depends_on": ["notes"],
         "pattern": "vote", "voters": ["analyst", "researcher", "coder@gpt-4o"], "judge": "reviewer"},
        {"id": "risks", "title": "Argue the risks", "agent": "analyst", "depends_on": ["pick"],
         "pattern": "debate", "debaters": ["analyst", "coder"], "rounds": 2, "judge": "reviewer"},
        {"id": "kind", "title": "What kind of answer?", "agent": "analyst", "depends_on": ["risks"],
         "pattern": "route", "routes": {"memo": "memo", "code": "poc"}},
        {"id": "memo", "title": "Write the memo", "agent": "writer", "depends_on": ["kind"],
         "pattern": "review", "reviewer": "reviewer", "max_rounds": 3},
        {"id": "poc", "title": "Proof of concept", "agent": "coder", "depends_on": ["kind"]},
    ]})


def _finished(task_id: str, output: str, start: float, end: float) -> TaskFinished:
    return TaskFinished(run_id=RUN, ts=end, task_id=task_id, output=output, attempts=1, prompt_tokens=900,
                        completion_tokens=300, cost=0.004, started=start, finished=end)


def map_items(done: int, failed: int, total: int = 300, at: float = T0 + 4) -> list[RunEvent]:
    """The map task `notes`: every item started (waiting for a slot or running), some done, some failed."""
    events: list[RunEvent] = [TaskStarted(run_id=RUN, ts=at, task_id="notes", agent="researcher", attempt=1)]
    events += [StepStarted(run_id=RUN, ts=at, task_id="notes", step=f"item {i}", agent="researcher")
               for i in range(1, total + 1)]
    events += [StepFinished(run_id=RUN, ts=at + 0.05 * i, task_id="notes", step=f"item {i}", agent="researcher",
                            output=f"**Database {i}**: HNSW index, {i * 3} ms p99 at 10M vectors; "
                                   f"managed tier from ${i % 7 + 1}00/month.", cost=0.0004)
               for i in range(1, done + 1)]
    events += [StepFailed(run_id=RUN, ts=at + 11, task_id="notes", step=f"item {i}", agent="researcher",
                          error="the model did not answer within 60 s (idle timeout)")
               for i in range(done + 1, done + failed + 1)]
    return events


def map_in_progress(done: int = 212, failed: int = 3) -> list[RunEvent]:
    plan = every_pattern()
    return [RunStarted(run_id=RUN, ts=T0, goal=plan.goal, plan=plan.to_dict()),
            TaskStarted(run_id=RUN, ts=T0, task_id="sources", agent="researcher", attempt=1),
            _finished("sources", "\n".join(f"- Database {i}" for i in range(1, 301)), T0, T0 + 4),
            *map_items(done, failed)]


def step(task_id: str, key: str, agent: str, ts: float, output: str = "", note: str = "",
         running: bool = False) -> list[RunEvent]:
    started = StepStarted(run_id=RUN, ts=ts, task_id=task_id, step=key, agent=agent)
    if running:
        return [started]
    return [started, StepFinished(run_id=RUN, ts=ts + 3, task_id=task_id, step=key, agent=agent, output=output,
                                  note=note, cost=0.002)]


def team_at_work() -> list[RunEvent]:
    """The map done, then a vote, a debate and a route finished, and the memo's review in round 2."""
    events = map_in_progress(done=300, failed=0)
    t = T0 + 20
    events.append(_finished("notes", "(300 notes)", T0 + 4, t))
    events.append(TaskStarted(run_id=RUN, ts=t, task_id="pick", agent="analyst", attempt=1))
    for i, (who, answer) in enumerate((("analyst", "Qdrant"), ("researcher", "Qdrant"),
                                       ("coder@gpt-4o", "pgvector")), 1):
        events += step("pick", f"answer {i}", who, t, answer)
    events += step("pick", "judgement", "reviewer", t + 4, "WINNER: 1\nQdrant has the best latency at 50M.",
                   note="chose 1")
    events.append(_finished("pick", "Qdrant", t, t + 8))
    t += 8
    events.append(TaskStarted(run_id=RUN, ts=t, task_id="risks", agent="analyst", attempt=1))
    for round_ in (1, 2):
        for i, who in enumerate(("analyst", "coder"), 1):
            events += step("risks", f"round {round_} · {i}", who, t + 4 * round_,
                           f"{who}'s argument in round {round_}: lock-in matters more than latency.")
    events += step("risks", "judgement 2", "reviewer", t + 12, "WINNER: 1\nThe analyst weighed the costs.",
                   note="chose 1")
    events.append(_finished("risks", "Lock-in is the main risk.", t, t + 16))
    t += 16
    events.append(TaskStarted(run_id=RUN, ts=t, task_id="kind", agent="analyst", attempt=1))
    events += step("kind", "choice", "analyst", t, "memo\nThe person asked for a recommendation.",
                   note="chose memo")
    events.append(_finished("kind", "memo", t, t + 3))
    events.append(TaskSkipped(run_id=RUN, ts=t + 3, task_id="poc", reason="not chosen by “What kind of answer?”"))
    t += 3
    events.append(TaskStarted(run_id=RUN, ts=t, task_id="memo", agent="writer", attempt=1))
    events += step("memo", "draft 1", "writer", t, "# Recommendation\n\nUse Qdrant.")
    events += step("memo", "review 1", "reviewer", t + 4, "REVISE\nCite the latency numbers.", note="revise")
    events += step("memo", "draft 2", "writer", t + 8, running=True)
    return events


def delegated() -> Plan:
    return Plan.from_dict({"goal": "A report on penguins", "tasks": [
        {"id": "report", "title": "Penguin report", "agent": "writer", "pattern": "delegate",
         "max_subtasks": 4, "max_depth": 2},
        {"id": "publish", "title": "Publish it", "agent": "writer", "depends_on": ["report"]},
    ]})


SUB_PLAN = [
    {"id": "facts", "title": "Gather facts", "agent": "researcher", "depends_on": []},
    {"id": "draft", "title": "Draft the report", "agent": "writer", "depends_on": ["facts"],
     "pattern": "review", "reviewer": "reviewer", "max_rounds": 2},
    {"id": "check", "title": "Check the numbers", "agent": "analyst", "depends_on": [],
     "pattern": "delegate", "max_subtasks": 2},
]
NESTED_PLAN = [
    {"id": "weights", "title": "Check weights", "agent": "researcher", "depends_on": []},
    {"id": "counts", "title": "Check colony counts", "agent": "researcher", "depends_on": []},
]


def planned(within: str = "", tasks: list | None = None, ts: float = T0 + 3) -> SubtasksPlanned:
    return SubtasksPlanned(run_id=RUN, ts=ts, task_id="report", within=within,
                           tasks=SUB_PLAN if tasks is None else tasks)


def delegate_started() -> list[RunEvent]:
    """The manager has planned: its sub-tasks are known, none has a step yet."""
    plan = delegated()
    return [RunStarted(run_id=RUN, ts=T0, goal=plan.goal, plan=plan.to_dict()),
            TaskStarted(run_id=RUN, ts=T0, task_id="report", agent="writer", attempt=1),
            *step("report", "plan", "writer", T0, "(the sub-plan as JSON)"),
            planned()]


def delegate_at_work() -> list[RunEvent]:
    """Facts done, the draft in its review, the nested manager's two checks: one done, one failed."""
    return [*delegate_started(),
            *step("report", "sub facts", "researcher", T0 + 3, "Emperor penguins weigh 22-45 kg."),
            *step("report", "sub check · plan", "analyst", T0 + 3, "(the nested sub-plan)"),
            planned("sub check", NESTED_PLAN, T0 + 6),
            *step("report", "sub check · sub weights", "researcher", T0 + 6, "Weights hold."),
            StepStarted(run_id=RUN, ts=T0 + 6, task_id="report", step="sub check · sub counts",
                        agent="researcher"),
            StepFailed(run_id=RUN, ts=T0 + 10, task_id="report", step="sub check · sub counts",
                       agent="researcher", error="the model did not answer within 60 s"),
            *step("report", "sub draft · draft 1", "writer", T0 + 6, "# Penguins\n\nThey are birds."),
            *step("report", "sub draft · review 1", "reviewer", T0 + 9, running=True)]
