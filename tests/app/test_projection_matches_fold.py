"""The stored projections follow the one fold (agents.run.state): equal on recorded runs.

Real Runners (FakeLLM, ScriptedGate) write their events through a real
EventWriter into a real SQLite file; then, for every task, the `tasks` row
and `fold(stored events)` agree on status, attempts, output, error, tokens,
cost and times, and the `runs` row agrees on status, partial and totals. Every
prefix of each recorded stream is checked too: it is what a process killed
at that point leaves behind (tasks running, retrying, waiting for a person).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from agents.errors import ServerError
from agents.events import RunEvent, TaskBlocked, TaskRetried, event_from_dict
from agents.llm.calls import RetryPolicy
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import Action, Decision, LLMRequest
from agents.run.agent import ModelSettings
from agents.run.runner import PriorResult, Runner, RunOptions
from agents.run.state import RunState, RunStatus, TaskStatus, fold
from agents.testing import FakeLLM, ScriptedGate, last_user_message
from app.storage import EventWriter, Store

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)


def t(id: str, deps: tuple[str, ...] = (), approval: bool = False, children: tuple[dict, ...] = (),
      agent: str = "writer") -> dict[str, Any]:
    return {"id": id, "title": f"Title {id}", "agent": agent, "instructions": f"do {id}",
            "depends_on": list(deps), "requires_approval": approval, "children": list(children)}


def plan_of(*tasks: dict[str, Any]) -> Plan:
    return Plan.from_dict({"goal": "the goal", "tasks": list(tasks)})


class Tee:
    """The writer, then a hook that sees every event (to cancel mid-run)."""

    def __init__(self, writer: EventWriter, hook: Callable[[RunEvent], None]) -> None:
        self.writer, self.hook = writer, hook
        self.events: list[RunEvent] = []

    def emit(self, event: RunEvent) -> None:
        self.writer.emit(event)
        self.events.append(event)
        self.hook(event)


def script_with_failures(flaky_failures: int = 1) -> Any:
    """`flaky` fails `flaky_failures` times then answers; `bad` always fails; the rest answer."""
    failures = {"flaky": flaky_failures}

    def script(request: LLMRequest) -> str | ServerError:
        text = last_user_message(request)
        if "Your task (bad)" in text:
            return ServerError("boom", status=500)
        if "Your task (flaky)" in text and failures["flaky"] > 0:
            failures["flaky"] -= 1
            return ServerError("HTTP 503", status=503)
        return f"answer with {len(text) % 7} words"

    return script


async def record(store: Store, writer: EventWriter, plan: Plan, llm: FakeLLM, *, run_id: str | None = None,
                 gate: ScriptedGate | None = None, prior: dict[str, PriorResult] | None = None,
                 cancel_on: Callable[[RunEvent], bool] | None = None) -> str:
    """Run `plan` for real into the database (cancelled at the first event `cancel_on` accepts);
    returns the run id, after checking every prefix of what the run wrote."""
    earlier = stored_events(store, run_id) if run_id else []
    run_id = run_id or store.create_run("Fold", plan.goal, {"model": "fake/model"})
    runners: list[Runner] = []

    def cancel_when(event: RunEvent) -> None:
        if cancel_on is not None and cancel_on(event):
            runners[0].cancel()

    tee = Tee(writer, cancel_when)
    runner = Runner(run_id=run_id, plan=plan, roster=load_roster(), llm=llm,
                    settings=ModelSettings(model="fake/model"), sink=tee,
                    gate=gate or ScriptedGate(), options=RunOptions(retry=FAST_RETRY), prior=prior)
    runners.append(runner)
    await runner.run()
    assert writer.flush() and not writer.errors
    for cut in range(1, len(tee.events)):
        check_prefix(store, writer, plan.goal, [*earlier, *tee.events[:cut]])
    return run_id


def check_prefix(store: Store, writer: EventWriter, goal: str, events: list[RunEvent]) -> None:
    """What a process killed after `events` leaves in storage is their fold."""
    run_id = store.create_run("Fold", goal, {"model": "fake/model"})
    for event in events:
        writer.emit(replace(event, run_id=run_id))
    assert writer.flush() and not writer.errors
    assert_projection_is_the_fold(store, run_id)


def stored_events(store: Store, run_id: str) -> list[RunEvent]:
    return [event_from_dict({k: v for k, v in e.items() if k != "seq"}) for e in store.events(run_id)]


def stored_fold(store: Store, run_id: str) -> RunState:
    return fold(stored_events(store, run_id))


def assert_projection_is_the_fold(store: Store, run_id: str) -> RunState:
    state = stored_fold(store, run_id)
    run = store.get_run(run_id)
    rows = {row.task_id: row for row in run.tasks}
    assert list(rows) == list(state.tasks), "the same tasks in the same order"
    for tid, task in state.tasks.items():
        row = rows[tid]
        stored = (row.status, row.attempts, row.output or "", row.error or "", row.prompt_tokens,
                  row.completion_tokens, row.cost, row.started, row.finished)
        folded = (task.status.value, task.attempts, task.output, task.error, task.prompt_tokens,
                  task.completion_tokens, pytest.approx(task.cost), task.started, task.finished)
        assert stored == folded, tid
    assert run.status == state.status.value
    assert run.partial == state.partial
    assert [r.partial for r in store.list_runs() if r.id == run_id] == [state.partial]
    assert (run.prompt_tokens, run.completion_tokens) == (state.prompt_tokens, state.completion_tokens)
    assert run.cost == pytest.approx(state.cost)
    return state


async def test_groups_retries_failures_and_blocked_tasks(store: Store, writer: EventWriter) -> None:
    plan = plan_of(
        t("grp", children=(t("x", agent="researcher"), t("y", agent="researcher"))),
        t("flaky", agent="coder"),
        t("bad"),
        t("after_bad", deps=("bad",)),
        t("report", deps=("grp", "flaky")),
    )
    llm = FakeLLM(script_with_failures(), cost_per_call=0.0015)
    run_id = await record(store, writer, plan, llm)
    state = assert_projection_is_the_fold(store, run_id)
    tasks = state.tasks
    assert state.status is RunStatus.FAILED
    assert tasks["flaky"].status is TaskStatus.COMPLETED and tasks["flaky"].attempts == 2
    assert tasks["bad"].status is TaskStatus.FAILED and tasks["bad"].attempts == 3
    assert tasks["after_bad"].status is TaskStatus.BLOCKED and tasks["after_bad"].error == "bad did not complete"
    assert tasks["grp"].source == "group" and tasks["report"].status is TaskStatus.COMPLETED


async def test_every_approval_answer(store: Store, writer: EventWriter) -> None:
    plan = plan_of(
        t("ok", approval=True),
        t("edited", approval=True),
        t("rejected", approval=True),
        t("overridden", approval=True),
        t("after_reject", deps=("rejected",)),
        t("free"),
    )
    gate = ScriptedGate({
        "edited": Decision(Action.EDIT, "do it differently"),
        "rejected": Decision(Action.REJECT, "off topic"),
        "overridden": Decision(Action.OVERRIDE, "my own output"),
    })
    run_id = await record(store, writer, plan, FakeLLM(cost_per_call=0.001), gate=gate)
    state = assert_projection_is_the_fold(store, run_id)
    tasks = state.tasks
    assert tasks["rejected"].status is TaskStatus.SKIPPED and "off topic" in tasks["rejected"].error
    assert tasks["overridden"].output == "my own output" and tasks["overridden"].source == "override"
    assert tasks["edited"].approval is Action.EDIT and tasks["edited"].status is TaskStatus.COMPLETED


async def test_a_rejected_task_makes_the_run_partial_until_it_runs_again(
        store: Store, writer: EventWriter) -> None:
    plan = plan_of(t("kept"), t("rejected", approval=True), t("after", deps=("rejected",)))
    gate = ScriptedGate({"rejected": Decision(Action.REJECT, "not needed")})
    run_id = await record(store, writer, plan, FakeLLM(), gate=gate)
    first = assert_projection_is_the_fold(store, run_id)
    assert first.status is RunStatus.COMPLETED and first.partial
    assert store.get_run(run_id).partial and store.list_runs()[0].partial
    # started again: not partial while it runs, nor once it ends with every task done
    events = stored_events(store, run_id)
    await record(store, writer, plan, FakeLLM(), run_id=run_id)
    again = assert_projection_is_the_fold(store, run_id)
    assert again.status is RunStatus.COMPLETED and not again.partial
    assert not store.get_run(run_id).partial
    restarted = stored_events(store, run_id)[:len(events) + 1]
    assert type(restarted[-1]).__name__ == "RunStarted"
    assert not fold(restarted).partial  # running again; storage agrees (compared in check_prefix)
    check_prefix(store, writer, plan.goal, restarted)


async def test_a_cancelled_run(store: Store, writer: EventWriter) -> None:
    """Cancelled while `flaky` waits to retry: its retry error goes with it."""
    plan = plan_of(t("first"), t("second", deps=("first",)), t("flaky"),
                   t("grp", children=(t("g1", deps=("second",)), t("g2", deps=("first",)))))

    def flaky_retried(event: RunEvent) -> bool:
        return isinstance(event, TaskRetried) and event.task_id == "flaky"

    llm = FakeLLM(script_with_failures(flaky_failures=5), latency=0.01, cost_per_call=0.002)
    run_id = await record(store, writer, plan, llm, cancel_on=flaky_retried)
    state = assert_projection_is_the_fold(store, run_id)
    assert state.status is RunStatus.CANCELLED
    assert state.tasks["flaky"].status is TaskStatus.CANCELLED and not state.tasks["flaky"].error
    assert state.tasks["g1"].status is TaskStatus.CANCELLED


async def test_a_resume_keeps_finished_work_and_a_new_start_forgets_it(store: Store, writer: EventWriter) -> None:
    plan = plan_of(t("grp", children=(t("x"), t("y"))), t("flaky"), t("after", deps=("flaky",)))
    llm = FakeLLM(script_with_failures(flaky_failures=5), cost_per_call=0.001)
    run_id = await record(store, writer, plan, llm)
    first = assert_projection_is_the_fold(store, run_id)
    assert first.tasks["flaky"].status is TaskStatus.FAILED
    # resume: the finished tasks are kept (from storage), the rest run again, now successfully
    prior = {tid: PriorResult(f.output, f.attempts) for tid, f in store.finished_task_outputs(run_id).items()}
    await record(store, writer, plan, FakeLLM(cost_per_call=0.001), run_id=run_id, prior=prior)
    resumed = assert_projection_is_the_fold(store, run_id)
    assert resumed.status is RunStatus.COMPLETED and resumed.tasks["x"].source == "model"
    assert resumed.tasks["flaky"].status is TaskStatus.COMPLETED
    # a fresh start of the same run (no prior results): every task runs again
    await record(store, writer, plan, FakeLLM(script_with_failures(), cost_per_call=0.001), run_id=run_id)
    again = assert_projection_is_the_fold(store, run_id)
    assert again.tasks["flaky"].attempts == 2


async def test_the_check_fails_when_a_rule_differs(store: Store, writer: EventWriter, monkeypatch) -> None:
    """Change one storage rule (blocked tasks' text): the comparison notices."""
    from app.storage import projections

    def old_rule(db: projections.Sql, e: Any, owner: Any) -> None:
        projections._update_task(db, e.run_id, e.task_id, {"status": "blocked", "error": e.because,
                                                            "finished": e.ts})

    monkeypatch.setitem(projections.HANDLERS, TaskBlocked, old_rule)
    with pytest.raises(AssertionError, match="after"):
        await record(store, writer, plan_of(t("bad"), t("after", deps=("bad",))), FakeLLM(script_with_failures()))


async def test_patterns_with_a_conflict_and_a_route(store: Store, writer: EventWriter) -> None:
    """A review never approved (a conflict the person answers mid-task), a vote, a route."""
    def answer(request: LLMRequest) -> str:
        text = last_user_message(request)
        if "The draft to review" in text:
            return "REVISE\nmore facts"
        if "Choose exactly one of these routes" in text:
            return "prose\nan essay"
        return "an answer"

    plan = Plan.from_dict({"goal": "the goal", "tasks": [
        {"id": "essay", "title": "Essay", "agent": "writer", "pattern": "review", "reviewer": "reviewer",
         "max_rounds": 1},
        {"id": "q", "title": "Q", "agent": "analyst", "pattern": "vote", "samples": 2},
        {"id": "pick", "title": "Pick", "agent": "analyst", "pattern": "route",
         "routes": {"code": "build", "prose": "write"}},
        {"id": "build", "title": "Build", "agent": "coder", "depends_on": ["pick"]},
        {"id": "write", "title": "Write", "agent": "writer", "depends_on": ["pick"]},
    ]})
    gate = ScriptedGate({"essay": Decision(Action.PICK, "1")})
    run_id = await record(store, writer, plan, FakeLLM(answer), gate=gate)
    state = assert_projection_is_the_fold(store, run_id)
    assert state.tasks["essay"].status is TaskStatus.COMPLETED
    assert state.tasks["build"].status is TaskStatus.SKIPPED
