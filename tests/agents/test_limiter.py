"""One rate limiter per provider (issue 15): the Runner against the scripted server when
it caps how many requests it answers at once (5, 2, and 10 dropping to 3), two runs
sharing one limiter, the waiting events and the fold's status and duration, the
limiter's AIMD rules, and a call that gives up with one line. No timed assertions:
speed is bench/limiter_bench.py's."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from agents.events import (
    RateLimitWaited,
    RateLimitWaiting,
    StepStarted,
    TaskFinished,
    TaskRetried,
    TaskStarted,
)
from agents.llm.calls import RetryPolicy
from agents.llm.client import LiteLLMClient
from agents.llm.limiter import Limiter, endpoint_key, limiter_for
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import Action, ApproveAll, Decision, Limits, LLMRequest, Message
from agents.run.agent import Endpoint, ModelSettings
from agents.run.runner import Runner, RunOptions
from agents.run.state import RunState, TaskStatus, fold
from agents.testing import FakeLLM, RecordingSink, ScriptedGate
from tests.support.scripted_server import Gate, Reply

MODEL = "work/test-model"
KEY = "sk-test-LIMITER-0123456789abcdef"
TASKS = 24


@pytest.fixture
async def llm():
    client = LiteLLMClient()
    yield client
    await client.aclose()


def plan_of(n: int) -> Plan:
    return Plan.from_dict({"goal": "g", "tasks": [
        {"id": f"t{i}", "title": f"Task {i}", "agent": "analyst"} for i in range(n)]})


def settings_for(server, key: str = KEY, limits: Limits | None = None) -> ModelSettings:
    """As the app resolves a provider entry "work" (an OpenAI-compatible server)."""
    where = Endpoint("openai/test-model", server.base_url, key, provider="work",
                     limits=limits or Limits(concurrent=16))
    return ModelSettings(model=MODEL, endpoints={MODEL: where})


def runner_for(llm, settings: ModelSettings, n: int, run_id: str = "r",
               retry: RetryPolicy | None = None) -> tuple[Runner, RecordingSink]:
    sink = RecordingSink()
    runner = Runner(run_id=run_id, plan=plan_of(n), roster=load_roster(), llm=llm, settings=settings,
                    sink=sink, gate=ApproveAll(),
                    options=RunOptions(max_parallel=n, synthesize=False, retry=retry or RetryPolicy()))
    return runner, sink


def the_limiter(settings: ModelSettings) -> Limiter:
    return limiter_for(settings.request(MODEL, [Message("user", "x")]))


# --- the three servers, through the Runner -------------------------------------------------------

SERVERS = {
    "caps at 5": {"cap": 5},
    "caps at 2": {"cap": 2},
    "drops from 10 to 3": {"cap": 10, "drop_to": 3, "after": 6},
}


@pytest.mark.parametrize("server", list(SERVERS))
async def test_every_task_completes_against_a_server_that_caps_its_requests(llm, llm_server, server):
    shape = SERVERS[server]
    llm_server.default = Reply("done", latency=0.05)
    llm_server.limit(shape["cap"], retry_after="0.2", drop_to=shape.get("drop_to"), after=shape.get("after", 0))
    settings = settings_for(llm_server)
    runner, sink = runner_for(llm, settings, TASKS)
    outcome = await runner.run()
    assert outcome.status == "completed", outcome.error
    assert all(s.status is TaskStatus.COMPLETED for s in runner.states.values())
    assert len(llm_server.chat_requests) - llm_server.refused == TASKS  # each answered once
    # the limiter learned the cap from a few 429s instead of every agent retrying on its own
    assert 0 < llm_server.refused < TASKS
    assert the_limiter(settings).refusals == llm_server.refused
    assert the_limiter(settings).cap <= shape.get("drop_to", shape["cap"]) + 1
    assert not sink.of(TaskRetried)  # a 429 is a wait, not a failed attempt
    assert {s.attempts for s in runner.states.values()} == {1}
    waits, ends = sink.of(RateLimitWaiting), sink.of(RateLimitWaited)
    assert waits and len(waits) == len(ends)
    assert {w.provider for w in waits} == {"work"}
    assert KEY not in json.dumps([e.to_dict() for e in sink.events])


# --- one limiter per provider and key, shared by runs ---------------------------------------------


async def test_two_runs_to_one_provider_and_key_share_one_limiter(llm, llm_server):
    llm_server.default = Reply("done", latency=0.05)
    first = settings_for(llm_server, limits=Limits(concurrent=3))
    second = settings_for(llm_server, limits=Limits(concurrent=3))
    assert the_limiter(first) is the_limiter(second)
    a, _ = runner_for(llm, first, 10, "run-a")
    b, _ = runner_for(llm, second, 10, "run-b")
    outcomes = await asyncio.gather(a.run(), b.run())
    assert [o.status for o in outcomes] == ["completed", "completed"]
    assert len(llm_server.chat_requests) == 20
    assert llm_server.peak <= 3  # one cap over both runs (apart, they could have sent 6)
    assert the_limiter(first).peak == llm_server.peak


async def test_different_keys_get_different_limiters(llm, llm_server):
    gate = Gate()
    llm_server.default = Reply("done", wait=gate)
    first = settings_for(llm_server, key="sk-test-first", limits=Limits(concurrent=2))
    second = settings_for(llm_server, key="sk-test-second", limits=Limits(concurrent=2))
    assert the_limiter(first) is not the_limiter(second)
    assert endpoint_key(first.request(MODEL, [])) != endpoint_key(second.request(MODEL, []))
    assert "sk-test" not in endpoint_key(first.request(MODEL, []))  # a hash, never the key
    a, _ = runner_for(llm, first, 4, "run-a")
    b, _ = runner_for(llm, second, 4, "run-b")
    runs = asyncio.gather(a.run(), b.run())
    await llm_server.until_requests(4, within=30)  # two at once per key: four in all
    gate.open()
    assert [o.status for o in await runs] == ["completed", "completed"]
    assert the_limiter(first).peak == the_limiter(second).peak == 2


# --- waiting: events, status, duration --------------------------------------------------------------


async def test_a_waiting_task_says_so_and_its_wait_is_not_its_duration(llm, llm_server):
    llm_server.default = Reply("done", latency=0.1)
    settings = settings_for(llm_server, limits=Limits(concurrent=1))
    runner, sink = runner_for(llm, settings, 3)
    seen: list[str] = []
    state = RunState()

    def watch(event) -> None:  # what a view folding the events shows as they come
        sink.events.append(event)
        state.apply(event)
        if isinstance(event, RateLimitWaiting):
            seen.append(state.tasks[event.task_id].waiting_for)

    sink.emit = watch  # type: ignore[method-assign]
    assert (await runner.run()).status == "completed"
    assert seen == ["work", "work"]  # two of the three waited for the one slot
    assert all("1 calls in flight" in w.reason for w in sink.of(RateLimitWaiting))
    finished = {e.task_id: e for e in sink.of(TaskFinished)}
    waited = [f for f in finished.values() if f.waited > 0]
    assert len(waited) == 2
    for event in waited:
        task = state.tasks[event.task_id]
        assert task.waited == pytest.approx(event.waited, abs=0.01)
        assert task.duration(0) == pytest.approx(event.finished - event.started - event.waited)
        assert task.duration(0) < event.finished - event.started
        assert not task.waiting_for and task.wait_since is None


def test_the_fold_counts_only_time_when_every_running_call_waits() -> None:
    events = [
        TaskStarted(run_id="r", task_id="m", agent="analyst", attempt=1, ts=0.0),
        StepStarted(run_id="r", task_id="m", step="item 1", agent="analyst", ts=0.0),
        StepStarted(run_id="r", task_id="m", step="item 2", agent="analyst", ts=0.0),
        RateLimitWaiting(run_id="r", task_id="m", step="item 1", provider="work", ts=1.0),
    ]
    state = fold(events)
    assert state.tasks["m"].waiting_for == ""  # item 2 works meanwhile
    state.apply(RateLimitWaiting(run_id="r", task_id="m", step="item 2", provider="work", ts=2.0))
    assert state.tasks["m"].waiting_for == "work" and state.tasks["m"].status is TaskStatus.RUNNING
    state.apply(RateLimitWaited(run_id="r", task_id="m", step="item 1", provider="work", seconds=4, ts=5.0))
    assert state.tasks["m"].waiting_for == ""
    assert state.tasks["m"].waited == 3.0
    assert state.tasks["m"].duration(10.0) == 7.0


# --- the limiter's rules -----------------------------------------------------------------------------


async def test_a_429_halves_the_cap_and_a_burst_finds_what_the_server_held() -> None:
    limiter = Limiter("work", Limits(concurrent=16))
    permits = [await limiter.acquire() for _ in range(16)]
    assert limiter.cap == 16 and limiter.in_flight == 16
    refused, held = permits[5:], permits[:5]
    assert refused[0].rate_limited(2.0) == 2.0
    assert limiter.cap == 8  # halved: the first 429 of calls sent under the cap
    for permit in refused[1:]:
        permit.rate_limited(2.0)
    assert limiter.cap == 5  # the burst's last 429 came with 5 others in flight
    assert limiter.refusals == 11
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()  # five in flight, at the cap
    held[0].succeeded(10)
    permit = await asyncio.wait_for(waiter, 1)
    assert limiter.cap == 5
    for p in (*held[1:], permit):
        p.succeeded()
    assert limiter.cap == 5 and limiter.in_flight == 0  # no calls waiting: no probing past it


async def test_past_what_the_server_held_it_probes_slowly_and_a_refused_probe_halves_it() -> None:
    limiter = Limiter("work", Limits(concurrent=16))
    burst = [await limiter.acquire() for _ in range(6)]
    burst[-1].rate_limited(None)  # the server held the other five
    assert limiter.cap == 3
    burst[0].succeeded()
    burst[1].succeeded()
    assert limiter.cap == 5  # back to what the server held: a step per success
    running = burst[2:5]
    waiters = [asyncio.ensure_future(limiter.acquire()) for _ in range(40)]
    successes = 0
    while limiter.cap == 5:  # each success lets the next waiter go
        running.pop(0).succeeded()
        successes += 1
        await asyncio.sleep(0)
        running += [w.result() for w in waiters if w.done() and w.result() not in running
                    and not w.result().released]
    assert 10 <= successes <= 12  # +1/(5 x 2) per success while a round of calls waits
    await asyncio.sleep(0)
    running += [w.result() for w in waiters if w.done() and w.result() not in running and not w.result().released]
    assert len(running) == 6
    running.pop().rate_limited(1.0)  # the probe was refused
    assert limiter.cap == 3
    for w in waiters:
        w.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)


async def test_a_lone_refused_call_pauses_everyone_for_its_retry_after() -> None:
    clock = [100.0]
    limiter = Limiter("work", Limits(), clock=lambda: clock[0])
    permit = await limiter.acquire()
    permit.rate_limited(30.0)  # nothing else was in flight: a limit in time
    reasons: list[str] = []
    waiter = asyncio.ensure_future(limiter.acquire(on_wait=reasons.append))
    await asyncio.sleep(0)
    assert not waiter.done() and reasons == ["the server asked for a pause of 30.0 s"]
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.waiting == 0 and limiter.in_flight == 0


async def test_requests_per_minute_hold_calls_back() -> None:
    clock = [0.0]
    limiter = Limiter("work", Limits(rpm=2), clock=lambda: clock[0])
    for _ in range(2):
        (await limiter.acquire()).succeeded()
    reasons: list[str] = []
    waiter = asyncio.ensure_future(limiter.acquire(on_wait=reasons.append))
    await asyncio.sleep(0)
    assert not waiter.done() and reasons == ["2 requests in the last minute, its limit"]
    clock[0] = 61.0
    limiter._dispatch()
    (await asyncio.wait_for(waiter, 1)).succeeded()


async def test_new_limits_from_the_settings_apply_to_the_next_calls(llm_server) -> None:
    request = LLMRequest("openai/m", (), api_base=llm_server.base_url, provider="work", limits=Limits(concurrent=4))
    limiter = limiter_for(request)
    assert limiter.cap == 4
    assert limiter_for(replace(request, limits=Limits(concurrent=2))) is limiter
    assert limiter.cap == 2
    assert limiter_for(replace(request, limits=None)).cap == 2  # no limits given: kept


# --- giving up -------------------------------------------------------------------------------------------


async def test_a_call_refused_again_and_again_fails_its_task_with_one_line(llm, llm_server):
    llm_server.default = Reply.rate_limited(retry_after="0.01")
    settings = settings_for(llm_server)
    runner, sink = runner_for(llm, settings, 1, retry=RetryPolicy(max_refusals=5))
    outcome = await runner.run()
    assert outcome.status == "failed"
    error = runner.states["t0"].error
    assert error.startswith("openai/test-model: still rate limited by work after 5 refusals over ")
    assert "troupe providers limits work --concurrent N" in error and "\n" not in error
    assert len(llm_server.chat_requests) == 5
    assert runner.states["t0"].attempts == 1


# --- a wait for the limiter does not slip past the budget ---------------------------------------------


async def test_calls_that_waited_for_the_limiter_ask_about_the_budget_before_they_go():
    llm, sink = FakeLLM(cost_per_call=1.0, latency=0.02), RecordingSink()
    settings = ModelSettings(model=MODEL, endpoints={MODEL: Endpoint("openai/fake", provider="fake",
                                                                     limits=Limits(concurrent=1))})
    runner = Runner(run_id="r", plan=plan_of(3), roster=load_roster(), llm=llm, settings=settings, sink=sink,
                    gate=ScriptedGate({"": Decision(Action.REJECT)}),
                    options=RunOptions(max_parallel=3, synthesize=False, budget_usd=0.5))
    outcome = await runner.run()
    # all three passed the budget check at $0 and two waited for the one slot; once the
    # first had spent $1, they asked, and the person stopped the run
    assert outcome.status == "cancelled" and len(llm.requests) == 1
    assert len(sink.of(RateLimitWaiting)) == 2
