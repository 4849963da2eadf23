"""EventWriter: non-blocking emit, batching, flush/close, concurrency, write errors."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from agents import events as ev
from agents.ports import FanOut
from app.storage import EventWriter, Store
from app.storage.db import writer_engine
from tests.app.storage_events import emit_all, finished, sample_plan


def started(run_id: str, task_id: str, attempt: int = 1) -> ev.TaskStarted:
    return ev.TaskStarted(run_id=run_id, task_id=task_id, agent="writer", attempt=attempt)


def test_flush_then_close(store: Store) -> None:
    run_id = store.create_run("P", "goal")
    writer = EventWriter(store)
    for n in range(1, 101):
        writer.emit(started(run_id, f"t{n}"))
    assert writer.flush(5)
    assert len(store.events(run_id)) == 100
    writer.emit(started(run_id, "last"))
    assert writer.close(5)  # close writes what is queued
    assert len(store.events(run_id)) == 101
    assert writer.close(5)  # idempotent
    writer.emit(started(run_id, "too late"))  # never raises into the runner...
    assert [e.event_type for e in writer.errors] == ["TaskStarted"]  # ...but is reported
    assert len(store.events(run_id)) == 101
    assert writer.flush(1)


async def test_aflush_and_context_manager(store: Store) -> None:
    run_id = store.create_run("P", "goal")
    with EventWriter(store) as writer:
        writer.emit(started(run_id, "a"))
        assert await writer.aflush()
        assert len(store.events(run_id)) == 1
        writer.emit(started(run_id, "b"))
    assert len(store.events(run_id)) == 2
    assert await writer.aclose()


def test_token_deltas_are_not_stored(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("P", "goal")
    writer.emit(ev.TokenDelta(run_id=run_id, task_id="a", text="hel"))
    writer.emit(started(run_id, "a"))
    assert writer.flush(5)
    assert [e["type"] for e in store.events(run_id)] == ["TaskStarted"]


def test_works_as_one_sink_of_a_fan_out(store: Store, writer: EventWriter) -> None:
    seen: list[ev.RunEvent] = []

    class Recorder:
        def emit(self, event: ev.RunEvent) -> None:
            seen.append(event)

    run_id = store.create_run("P", "goal")
    FanOut([writer, Recorder()]).emit(started(run_id, "a"))
    assert writer.flush(5)
    assert len(seen) == len(store.events(run_id)) == 1


async def test_many_coroutines_lose_nothing_and_keep_order(
    store: Store, writer: EventWriter
) -> None:
    run_ids = [store.create_run("P", f"goal {n}") for n in range(3)]
    emitted: dict[str, list[str]] = {r: [] for r in run_ids}

    async def worker(w: int) -> None:
        for n in range(100):
            run_id = run_ids[(w + n) % 3]
            task_id = f"w{w}-{n}"
            emitted[run_id].append(task_id)  # same loop: append order == emit order
            writer.emit(started(run_id, task_id))
            if n % 7 == 0:
                await asyncio.sleep(0)

    await asyncio.gather(*(worker(w) for w in range(50)))
    assert await writer.aflush()
    assert writer.errors == []
    for run_id in run_ids:
        stored = store.events(run_id)
        assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
        assert [e["task_id"] for e in stored] == emitted[run_id]
    assert sum(len(v) for v in emitted.values()) == 5000
    assert writer.written == 5000
    assert writer.batches < 5000  # batched, not one transaction per event


def test_many_threads_lose_nothing(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("P", "goal")

    def worker(w: int) -> None:
        for n in range(500):
            writer.emit(started(run_id, f"w{w}", attempt=n + 1))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.flush(10)
    stored = store.events(run_id)
    assert [e["seq"] for e in stored] == list(range(1, 4001))
    for w in range(8):  # each thread's events keep their relative order
        attempts = [e["attempt"] for e in stored if e["task_id"] == f"w{w}"]
        assert attempts == list(range(1, 501))


def test_emit_never_blocks_even_when_the_database_is_locked(store: Store) -> None:
    run_id = store.create_run("P", "goal")
    writer = EventWriter(store)
    with writer_engine(store.engine).connect() as blocker:
        lock = blocker.begin()  # BEGIN IMMEDIATE: hold the write lock
        start = time.perf_counter()
        for n in range(1000):
            writer.emit(started(run_id, f"t{n}"))
        assert time.perf_counter() - start < 0.1
        assert not writer.flush(0.2)  # the writer is waiting on the lock
        lock.rollback()
    assert writer.flush(10)
    assert len(store.events(run_id)) == 1000
    assert writer.errors == []
    writer.close()


def test_a_bad_event_costs_only_itself(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("P", "goal")
    bad_plan = {"goal": "g", "tasks": [{"title": "no id"}]}  # the projection will fail
    emit_all(writer, [ev.RunStarted(run_id=run_id, goal="g", plan=sample_plan())])
    for event in [
        started(run_id, "r1"),
        ev.RunStarted(run_id=run_id, goal="g", plan=bad_plan),
        finished(run_id, "r1", "fine"),
    ]:
        writer.emit(event)
    assert writer.flush(5)
    (error,) = writer.errors
    assert error.event_type == "RunStarted" and "KeyError" in error.message
    # The other events of the batch and the audit row of the bad one are stored.
    assert [e["type"] for e in store.events(run_id)] == [
        "RunStarted",
        "TaskStarted",
        "RunStarted",
        "TaskFinished",
    ]
    assert store.get_run(run_id).task("r1").output == "fine"
    writer.emit(finished(run_id, "r2", "the thread is still alive"))
    assert writer.flush(5)
    assert store.get_run(run_id).task("r2").status == "completed"


def test_stored_json_is_the_events_to_dict_form(store: Store) -> None:
    from app.storage.writer import event_json
    from tests.app.storage_events import first_half, second_half

    for event in first_half("r", sample_plan()) + second_half("r"):
        expected = {k: v for k, v in event.to_dict().items() if k not in ("run_id", "ts", "type")}
        assert json.loads(event_json(event)) == json.loads(json.dumps(expected))
