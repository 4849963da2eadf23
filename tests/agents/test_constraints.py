"""A run's intake constraints in the core: its own budget (instead of the settings'),
the project's monthly budget, and the deadline (warned of when missed at this pace,
asked about when it comes; stopping writes up what finished, as a partial result)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from agents.approvals import BudgetScope, Subject
from agents.constraints import Constraints, MonthlyBudget
from agents.events import ConstraintsSet, DeliverableReady, RunWarning
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import Action, ApprovalRequest, Decision, Delta, LLMRequest
from agents.run.agent import ModelSettings
from agents.run.runner import Runner, RunOptions
from agents.run.state import TaskStatus
from agents.testing import FakeLLM, RecordingSink, last_user_message


class SubjectGate:
    """Answers by the question's subject (approve when not listed); keeps what it was asked."""

    def __init__(self, **answers: Decision) -> None:
        self.answers = answers
        self.requests: list[ApprovalRequest] = []

    async def decide(self, request: ApprovalRequest) -> Decision:
        self.requests.append(request)
        return self.answers.get(request.subject.value, Decision(Action.APPROVE))


class SlowFor(FakeLLM):
    """A FakeLLM whose answers for the named tasks take `delay` seconds."""

    def __init__(self, slow: set[str], delay: float, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.slow, self.delay = slow, delay

    async def stream(self, request: LLMRequest) -> AsyncIterator[Delta]:
        if any(f"Your task ({tid})" in last_user_message(request) for tid in self.slow):
            await asyncio.sleep(self.delay)
        async for delta in super().stream(request):
            yield delta


def chain(n: int) -> Plan:
    tasks = [{"id": f"t{i}", "title": f"T{i}", "agent": "writer",
              "depends_on": [f"t{i - 1}"] if i else []} for i in range(n)]
    return Plan.from_dict({"goal": "g", "tasks": tasks})


def make(plan: Plan, gate: SubjectGate, llm: FakeLLM | None = None, **options) -> tuple[Runner, FakeLLM, RecordingSink]:
    llm, sink = llm or FakeLLM(cost_per_call=0.01), RecordingSink()
    run = Runner(run_id="r", plan=plan, roster=load_roster(), llm=llm, settings=ModelSettings(model="m"),
                 sink=sink, gate=gate, options=RunOptions(**options))
    return run, llm, sink


async def test_the_intake_budget_replaces_the_settings_one_and_is_announced():
    gate = SubjectGate(budget=Decision(Action.REJECT))
    run, llm, sink = make(chain(4), gate, budget_usd=5.0, constraints=Constraints(budget_usd=0.025))
    outcome = await run.run()
    assert len(llm.requests) == 3 and outcome.error == "stopped at the $0.0250 budget"
    [asked] = gate.requests
    assert asked.budget is not None and asked.budget.scope is BudgetScope.RUN
    assert asked.budget.limit == pytest.approx(0.025)
    [announced] = sink.of(ConstraintsSet)
    assert (announced.budget_usd, announced.deadline) == (0.025, None)
    assert run.state.budget_usd == 0.025


async def test_the_run_budget_counts_what_the_run_spent_before_this_start():
    gate = SubjectGate(budget=Decision(Action.REJECT))
    run, llm, _ = make(chain(3), gate, constraints=Constraints(budget_usd=0.025), spent_before=0.02)
    await run.run()
    assert len(llm.requests) == 1  # $0.02 before + $0.01: spent
    assert gate.requests[0].budget is not None
    assert gate.requests[0].budget.spent == pytest.approx(0.03)


async def test_the_projects_monthly_budget_pauses_and_asks_in_its_own_words():
    gate = SubjectGate(budget=Decision(Action.REJECT))
    monthly = MonthlyBudget(project="Acme", limit=1.0, spent_before=0.995, month="December 2026")
    run, llm, _ = make(chain(3), gate, monthly=monthly)
    outcome = await run.run()
    assert len(llm.requests) == 1
    [asked] = gate.requests
    assert asked.subject is Subject.BUDGET and asked.budget is not None
    assert asked.budget.scope is BudgetScope.PROJECT_MONTH
    assert (asked.budget.project, asked.budget.month) == ("Acme", "December 2026")
    assert asked.budget.spent == pytest.approx(1.005) and asked.budget.step == pytest.approx(0.1)
    assert asked.title == "Project “Acme” has spent its $1.00 monthly budget for December 2026"
    assert outcome.status == "cancelled" and outcome.error == "stopped at the project's $1.00 monthly budget"


async def test_continuing_past_the_monthly_budget_allows_a_tenth_more():
    gate = SubjectGate()
    run, llm, _ = make(chain(4), gate, monthly=MonthlyBudget("Acme", limit=1.0, spent_before=1.0))
    assert (await run.run()).status == "completed"
    assert len(llm.requests) == 5  # four tasks and the deliverable: $0.05, within the $0.10 allowed
    assert len(gate.requests) == 1  # asked before the first call


async def test_stopping_at_the_deadline_writes_up_what_finished_as_partial():
    # a is quick; b is still running at the deadline; c needs b
    plan = Plan.from_dict({"goal": "g", "tasks": [
        {"id": "a", "title": "A", "agent": "writer"},
        {"id": "b", "title": "B", "agent": "writer"},
        {"id": "c", "title": "C", "agent": "writer", "depends_on": ["b"]}]})
    gate = SubjectGate(deadline=Decision(Action.REJECT))
    llm = SlowFor({"b"}, 30.0)
    run, llm, sink = make(plan, gate, llm, constraints=Constraints(deadline=time.time() + 0.4))
    outcome = await asyncio.wait_for(run.run(), 10)
    assert outcome.status == "completed" and outcome.partial
    assert outcome.error == f"stopped at the deadline ({time.strftime('%H:%M', time.localtime(run.state.deadline))})"
    assert {t: run.states[t].status for t in "abc"} == {
        "a": TaskStatus.COMPLETED, "b": TaskStatus.CANCELLED, "c": TaskStatus.BLOCKED}
    [asked] = gate.requests
    assert asked.subject is Subject.DEADLINE and asked.deadline is not None
    assert (asked.deadline.done, asked.deadline.total, asked.deadline.running) == (1, 3, 1)
    synthesis = last_user_message(llm.requests[-1])
    assert "not done by the deadline" in synthesis
    assert sink.of(DeliverableReady)[0].partial


async def test_continuing_at_the_deadline_with_a_new_one_asks_again_then_without_one_finishes():
    gate = SubjectGate()
    answers = iter([Decision(Action.EDIT, str(time.time() + 0.3)), Decision(Action.APPROVE)])

    async def decide(request: ApprovalRequest) -> Decision:
        gate.requests.append(request)
        return next(answers) if request.subject is Subject.DEADLINE else Decision(Action.APPROVE)

    gate.decide = decide  # type: ignore[method-assign]
    llm = FakeLLM(latency=0.25)
    run, _, sink = make(chain(4), gate, llm, constraints=Constraints(deadline=time.time() + 0.2))
    outcome = await asyncio.wait_for(run.run(), 10)
    assert outcome.status == "completed" and not outcome.partial
    assert [r.subject for r in gate.requests] == [Subject.DEADLINE, Subject.DEADLINE]
    assert [e.reason for e in sink.of(ConstraintsSet)] == ["", "a new deadline", "no deadline"]
    assert run.state.deadline is None


async def test_a_deadline_the_run_will_miss_at_this_pace_is_warned_of_once():
    gate = SubjectGate()
    run, _, sink = make(chain(4), gate, FakeLLM(latency=0.15), constraints=Constraints(deadline=time.time() + 60))
    await run.run()
    assert not sink.of(RunWarning)  # 4 x 0.15 s: well in time

    run, _, sink = make(chain(4), gate, FakeLLM(latency=0.15), constraints=Constraints(deadline=time.time() + 0.25))
    await asyncio.wait_for(run.run(), 10)
    [warning] = sink.of(RunWarning)
    assert warning.source == "deadline" and "at this pace the run needs about" in warning.message
    assert "3 unfinished task(s)" in warning.message


async def test_a_deadline_question_no_one_can_answer_stops_there_and_says_why():
    from agents.errors import ApprovalError

    class Mute(SubjectGate):
        async def decide(self, request: ApprovalRequest) -> Decision:
            raise ApprovalError("no answer on standard input")

    plan = Plan.from_dict({"goal": "g", "tasks": [{"id": "a", "title": "A", "agent": "writer"},
                                                  {"id": "b", "title": "B", "agent": "writer"}]})
    run, _, sink = make(plan, Mute(), SlowFor({"b"}, 30.0), constraints=Constraints(deadline=time.time() + 0.3))
    outcome = await asyncio.wait_for(run.run(), 10)
    assert outcome.status == "completed" and outcome.partial
    [warning] = [w for w in sink.of(RunWarning) if w.source == "deadline"]
    assert warning.message == "the deadline question got no answer (no answer on standard input); stopped there"
