"""The run's budget: crossing it asks the person before any further model call."""

from __future__ import annotations

from agents.agent import ModelSettings
from agents.events import ApprovalRequested, TaskCancelled
from agents.plan import Plan
from agents.ports import Action, Decision
from agents.roster import load_roster
from agents.runner import Runner, RunOptions, TaskStatus
from agents.testing import FakeLLM, RecordingSink, ScriptedGate


def chain(n: int) -> Plan:
    tasks = [{"id": f"t{i}", "title": f"T{i}", "agent": "writer",
              "depends_on": [f"t{i - 1}"] if i else []} for i in range(n)]
    return Plan.from_dict({"goal": "g", "tasks": tasks})


def runner(plan: Plan, gate: ScriptedGate, budget: float, **options) -> tuple[Runner, FakeLLM, RecordingSink]:
    llm, sink = FakeLLM(cost_per_call=0.01), RecordingSink()
    run = Runner(run_id="r", plan=plan, roster=load_roster(), llm=llm, settings=ModelSettings(model="m"),
                 sink=sink, gate=gate, options=RunOptions(budget_usd=budget, **options))
    return run, llm, sink


async def test_rejecting_at_the_budget_stops_the_run_and_keeps_finished_work():
    gate = ScriptedGate({"": Decision(Action.REJECT)})
    run, llm, sink = runner(chain(4), gate, budget=0.025)
    outcome = await run.run()
    assert len(llm.requests) == 3  # $0.03 spent: the fourth call was never made
    assert outcome.status == "cancelled" and outcome.error == "stopped at the $0.0250 budget"
    assert [run.states[f"t{i}"].status for i in range(4)] == [TaskStatus.COMPLETED] * 3 + [TaskStatus.CANCELLED]
    [asked] = [e for e in sink.of(ApprovalRequested) if e.subject == "budget"]
    assert "$0.0300" in asked.details and "another $0.0250" in asked.details
    assert [e.task_id for e in sink.of(TaskCancelled)] == ["t3"]


async def test_approving_allows_as_much_again_and_asks_once_for_parallel_calls():
    gate = ScriptedGate()  # approves
    run, llm, sink = runner(chain(4), gate, budget=0.025)
    outcome = await run.run()
    assert outcome.status == "completed"
    assert len(llm.requests) == 5  # four tasks and the deliverable
    assert [r.subject for r in gate.requests] == ["budget"]  # at $0.03; the next limit is $0.055

    gate = ScriptedGate()
    wide = Plan.from_dict({"goal": "g", "tasks": [
        {"id": f"p{i}", "title": "P", "agent": "writer"} for i in range(6)]})
    run, llm, _ = runner(wide, gate, budget=0.015, max_parallel=2)
    assert (await run.run()).status == "completed"
    assert len(gate.requests) == len({r.request_id for r in gate.requests})
    assert 1 <= len(gate.requests) <= 3  # once per crossing, not once per waiting call


async def test_no_budget_means_no_question():
    gate = ScriptedGate()
    run, llm, _ = runner(chain(3), gate, budget=0.0)
    assert (await run.run()).status == "completed"
    assert gate.requests == []
