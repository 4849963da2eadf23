"""The run's budget: crossing it asks the person before any further model call."""

from __future__ import annotations

import pytest

from agents.approvals import Subject
from agents.events import ApprovalRequested, LLMCallFinished, TaskCancelled
from agents.llm.calls import RetryPolicy
from agents.llm.client import LiteLLMClient
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import Action, Decision
from agents.run.agent import ModelSettings
from agents.run.runner import Runner, RunOptions
from agents.run.state import TaskStatus
from agents.testing import FakeLLM, RecordingSink, ScriptedGate
from agents.tools.builtin import builtin_registry
from agents.tools.loop import ToolSetup
from tests.support.scripted_server import Reply


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
    [asked] = [e for e in sink.of(ApprovalRequested) if e.subject is Subject.BUDGET]
    assert asked.budget is not None and (asked.task, asked.tool) == (None, None)
    assert asked.budget.spent == pytest.approx(0.03) and asked.budget.limit == pytest.approx(0.025)
    assert asked.budget.step == pytest.approx(0.025)
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


# --- inside a task's tool loop ---------------------------------------------------------

# gpt-4o-mini is in litellm's price list: 1000 + 1000 tokens cost $0.00075 per call
PRICED = {"prompt_tokens": 1000, "completion_tokens": 1000}
LIST_FILES = {"name": "list_files", "arguments": {}}


def tool_runner(server, ws, gate, budget: float) -> tuple[Runner, RecordingSink, LiteLLMClient]:
    plan = Plan.from_dict({"goal": "g", "tasks": [{"id": "a", "title": "Look around", "agent": "coder"}]})
    llm, sink = LiteLLMClient(), RecordingSink()
    settings = ModelSettings(model="openai/gpt-4o-mini", api_base=server.base_url, api_key="sk-test-x")
    options = RunOptions(budget_usd=budget, synthesize=False, retry=RetryPolicy(max_attempts=1),
                         tools=ToolSetup(builtin_registry(), ws, max_steps=8))
    run = Runner(run_id="r", plan=plan, roster=load_roster(), llm=llm, settings=settings,
                 sink=sink, gate=gate, options=options)
    return run, sink, llm


def calls_before_the_question(sink: RecordingSink) -> int:
    """How many model calls had finished when the budget question came."""
    asked = next(i for i, e in enumerate(sink.events)
                 if isinstance(e, ApprovalRequested) and e.subject == "budget")
    return sum(isinstance(e, LLMCallFinished) for e in sink.events[:asked])


async def test_a_long_tool_loop_meets_the_budget_before_its_next_model_call(llm_server, tmp_path):
    llm_server.default = Reply("", tool_calls=(LIST_FILES,), **PRICED)  # never stops calling tools
    run, sink, llm = tool_runner(llm_server, tmp_path, ScriptedGate({"": Decision(Action.REJECT)}), 0.002)
    try:
        outcome = await run.run()
    finally:
        await llm.aclose()
    assert len(llm_server.chat_requests) == 3  # $0.00225 spent: the loop's fourth call was never made
    assert calls_before_the_question(sink) == 3
    assert outcome.status == "cancelled" and run.states["a"].status is TaskStatus.CANCELLED
    assert outcome.cost == pytest.approx(0.00225)


async def test_continuing_at_the_budget_lets_the_tool_loop_finish(llm_server, tmp_path):
    llm_server.enqueue(*[Reply("", tool_calls=(LIST_FILES,), **PRICED)] * 4, Reply("found it", **PRICED))
    gate = ScriptedGate()  # continue
    run, sink, llm = tool_runner(llm_server, tmp_path, gate, 0.002)
    try:
        outcome = await run.run()
    finally:
        await llm.aclose()
    assert outcome.status == "completed" and run.states["a"].output == "found it"
    assert [r.subject for r in gate.requests] == ["budget"] and calls_before_the_question(sink) == 3
    assert outcome.cost == pytest.approx(5 * 0.00075)  # each call counted once
    assert run.states["a"].cost == pytest.approx(5 * 0.00075)
