"""The pacer: many ready steps share the loop with everything else on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from agents.events import RunEvent, TaskStarted
from agents.llm.client import LiteLLMClient
from agents.llm.direct import _turn_with_socket_unread
from agents.llm.litellm_info import warm_up
from agents.llm.pacing import BUDGET, Pacer, pacer
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import Delta, LLMRequest, Message
from agents.run.agent import ModelSettings
from agents.run.runner import Runner, RunOptions
from agents.testing import FakeLLM, RecordingSink, ScriptedGate
from tests.support.scripted_server import Reply, ScriptedServer


def busy(seconds: float) -> None:
    """CPU work on the loop thread (what parsing or a UI handler costs)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def worker(shared: Pacer, pieces: int, done: list[str], name: str = "") -> None:
    for _ in range(pieces):
        if shared.due():
            await shared.wait()
        busy(0.0005)
        done.append(name)


async def test_a_callback_queued_behind_ready_work_runs_after_one_slice_of_it() -> None:
    loop = asyncio.get_running_loop()
    shared = Pacer(loop, budget=0.002)
    done: list[str] = []
    seen: list[int] = []
    tasks = [asyncio.create_task(worker(shared, 4, done)) for _ in range(40)]
    loop.call_soon(lambda: seen.append(len(done)))  # queued behind all 40 first steps
    await asyncio.gather(*tasks)
    assert len(done) == 160
    assert seen and seen[0] < 20, f"the callback waited for {seen[0]} of 160 pieces"


async def test_the_loop_gets_a_turn_every_slice_while_work_is_ready() -> None:
    loop = asyncio.get_running_loop()
    shared = Pacer(loop, budget=0.002)
    done: list[str] = []
    ticks: list[int] = []

    def tick() -> None:
        ticks.append(len(done))
        if len(done) < 160:
            loop.call_soon(tick)

    tasks = [asyncio.create_task(worker(shared, 4, done)) for _ in range(40)]
    loop.call_soon(tick)
    await asyncio.gather(*tasks)
    assert len({n for n in ticks if 0 < n < 160}) >= 10  # 80 ms of work, 2 ms slices


async def test_waiters_go_first_come_first_served_and_a_cancelled_one_leaves_the_line() -> None:
    shared = Pacer(asyncio.get_running_loop(), budget=0.0)
    order: list[str] = []
    assert not shared.due()  # opens a slice
    busy(0.001)
    tasks = {name: asyncio.create_task(worker(shared, 1, order, name)) for name in "abcde"}
    await asyncio.sleep(0)  # all five are in line now
    tasks["c"].cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    assert order == ["a", "b", "d", "e"]


async def test_waiters_are_let_go_as_many_at_a_time_as_a_slice_fits() -> None:
    loop = asyncio.get_running_loop()
    shared = Pacer(loop, budget=0.01)
    shared.step_cost = 0.0002
    assert not shared.due()
    busy(0.011)  # the slice is used up: everyone below waits in line
    done: list[str] = []
    rounds: list[int] = []

    def count_round() -> None:
        rounds.append(len(done))
        if len(done) < 30:
            loop.call_soon(count_round)

    tasks = [asyncio.create_task(worker(shared, 1, done)) for _ in range(30)]
    loop.call_soon(count_round)
    await asyncio.gather(*tasks)
    assert len(rounds) < 10, "waiters were let go one loop round at a time"


async def test_a_slice_ends_when_the_loop_comes_round_idle() -> None:
    shared = Pacer(asyncio.get_running_loop(), budget=0.002)
    assert not shared.due()
    busy(0.003)
    assert shared.due()  # this slice is used up
    for _ in range(3):
        await asyncio.sleep(0)
    assert not shared.due()  # nobody waited: new work starts a fresh slice at once


async def test_each_loop_has_its_own_pacer() -> None:
    mine = pacer()
    assert pacer() is mine
    other = await asyncio.to_thread(lambda: asyncio.run(_pacer_of_new_loop()))
    assert other is not mine


async def _pacer_of_new_loop() -> Pacer:
    return pacer()


# --- the runner: 300 ready tasks ------------------------------------------------------


class SlowStartLLM(FakeLLM):
    """Each call costs CPU on the loop before its first byte (request building)."""

    async def stream(self, request: LLMRequest) -> AsyncIterator[Delta]:
        busy(0.0003)
        async for delta in super().stream(request):
            yield delta


class StartedCounter(RecordingSink):
    """Queues a callback at the run's first TaskStarted; it notes how many had started."""

    def __init__(self) -> None:
        super().__init__()
        self.started_when_called: list[int] = []

    def emit(self, event: RunEvent) -> None:
        super().emit(event)
        if isinstance(event, TaskStarted) and len(self.of(TaskStarted)) == 1:
            asyncio.get_running_loop().call_soon(
                lambda: self.started_when_called.append(len(self.of(TaskStarted))))


async def test_three_hundred_ready_tasks_start_a_slice_at_a_time() -> None:
    tasks = [{"id": f"t{i}", "title": f"T{i}", "agent": "writer", "instructions": "go"}
             for i in range(300)]
    sink = StartedCounter()
    runner = Runner(
        run_id="r1", plan=Plan.from_dict({"goal": "g", "tasks": tasks}), roster=load_roster(),
        llm=SlowStartLLM(), settings=ModelSettings(model="fake/model"), sink=sink,
        gate=ScriptedGate(), options=RunOptions(max_parallel=300, synthesize=False),
    )
    outcome = await runner.run()
    assert outcome.status == "completed"
    [started] = sink.started_when_called
    assert started < 150, f"the loop got no turn until {started} of 300 tasks had started"


# --- the direct route: a burst of buffered chunks ----------------------------------------


async def test_a_burst_of_buffered_chunks_is_read_in_slices(llm_server: ScriptedServer) -> None:
    await warm_up()
    llm_server.enqueue(Reply(" ".join(f"w{i}" for i in range(100)), chunks=100))
    request = LLMRequest(
        model="openai/troupe-test-model", messages=(Message("user", "Say it."),),
        api_base=llm_server.base_url, api_key="sk-test", timeout=10.0,
    )
    loop = asyncio.get_running_loop()
    deltas: list[Delta] = []
    seen: set[int] = set()

    def tick() -> None:
        seen.add(len(deltas))
        if not deltas or deltas[-1].final is None:
            loop.call_later(0.001, tick)

    tick()
    async with LiteLLMClient(direct=True) as llm:
        async for delta in llm.stream(request):
            busy(0.0003)  # what the window does with each piece
            deltas.append(delta)
    assert deltas[-1].final is not None and len(deltas) == 101
    assert len({n for n in seen if 0 < n < 101}) >= 3, "the 30 ms of chunks held the loop"


class FakeTransport:
    def __init__(self, reading: bool = True) -> None:
        self.reading = reading
        self.seen: list[str] = []

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.reading = False
        self.seen.append("pause")

    def resume_reading(self) -> None:
        self.reading = True
        self.seen.append("resume")


class FakeResponse:
    def __init__(self, transport: FakeTransport) -> None:
        self.connection = type("Connection", (), {"transport": transport})()


@pytest.mark.parametrize("cancelled", [False, True])
async def test_a_stream_waits_for_its_turn_with_its_socket_unread(cancelled: bool) -> None:
    shared = Pacer(asyncio.get_running_loop(), budget=0.0)
    assert not shared.due()
    busy(0.001)
    transport = FakeTransport()
    waiting = asyncio.create_task(_turn_with_socket_unread(FakeResponse(transport), shared))
    await asyncio.sleep(0)
    assert transport.seen == ["pause"] and not transport.reading  # arrivals gather in the socket
    if cancelled:
        waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert transport.seen == ["pause", "resume"] and transport.reading


async def test_a_socket_paused_by_aiohttp_is_left_to_aiohttp() -> None:
    shared = Pacer(asyncio.get_running_loop(), budget=0.0)
    assert not shared.due()
    transport = FakeTransport(reading=False)  # its own flow control paused it
    await _turn_with_socket_unread(FakeResponse(transport), shared)
    assert transport.seen == []


async def test_streams_of_a_busy_loop_are_whole_and_leave_the_connection_reusable(
    llm_server: ScriptedServer,
) -> None:
    await warm_up()
    llm_server.default = Reply(" ".join(f"w{i}" for i in range(20)), chunks=20, chunk_delay=0.002)
    request = LLMRequest(
        model="openai/troupe-test-model", messages=(Message("user", "Say it."),),
        api_base=llm_server.base_url, api_key="sk-test", timeout=10.0,
    )
    shared = pacer()
    shared.budget = 0.0  # every check finds the loop busy: pause, wait, resume each time
    try:
        async with LiteLLMClient(direct=True) as llm:
            for _ in range(3):  # one keep-alive connection, paused and resumed over and over
                deltas = [d async for d in llm.stream(request)]
                assert deltas[-1].final is not None
                assert deltas[-1].final.text == " ".join(f"w{i}" for i in range(20))
    finally:
        shared.budget = BUDGET
