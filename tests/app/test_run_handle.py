"""RunService.start / resume and the RunHandle: one way a run starts, and finished
work is never sent to the model again unless the person asks for it.

Counts are taken at a real scripted OpenAI-compatible server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio

import pytest

from agents.plan import Plan
from agents.plan.roster import Role, Roster
from agents.run.state import RunStatus, TaskStatus
from agents.testing import ScriptedGate
from app.runs.service import NotResumable, RunService
from app.settings import Settings
from app.storage import Store
from tests.support.scripted_server import Gate, Reply

BOSS = Role("orchestrator", "You plan and sum up.")
WRITER = Role("writer", "You write.")


@pytest.fixture
def service(store: Store, llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    settings = Settings(default_model="openai/test-model", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(store, settings=settings, roster=Roster((BOSS, WRITER)))
    yield service
    service.close()


def plan_of(*tasks: tuple[str, str, list[str]]) -> Plan:
    return Plan.from_dict({"goal": "goal", "tasks": [
        {"id": tid, "title": f"Task {tid}", "agent": "writer", "instructions": text, "depends_on": deps}
        for tid, text, deps in tasks]})


ABC = plan_of(("a", "do a", []), ("b", "do b", ["a"]), ("c", "do c", []))


def asked(server, task_id: str) -> int:
    """Model requests the server saw for one task."""
    return sum(f"Your task ({task_id})" in r.last_user for r in server.requests)


async def until(predicate) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(20):
        while not predicate():  # noqa: ASYNC110 - the server's count changes on its own thread
            await asyncio.sleep(0.01)


async def run(service: RunService, run_id: str, plan: Plan, **kwargs) -> object:
    try:
        return await service.start(run_id, plan, service.config(), ScriptedGate(), **kwargs).run()
    finally:
        await service.aclose_llm()


async def test_resuming_a_failed_run_asks_only_for_what_did_not_finish(service, llm_server, store):
    llm_server.on(contains="Your task (c)", reply=Reply.unauthorized(), times=1)
    run_id = service.create_run("P", "goal", service.config())
    first = await run(service, run_id, ABC)
    assert first.status is RunStatus.FAILED
    handle = service.resume(run_id, ScriptedGate())
    assert handle.kept == {"a", "b"}
    try:
        outcome = await handle.run()
    finally:
        await service.aclose_llm()
    assert outcome.status is RunStatus.COMPLETED, outcome.error
    assert (asked(llm_server, "a"), asked(llm_server, "b"), asked(llm_server, "c")) == (1, 1, 2)
    assert {t.task_id: t.status for t in store.get_run(run_id).tasks} == dict.fromkeys("abc", "completed")


async def test_running_a_cancelled_run_again_keeps_what_finished(service, llm_server):
    held = Gate()
    llm_server.on(contains="Your task (b)", reply=Reply("b done").but(wait=held))
    run_id = service.create_run("P", "goal", service.config())
    handle = service.start(run_id, ABC, service.config(), ScriptedGate())
    running = asyncio.ensure_future(handle.run())
    await until(lambda: asked(llm_server, "b") > 0)  # a and c finished; b is at the model
    handle.cancel()
    assert (await running).status is RunStatus.CANCELLED
    held.open()
    again = await run(service, run_id, ABC)  # the window's Run, or Retry, on the same plan
    assert again.status is RunStatus.COMPLETED, again.error
    assert (asked(llm_server, "a"), asked(llm_server, "b"), asked(llm_server, "c")) == (1, 2, 1)


async def test_a_changed_task_runs_again_with_what_depends_on_it(service, llm_server):
    run_id = service.create_run("P", "goal", service.config())
    await run(service, run_id, ABC)
    edited = plan_of(("a", "do a differently", []), ("b", "do b", ["a"]), ("c", "do c", []))
    await run(service, run_id, edited)
    assert (asked(llm_server, "a"), asked(llm_server, "b"), asked(llm_server, "c")) == (2, 2, 1)


async def test_retry_task_asks_again_for_that_task_only_and_its_dependents(service, llm_server, store):
    run_id = service.create_run("P", "goal", service.config())
    await run(service, run_id, ABC)
    handle = service.start(run_id, ABC, service.config(), ScriptedGate(), retry={"c"})
    assert handle.kept == {"a", "b"}
    try:
        await handle.run()
    finally:
        await service.aclose_llm()
    assert (asked(llm_server, "a"), asked(llm_server, "b"), asked(llm_server, "c")) == (1, 1, 2)
    assert handle.state.tasks["a"].status is TaskStatus.COMPLETED


async def test_a_completed_run_is_not_resumable_but_can_be_run_again(service):
    run_id = service.create_run("P", "goal", service.config())
    await run(service, run_id, ABC)
    with pytest.raises(NotResumable, match="completed"):
        service.resume(run_id, ScriptedGate())


async def test_the_drivers_task_cancelled_closes_everything_and_keeps_the_events(service, llm_server, store):
    held = Gate()
    llm_server.on(contains="Your task (a)", reply=Reply("late").but(wait=held))
    run_id = service.create_run("P", "goal", service.config())
    handle = service.start(run_id, ABC, service.config(), ScriptedGate())
    driver = asyncio.ensure_future(handle.run())  # what the window's job is
    await until(lambda: asked(llm_server, "a") > 0)
    driver.cancel()  # the window closed
    with pytest.raises(asyncio.CancelledError):
        await driver
    held.open()
    await service.aclose_llm()
    assert not service._run_tools  # every run's tools closed
    kinds = [e["type"] for e in store.events(run_id)]
    assert kinds[0] == "RunStarted" and "TaskCancelled" in kinds


async def test_pause_before_the_runner_exists_holds_the_first_call(service, llm_server):
    run_id = service.create_run("P", "goal", service.config())
    handle = service.start(run_id, plan_of(("a", "do a", [])), service.config(), ScriptedGate())
    handle.pause()
    running = asyncio.ensure_future(handle.run())
    await asyncio.sleep(0.3)
    assert asked(llm_server, "a") == 0 and handle.paused
    handle.resume()
    outcome = await running
    await service.aclose_llm()
    assert outcome.status is RunStatus.COMPLETED and asked(llm_server, "a") == 1
