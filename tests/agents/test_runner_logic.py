"""The runner's scheduling and approval logic, with an in-process fake model.

The same behaviours are exercised over HTTP through litellm in
test_runner_http.py; these run in milliseconds and cover the corners.
"""

import asyncio

import pytest

from agents.errors import AuthError, PlannerError, ServerError
from agents.events import (
    ApprovalRequested,
    DeliverableReady,
    PlanRejectedByModel,
    RunFinished,
    TaskBlocked,
    TaskFinished,
    TaskRetried,
    TaskSkipped,
)
from agents.llm.calls import CallContext, RetryPolicy
from agents.plan import Plan
from agents.plan.planner import Planner
from agents.plan.roster import load_roster
from agents.ports import Action, Decision
from agents.run.agent import ModelSettings
from agents.run.runner import PriorResult, Runner, RunOptions
from agents.run.state import TaskStatus
from agents.testing import FakeLLM, RecordingSink, ScriptedGate, last_user_message, route

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)


def plan_of(*tasks):
    return Plan.from_dict({"goal": "the goal", "tasks": list(tasks)})


def t(id, deps=(), approval=False, children=(), agent="writer", instructions=""):
    return {"id": id, "title": f"Title {id}", "agent": agent, "instructions": instructions or f"do {id}",
            "depends_on": list(deps), "requires_approval": approval, "children": list(children)}


def runner_for(plan, llm, gate=None, prior=None, **options):
    sink = RecordingSink()
    runner = Runner(
        run_id="r1", plan=plan, roster=load_roster(), llm=llm,
        settings=ModelSettings(model="fake/model"), sink=sink, gate=gate or ScriptedGate(),
        options=RunOptions(retry=FAST_RETRY, **options), prior=prior,
    )
    return runner, sink


def task_requests(llm, task_id):
    return [r for r in llm.requests if f"Your task ({task_id})" in last_user_message(r)]


async def test_dependency_gets_only_its_inputs():
    llm = FakeLLM(route([("Your task (a)", "ALPHA"), ("Your task (u)", "UNRELATED")], "x"))
    runner, sink = runner_for(plan_of(t("a"), t("u"), t("b", ["a"])), llm)
    outcome = await runner.run()
    assert outcome.status == "completed"
    b_prompt = last_user_message(task_requests(llm, "b")[0])
    assert "ALPHA" in b_prompt and "UNRELATED" not in b_prompt
    order = [e.task_id for e in sink.of(TaskFinished)]
    assert order.index("a") < order.index("b")
    assert sink.of(DeliverableReady)[0].markdown


async def test_failure_blocks_dependents_but_not_siblings():
    def script(request):
        text = last_user_message(request)
        return ServerError("boom", status=500) if "Your task (bad)" in text else "fine"

    llm = FakeLLM(script)
    runner, sink = runner_for(plan_of(t("bad"), t("dep", ["bad"]), t("dep2", ["dep"]), t("ok")), llm)
    outcome = await runner.run()
    assert outcome.status == "failed"
    states = runner.states
    assert states["bad"].status is TaskStatus.FAILED and states["bad"].attempts == 3
    assert states["dep"].status is TaskStatus.BLOCKED and states["dep2"].status is TaskStatus.BLOCKED
    assert states["ok"].status is TaskStatus.COMPLETED
    assert len(sink.of(TaskRetried)) == 2
    assert {e.task_id for e in sink.of(TaskBlocked)} == {"dep", "dep2"}


async def test_permanent_error_is_not_retried():
    llm = FakeLLM(lambda r: AuthError("bad key", status=401))
    runner, _ = runner_for(plan_of(t("a")), llm)
    assert (await runner.run()).status == "failed"
    assert len(llm.requests) == 1


@pytest.mark.parametrize(
    ("decision", "status", "output_check"),
    [
        (Decision(Action.APPROVE), TaskStatus.COMPLETED, lambda o: o == "did do a"),
        (Decision(Action.EDIT, "new words"), TaskStatus.COMPLETED, lambda o: o == "did new words"),
        (Decision(Action.OVERRIDE, "my own answer"), TaskStatus.COMPLETED, lambda o: o == "my own answer"),
        (Decision(Action.REJECT), TaskStatus.SKIPPED, lambda o: o == ""),
    ],
)
async def test_approval_decisions(decision, status, output_check):
    def script(request):
        text = last_user_message(request)
        if "Instructions:" in text:
            return "did " + text.split("Instructions:\n")[1].split("\n")[0]
        return "deliverable"

    llm = FakeLLM(script)
    gate = ScriptedGate({"a": decision})
    runner, sink = runner_for(plan_of(t("a", approval=True), t("b", ["a"])), llm, gate)
    await runner.run()
    assert runner.states["a"].status is status
    assert output_check(runner.states["a"].output)
    assert len(gate.requests) == 1 and gate.requests[0].task is not None
    assert gate.requests[0].task.instructions == "do a" == gate.requests[0].edit_text
    assert sink.of(ApprovalRequested)[0].task_id == "a"
    if decision.action is Action.REJECT:
        assert runner.states["b"].status is TaskStatus.BLOCKED
        assert sink.of(TaskSkipped)[0].task_id == "a"
    else:
        assert runner.states["b"].status is TaskStatus.COMPLETED
    if decision.action is Action.OVERRIDE:
        assert not task_requests(llm, "a")


async def test_independent_tasks_run_while_an_approval_waits():
    llm = FakeLLM(lambda r: "x")
    gate = ScriptedGate(delay=0.2)
    runner, sink = runner_for(plan_of(t("slow", approval=True), t("free")), llm, gate)
    await runner.run()
    finished = [e.task_id for e in sink.of(TaskFinished)]
    assert finished == ["free", "slow"]


async def test_groups_finish_with_their_children():
    llm = FakeLLM(route([("Your task (c1)", "one"), ("Your task (c2)", "two")], "x"))
    plan = plan_of(t("g", children=[t("c1"), t("c2", ["c1"])]), t("after", ["g"]))
    runner, sink = runner_for(plan, llm)
    assert (await runner.run()).status == "completed"
    group_done = [e for e in sink.of(TaskFinished) if e.task_id == "g"][0]
    assert group_done.source == "group" and "one" in group_done.output and "two" in group_done.output
    after_prompt = last_user_message(task_requests(llm, "after")[0])
    assert "one" in after_prompt and "two" in after_prompt
    assert not task_requests(llm, "g")  # a group calls no model itself


async def test_prior_results_are_not_requested_again():
    llm = FakeLLM(lambda r: "new")
    prior = {"a": PriorResult(output="OLD A")}
    runner, _ = runner_for(plan_of(t("a"), t("b", ["a"])), llm, prior=prior)
    assert (await runner.run()).status == "completed"
    assert not task_requests(llm, "a")
    assert "OLD A" in last_user_message(task_requests(llm, "b")[0])


async def test_concurrency_limit_is_respected():
    in_flight = peak = 0

    class Counting(FakeLLM):
        async def stream(self, request):
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                async for d in super().stream(request):
                    yield d
            finally:
                in_flight -= 1

    llm = Counting(lambda r: "x", latency=0.01)
    runner, _ = runner_for(plan_of(*[t(f"t{i}") for i in range(40)]), llm, max_parallel=5)
    await runner.run()
    assert peak == 5


async def test_cancel_run_and_cancel_task():
    llm = FakeLLM(lambda r: "x", latency=0.3)
    runner, _ = runner_for(plan_of(t("a"), t("b"), t("c", ["a"])), llm)
    job = asyncio.create_task(runner.run())
    await asyncio.sleep(0.05)
    runner.cancel_task("a")
    await asyncio.sleep(0.01)
    assert runner.states["a"].status is TaskStatus.CANCELLED
    assert runner.states["c"].status is TaskStatus.BLOCKED
    runner.cancel()
    outcome = await job
    assert outcome.status == "cancelled"
    assert runner.states["b"].status is TaskStatus.CANCELLED


async def test_pause_holds_new_calls_until_resume():
    llm = FakeLLM(lambda r: "x", latency=0.05)
    runner, sink = runner_for(plan_of(t("a"), t("b", ["a"])), llm)
    job = asyncio.create_task(runner.run())
    await asyncio.sleep(0.01)
    runner.pause()
    await asyncio.sleep(0.2)
    assert runner.states["a"].status is TaskStatus.COMPLETED  # in-flight call finished
    assert not task_requests(llm, "b")
    runner.resume()
    assert (await job).status == "completed"
    assert sink.of(RunFinished)[0].status == "completed"


async def test_planner_repairs_broken_json_then_gives_up_clearly():
    good = '{"goal": "x", "tasks": [{"id": "a", "title": "A", "agent": "writer"}]}'
    replies = iter(['{"goal": "x", "tasks": [', good])
    llm = FakeLLM(lambda r: next(replies))
    sink = RecordingSink()
    planner = Planner(llm, load_roster(), ModelSettings(model="fake/m"), retry=FAST_RETRY)
    result = await planner.plan(CallContext(run_id="r", sink=sink, purpose="plan"), "my goal")
    assert result.attempts == 2 and result.plan.goal == "my goal"
    assert "not valid JSON" in sink.of(PlanRejectedByModel)[0].error
    assert "not valid JSON" in llm.requests[1].messages[-1].content

    cyclic = ('{"goal": "x", "tasks": [{"id": "a", "title": "A", "agent": "writer", "depends_on": ["b"]},'
              '{"id": "b", "title": "B", "agent": "writer", "depends_on": ["a"]}]}')
    planner = Planner(FakeLLM(lambda r: cyclic), load_roster(), ModelSettings(model="fake/m"))
    with pytest.raises(PlannerError, match="dependency cycle"):
        await planner.plan(CallContext(run_id="r", sink=sink, purpose="plan"), "g")


async def test_a_task_whose_dependencies_finish_together_starts_once():
    # a and b finish in the same loop turn: both completions reach the scheduler
    # after both states are COMPLETED, and each used to start c.
    llm = FakeLLM(latency=0.01)
    runner, sink = runner_for(plan_of(t("a"), t("b"), t("c", ["a", "b"]), t("d", ["c"])), llm)
    outcome = await runner.run()
    assert outcome.status == "completed"
    assert len(task_requests(llm, "c")) == 1 and len(task_requests(llm, "d")) == 1
    assert [e.task_id for e in sink.of(TaskFinished)].count("c") == 1


async def test_a_plan_with_raw_newlines_inside_strings_is_taken_as_it_is():
    # what Gemma 270M writes under its grammar: a control character in a JSON string
    reply = '{"goal": "x", "tasks": [{"id": "a", "title": "Say\nhello", "agent": "writer"}]}'
    llm = FakeLLM(lambda r: reply)
    planner = Planner(llm, load_roster(), ModelSettings(model="fake/m"), retry=FAST_RETRY)
    result = await planner.plan(CallContext(run_id="r", sink=RecordingSink(), purpose="plan"), "g")
    assert result.attempts == 1 and result.plan.tasks[0].title == "Say\nhello"


async def test_a_rejected_task_leaves_a_partial_deliverable_that_names_the_reason():
    llm = FakeLLM(route([("Your task (keep)", "KEPT RESULT"), ("# Results", "the deliverable")], "x"))
    gate = ScriptedGate({"drop": Decision(Action.REJECT, "not needed this week")})
    plan = plan_of(t("keep"), t("drop", approval=True), t("after", ["drop"]))
    runner, sink = runner_for(plan, llm, gate)
    outcome = await runner.run()
    assert outcome.status == "completed" and outcome.partial and outcome.deliverable == "the deliverable"
    assert sink.of(DeliverableReady)[0].partial and sink.of(RunFinished)[0].partial
    assert sink.of(TaskSkipped)[0].reason == "rejected by the person: not needed this week"
    synthesis = last_user_message(llm.requests[-1])
    assert "KEPT RESULT" in synthesis and "# Not done" in synthesis
    assert "not needed this week" in synthesis and "Title after: not done, because it needed “Title drop”" in synthesis
    assert runner.state.tasks["after"].status is TaskStatus.BLOCKED


async def test_a_failed_task_still_fails_the_run():
    llm = FakeLLM(route([("Your task (bad)", AuthError("key refused"))], "fine"))
    runner, sink = runner_for(plan_of(t("ok"), t("bad"), t("after", ["bad"])), llm)
    outcome = await runner.run()
    assert outcome.status == "failed" and not outcome.partial and not sink.of(DeliverableReady)


async def test_an_empty_answer_is_asked_once_more_then_fails_the_task_with_a_reason():
    answers = iter(["", "second time lucky"])

    def script(request):
        text = last_user_message(request)
        if "Your task (flaky)" in text:
            return next(answers)
        return "" if "Your task (mute)" in text else "x"

    llm = FakeLLM(script)
    runner, sink = runner_for(plan_of(t("flaky"), t("mute")), llm)
    outcome = await runner.run()
    assert runner.states["flaky"].output == "second time lucky" and len(task_requests(llm, "flaky")) == 2
    assert runner.states["mute"].status is TaskStatus.FAILED and len(task_requests(llm, "mute")) == 2
    assert "answered with nothing, twice" in runner.states["mute"].error
    assert outcome.status == "failed" and not outcome.deliverable
