"""The runner over real HTTP: LiteLLMClient against the local scripted server."""

from __future__ import annotations

import time

import pytest

from agents.events import RateLimitWaiting, TaskRetried
from agents.llm.calls import RetryPolicy
from agents.llm.client import LiteLLMClient
from agents.llm.litellm_info import warm_up
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import ApproveAll
from agents.run.agent import ModelSettings
from agents.run.runner import Runner, RunOptions
from agents.run.state import TaskStatus
from agents.testing import RecordingSink
from tests.support.scripted_server import Reply


@pytest.fixture
async def llm():
    client = LiteLLMClient()
    yield client
    await client.aclose()


def plan_of(*tasks: dict) -> Plan:
    return Plan.from_dict({"goal": "g", "tasks": list(tasks)})


def t(id: str, deps: tuple[str, ...] = ()) -> dict:
    return {"id": id, "title": f"Task {id}", "agent": "analyst", "depends_on": list(deps)}


def make_runner(llm, server, plan, retry=None, **options):
    sink = RecordingSink()
    settings = ModelSettings(model="openai/test-model", api_base=server.base_url, api_key="sk-test-x")
    runner = Runner(
        run_id="r", plan=plan, roster=load_roster(), llm=llm, settings=settings, sink=sink,
        gate=ApproveAll(), options=RunOptions(retry=retry or RetryPolicy(base_delay=0.05), **options),
    )
    return runner, sink


def calls_for(server, task_id: str):
    return [r for r in server.chat_requests if f"Your task ({task_id})" in r.last_user]


async def test_twenty_independent_tasks_run_in_parallel(llm, llm_server):
    llm_server.default = Reply("done", latency=0.3)
    runner, _ = make_runner(llm, llm_server, plan_of(*[t(f"t{i}") for i in range(20)]),
                            synthesize=False, max_parallel=20)
    await warm_up()  # importing litellm takes seconds; it is not what we measure
    started = time.perf_counter()
    outcome = await runner.run()
    elapsed = time.perf_counter() - started
    assert outcome.status == "completed"
    assert len(llm_server.chat_requests) == 20
    # all twenty at once: about one latency, far below 20 x 0.3 s in series
    assert elapsed < 1.5, elapsed


async def test_dependency_order_and_context_over_http(llm, llm_server):
    llm_server.on(contains="Your task (a)", reply="ALPHA-OUTPUT")
    llm_server.on(contains="Your task (x)", reply="UNRELATED-OUTPUT")
    llm_server.default = Reply("fine")
    runner, _ = make_runner(llm, llm_server, plan_of(t("a"), t("x"), t("b", ("a",))))
    assert (await runner.run()).status == "completed"
    b = calls_for(llm_server, "b")[0]
    a = calls_for(llm_server, "a")[0]
    assert "ALPHA-OUTPUT" in b.last_user and "UNRELATED-OUTPUT" not in b.last_user
    assert b.index > a.index
    assert b.system == load_roster().get("analyst").system_prompt


async def test_retries_500_then_succeeds(llm, llm_server):
    llm_server.on(contains="Your task (a)", reply=Reply.server_error(), times=2)
    llm_server.default = Reply("recovered")
    runner, sink = make_runner(llm, llm_server, plan_of(t("a")), synthesize=False)
    assert (await runner.run()).status == "completed"
    assert len(calls_for(llm_server, "a")) == 3
    assert runner.states["a"].attempts == 3 and runner.states["a"].output == "recovered"
    assert [e.attempt for e in sink.of(TaskRetried)] == [1, 2]


async def test_429_honours_retry_after(llm, llm_server):
    llm_server.on(contains="Your task (a)", reply=Reply.rate_limited(retry_after=1), times=1)
    llm_server.default = Reply("ok")
    runner, sink = make_runner(llm, llm_server, plan_of(t("a")), synthesize=False)
    assert (await runner.run()).status == "completed"
    first, second = calls_for(llm_server, "a")
    assert second.received_at - first.received_at >= 1.0
    # the provider's limiter made it wait (not a failed attempt of the task)
    assert not sink.of(TaskRetried)
    assert "429" in sink.of(RateLimitWaiting)[0].reason
    assert runner.states["a"].attempts == 1


async def test_dropped_stream_is_retried(llm, llm_server):
    llm_server.on(contains="Your task (a)", reply=Reply.dropped("half an ans", after=2), times=1)
    llm_server.default = Reply("whole answer")
    runner, _ = make_runner(llm, llm_server, plan_of(t("a")), synthesize=False)
    assert (await runner.run()).status == "completed"
    assert runner.states["a"].output == "whole answer"


async def test_exhausted_attempts_block_dependents_siblings_complete(llm, llm_server):
    llm_server.on(contains="Your task (bad)", reply=Reply.server_error(503))
    llm_server.default = Reply("ok")
    plan = plan_of(t("bad"), t("child", ("bad",)), t("sib1"), t("sib2", ("sib1",)))
    runner, _ = make_runner(llm, llm_server, plan, RetryPolicy(max_attempts=3, base_delay=0.01))
    outcome = await runner.run()
    assert outcome.status == "failed"
    assert len(calls_for(llm_server, "bad")) == 3
    assert runner.states["bad"].status is TaskStatus.FAILED
    assert "503" in runner.states["bad"].error or "server" in runner.states["bad"].error.lower()
    assert runner.states["child"].status is TaskStatus.BLOCKED and not calls_for(llm_server, "child")
    assert runner.states["sib2"].status is TaskStatus.COMPLETED


async def test_per_call_timeout_is_retried_then_fails(llm, llm_server):
    llm_server.default = Reply("slow", latency=2.0)
    sink = RecordingSink()
    settings = ModelSettings(model="openai/test-model", api_base=llm_server.base_url,
                             api_key="sk-test-x", call_timeout=0.3)
    runner = Runner(run_id="r", plan=plan_of(t("a")), roster=load_roster(), llm=llm,
                    settings=settings, sink=sink, gate=ApproveAll(),
                    options=RunOptions(retry=RetryPolicy(max_attempts=2, base_delay=0.01)))
    started = time.perf_counter()
    assert (await runner.run()).status == "failed"
    assert time.perf_counter() - started < 1.5
    assert len(calls_for(llm_server, "a")) == 2


async def test_a_stalled_stream_is_retried_after_the_idle_timeout_not_the_overall_limit(llm, llm_server):
    llm_server.default = Reply("one word then silence", stall_after=1)
    sink = RecordingSink()
    settings = ModelSettings(model="openai/test-model", api_base=llm_server.base_url,
                             api_key="sk-test-x", call_timeout=60.0, idle_timeout=0.5)
    runner = Runner(run_id="r", plan=plan_of(t("a")), roster=load_roster(), llm=llm,
                    settings=settings, sink=sink, gate=ApproveAll(),
                    options=RunOptions(retry=RetryPolicy(max_attempts=2, base_delay=0.01)))
    started = time.perf_counter()
    assert (await runner.run()).status == "failed"
    assert time.perf_counter() - started < 20  # two idle timeouts, far from 2 x 60 s
    assert len(calls_for(llm_server, "a")) == 2
    retried = [e for e in sink.events if isinstance(e, TaskRetried)]
    assert retried and retried[0].error == "no data from openai/test-model for 0.5 s (idle timeout)"
