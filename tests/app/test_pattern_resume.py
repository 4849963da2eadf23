"""RunService hands a start the finished steps of its pattern tasks (issue 14):
a task that runs again replays what its latest start(s) finished, unless it is
re-run on purpose (a finished task asked for again, edited work, new inputs).

Counts are taken at the scripted OpenAI-compatible server on 127.0.0.1; the
event-level rules are checked on recorded event streams too.
"""

from __future__ import annotations

from collections import Counter

import pytest

from agents import events as ev
from agents.plan import Plan
from agents.plan.reuse import reusable_steps, reusable_tasks
from agents.plan.roster import load_roster
from agents.run.state import RunStatus
from agents.run.team import PriorStep
from agents.testing import ScriptedGate
from app.runs.service import RunService, steps_to_replay
from app.settings import Settings
from app.storage import Store
from tests.support.scripted_server import Reply
from tests.support.team_script import ESSAY, LIST, MAP, TeamScript, step_of


@pytest.fixture
def service(store: Store, llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    settings = Settings(default_model="openai/test-model", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(store, settings=settings, roster=load_roster())
    yield service
    service.close()


def plan_of(*tasks: dict) -> Plan:
    return Plan.from_dict({"goal": "Write about penguins", "tasks": list(tasks)})


MAPPED = plan_of(LIST, MAP)


def sent(server) -> Counter[tuple[str, str]]:
    return Counter(step_of(r) for r in server.chat_requests)


async def start(service: RunService, run_id: str, plan: Plan, **kwargs):
    handle = service.start(run_id, plan, service.config(), ScriptedGate(), **kwargs)
    try:
        return handle, await handle.run()
    finally:
        await service.aclose_llm()


async def failed_map(service: RunService, llm_server) -> str:
    """A run whose map of 5 items failed at item 3 (items 1, 2, 4, 5 finished)."""
    llm_server.script(TeamScript(items=5))
    llm_server.on(predicate=lambda r: step_of(r) == ("each", "item 3"), reply=Reply.unauthorized(), times=1)
    run_id = service.create_run("P", "Write about penguins", service.config())
    _, outcome = await start(service, run_id, MAPPED)
    assert outcome.status is RunStatus.FAILED
    return run_id


async def test_resuming_a_failed_map_sends_only_the_item_that_failed(service, llm_server):
    run_id = await failed_map(service, llm_server)
    handle = service.resume(run_id, ScriptedGate())
    assert handle.kept == {"list"} and handle.replayed_steps == 4
    try:
        outcome = await handle.run()
    finally:
        await service.aclose_llm()
    assert outcome.status is RunStatus.COMPLETED, outcome.error
    counts = sent(llm_server)
    assert counts[("each", "item 3")] == 2
    assert all(counts[("each", f"item {n}")] == 1 for n in (1, 2, 4, 5))
    assert handle.state.tasks["each"].output.count("summary of item") == 5


async def test_retrying_a_failed_map_keeps_its_finished_items_too(service, llm_server):
    run_id = await failed_map(service, llm_server)  # the window's Retry on the failed task
    handle, outcome = await start(service, run_id, MAPPED, retry={"each"})
    assert handle.replayed_steps == 4 and outcome.status is RunStatus.COMPLETED
    assert sent(llm_server)[("each", "item 3")] == 2 and sent(llm_server)[("each", "item 1")] == 1


async def test_edited_instructions_run_every_step_again(service, llm_server):
    run_id = await failed_map(service, llm_server)
    edited = plan_of(LIST, {**MAP, "instructions": "Summarise each in one line."})
    handle, outcome = await start(service, run_id, edited)
    assert handle.replayed_steps == 0 and outcome.status is RunStatus.COMPLETED
    assert all(sent(llm_server)[("each", f"item {n}")] == 2 for n in (1, 2, 4, 5))


async def test_new_inputs_run_every_step_again(service, llm_server):
    run_id = await failed_map(service, llm_server)
    edited = plan_of({**LIST, "instructions": "List other colonies."}, MAP)
    handle, outcome = await start(service, run_id, edited)
    assert handle.kept == set() and handle.replayed_steps == 0
    assert outcome.status is RunStatus.COMPLETED
    assert sent(llm_server)[("list", "task")] == 2
    assert all(sent(llm_server)[("each", f"item {n}")] == 2 for n in (1, 2, 4, 5))


async def test_a_finished_task_asked_for_again_replays_nothing(service, llm_server):
    llm_server.script(TeamScript(approve_draft=2))
    run_id = service.create_run("P", "Write about penguins", service.config())
    await start(service, run_id, plan_of(ESSAY))
    handle, outcome = await start(service, run_id, plan_of(ESSAY), retry={"essay"})
    assert handle.kept == set() and handle.replayed_steps == 0
    assert outcome.status is RunStatus.COMPLETED
    assert {step: n for step, n in sent(llm_server).items() if step[0] == "essay"} == {
        ("essay", "draft 1"): 2, ("essay", "review 1"): 2, ("essay", "draft 2"): 2, ("essay", "review 2"): 2}


# --- the rules on recorded events ------------------------------------------------------------


def item(n: int, text: str = "") -> ev.StepFinished:
    return ev.StepFinished(run_id="r", task_id="each", step=f"item {n}", agent="analyst",
                           output=text or f"summary of item {n}")


def started(plan: Plan, kept=(), resumed=False) -> ev.RunStarted:
    return ev.RunStarted(run_id="r", goal=plan.goal, plan=plan.to_dict(), resumed=resumed, kept=list(kept))


LISTED = ev.TaskFinished(run_id="r", task_id="list", output="- a\n- b\n- c", attempts=1, prompt_tokens=0,
                         completion_tokens=0, cost=0.0, started=1.0, finished=2.0)


def test_steps_of_an_earlier_start_count_when_the_latest_never_reached_the_task():
    events = [started(MAPPED), LISTED, item(1), item(2), ev.TaskFailed(run_id="r", task_id="each", error="x",
                                                                       attempts=1),
              started(MAPPED, kept=["list"], resumed=True)]  # killed before "each" started again
    replay = steps_to_replay(events, MAPPED, finished={"list"}, kept={"list"})
    assert replay == {"each": {"item 1": PriorStep("summary of item 1"), "item 2": PriorStep("summary of item 2")}}


def test_a_start_that_changed_the_task_ends_its_earlier_steps_for_good():
    changed = plan_of(LIST, {**MAP, "instructions": "Other."})
    events = [started(MAPPED), LISTED, item(1), started(changed, kept=["list"], resumed=True)]
    assert steps_to_replay(events, MAPPED, finished={"list"}, kept={"list"}) == {}
    assert steps_to_replay(events, changed, finished={"list"}, kept={"list"}) == {}


def test_the_latest_answer_of_a_step_stands_and_replayed_steps_carry_on():
    events = [started(MAPPED), LISTED, item(1, "first"), started(MAPPED, kept=["list"], resumed=True),
              ev.StepFinished(run_id="r", task_id="each", step="item 1", agent="analyst", output="first",
                              replayed=True), item(2)]
    replay = steps_to_replay(events, MAPPED, finished={"list"}, kept={"list"})
    assert replay == {"each": {"item 1": PriorStep("first"), "item 2": PriorStep("summary of item 2")}}


def test_steps_hold_by_the_same_rule_as_kept_results():
    essay = plan_of(ESSAY)
    assert reusable_steps(essay, essay, finished=(), kept=()) == {"essay"}
    assert reusable_steps(essay, essay, finished={"essay"}, kept=()) == set()  # a finished task runs again
    other_reviewer = plan_of({**ESSAY, "reviewer": "analyst"})
    assert reusable_steps(essay, other_reviewer, finished=(), kept=()) == set()
    assert reusable_tasks(essay, other_reviewer, finished={"essay"}) == set()  # a new pattern is new work
    assert reusable_steps(MAPPED, MAPPED, finished={"list"}, kept=()) == set()  # its input runs again
    assert reusable_steps(MAPPED, MAPPED, finished={"list"}, kept={"list"}) == {"each"}
    # a task without a pattern may hold a step too: the person's answer about contradicting inputs
    assert reusable_steps(MAPPED, MAPPED, finished=(), kept=()) == {"list"}
