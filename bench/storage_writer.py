"""Does persisting events slow the runner? Emits N events from an asyncio loop.

    .venv/bin/python bench/storage_writer.py [--events 50000] [--dir PATH]

The event mix is a realistic run: RunStarted with a 20-task plan, then per task
TaskStarted, 2 LLMCallFinished, TaskFinished (~1 KB output, full-text indexed)
and 2 TokenDeltas (emit() drops those: persist=False), then RunFinished.
One coroutine per run emits, yielding to the loop every few events.

Scenarios (each on a fresh SQLite file):
  null sink     the same coroutines emitting into a sink that drops everything
  event writer  the same into EventWriter; then a 1 ms ticker runs on the loop
                while the writer thread drains the backlog (loop lag caused by
                the writer: GIL contention)
  drain only    everything queued while the database is locked, then released:
                the writer's pure throughput
  idle loop     the ticker on an idle loop: the lag baseline
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import events as ev
from app.storage import EventWriter, Store, open_database
from app.storage.db import writer_engine

TASKS_PER_RUN = 20
OUTPUT = "Penguins are flightless seabirds. " * 30  # ~1 KB
CALL: dict[str, Any] = dict(
    model="openai/gpt-4o-mini",
    prompt_tokens=500,
    completion_tokens=300,
    cost=0.0003,
    cost_known=True,
    latency_ms=850.0,
)


@dataclass
class Result:
    name: str
    emitted: int = 0
    stored: int = 0
    emit_ns: list[int] = field(default_factory=list)
    loop_s: float | None = None
    written_s: float | None = None
    lag_ms: list[float] = field(default_factory=list)


class NullSink:
    def emit(self, event: ev.RunEvent) -> None:
        pass


# --- the workload ------------------------------------------------------------------------


def plan(run_no: int) -> dict[str, Any]:
    task = {"agent": "writer", "instructions": "Do it.", "depends_on": [], "children": []}
    tasks = [{"id": f"t{i}", "title": f"Task {i}", **task} for i in range(TASKS_PER_RUN)]
    return {"goal": f"Goal {run_no}", "tasks": tasks}


def task_events(run_id: str, task_id: str) -> list[ev.RunEvent]:
    now = time.time()
    return [
        ev.TaskStarted(run_id=run_id, task_id=task_id, agent="writer", attempt=1),
        ev.TokenDelta(run_id=run_id, task_id=task_id, text="Peng"),
        ev.LLMCallFinished(run_id=run_id, task_id=task_id, purpose="task", **CALL),
        ev.TokenDelta(run_id=run_id, task_id=task_id, text="uins"),
        ev.LLMCallFinished(run_id=run_id, task_id=task_id, purpose="task", **CALL),
        ev.TaskFinished(
            run_id=run_id,
            task_id=task_id,
            output=OUTPUT,
            attempts=1,
            prompt_tokens=1000,
            completion_tokens=600,
            cost=0.0006,
            started=now,
            finished=now,
        ),
    ]


def make_runs(store: Store | None, persisted: int) -> list[list[ev.RunEvent]]:
    """Per run, its events; about `persisted` events worth storing in all."""
    per_run = 2 + TASKS_PER_RUN * 4
    runs = []
    for n in range(max(1, persisted // per_run)):
        run_id = store.create_run("bench", f"Goal {n}") if store else f"run{n}"
        events: list[ev.RunEvent] = [ev.RunStarted(run_id=run_id, goal=f"Goal {n}", plan=plan(n))]
        for i in range(TASKS_PER_RUN):
            events += task_events(run_id, f"t{i}")
        events.append(
            ev.RunFinished(
                run_id=run_id, status="completed", prompt_tokens=1, completion_tokens=1, cost=0.1
            )
        )
        runs.append(events)
    return runs


async def emit_runs(
    runs: list[list[ev.RunEvent]], emit: Callable[[ev.RunEvent], None], result: Result
) -> None:
    """One coroutine per run, like concurrent tasks; yields to the loop often."""

    async def one(events: list[ev.RunEvent]) -> None:
        for i, event in enumerate(events):
            t0 = time.perf_counter_ns()
            emit(event)
            result.emit_ns.append(time.perf_counter_ns() - t0)
            if i % 5 == 0:
                await asyncio.sleep(0)

    start = time.perf_counter()
    await asyncio.gather(*(one(events) for events in runs))
    result.loop_s = time.perf_counter() - start
    result.emitted = len(result.emit_ns)


async def tick_until(done: Callable[[], bool], lags: list[float], at_least: float = 0.0) -> None:
    """Sleep 1 ms repeatedly, recording how late each wake-up was."""
    start = time.perf_counter()
    while not done() or time.perf_counter() - start < at_least:
        t0 = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - t0 - 0.001) * 1000)


# --- scenarios ---------------------------------------------------------------------------


async def scenario_null(persisted: int) -> Result:
    result = Result("null sink")
    await emit_runs(make_runs(None, persisted), NullSink().emit, result)
    return result


async def scenario_writer(db: Path, persisted: int) -> Result:
    result = Result("event writer")
    store = open_database(db)
    runs = make_runs(store, persisted)
    writer = EventWriter(store)
    start = time.perf_counter()
    await emit_runs(runs, writer.emit, result)
    flushed = asyncio.ensure_future(writer.aflush(300))
    await tick_until(flushed.done, result.lag_ms)
    assert await flushed
    result.written_s = time.perf_counter() - start
    result.stored = writer.written
    assert not writer.errors, writer.errors[:3]
    await writer.aclose()
    store.close()
    return result


def scenario_drain(db: Path, persisted: int) -> Result:
    result = Result("drain only")
    store = open_database(db)
    runs = make_runs(store, persisted)
    writer = EventWriter(store)
    with writer_engine(store.engine).begin():  # BEGIN IMMEDIATE: writer waits meanwhile
        for event in (e for events in runs for e in events):
            t0 = time.perf_counter_ns()
            writer.emit(event)
            result.emit_ns.append(time.perf_counter_ns() - t0)
        result.emitted = len(result.emit_ns)
    start = time.perf_counter()
    assert writer.flush(300)
    result.written_s = time.perf_counter() - start
    result.stored = writer.written
    writer.close()
    store.close()
    return result


async def scenario_idle(seconds: float) -> Result:
    result = Result("idle loop")
    await tick_until(lambda: True, result.lag_ms, at_least=seconds)
    return result


# --- report ------------------------------------------------------------------------------


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else 0.0


def row(r: Result) -> list[str]:
    ns = [float(v) for v in r.emit_ns]
    return [
        r.name,
        f"{r.emitted:,}" if r.emitted else "-",
        f"{r.stored:,}" if r.stored else "-",
        f"{statistics.mean(ns) / 1000:.2f}" if ns else "-",
        f"{pct(ns, 99) / 1000:.2f}" if ns else "-",
        f"{r.loop_s * 1000:.0f}" if r.loop_s else "-",
        f"{r.written_s * 1000:.0f}" if r.written_s else "-",
        f"{r.stored / r.written_s:,.0f}" if r.written_s else "-",
        f"{statistics.mean(r.lag_ms):.3f}" if r.lag_ms else "-",
        f"{pct(r.lag_ms, 99):.3f}" if len(r.lag_ms) > 1 else "-",
    ]


HEADERS = [
    "scenario",
    "emitted",
    "stored",
    "emit us",
    "emit p99 us",
    "loop ms",
    "written ms",
    "stored/s",
    "lag ms",
    "lag p99 ms",
]
NOTES = """
emit us:    mean time inside emit() per call (TokenDeltas included, dropped at once)
loop ms:    wall time of the emitting coroutines
written ms: event writer: first emit -> all stored; drain only: lock released -> all stored
lag ms:     how late a 1 ms asyncio.sleep woke up (event writer: while the writer drains)"""


def report(results: list[Result]) -> None:
    table = [HEADERS] + [row(r) for r in results]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    for n, line in enumerate(table):
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(NOTES)


def main() -> None:
    parser = argparse.ArgumentParser(description="EventWriter benchmark")
    parser.add_argument("--events", type=int, default=50_000, help="events to store (approx.)")
    parser.add_argument("--dir", type=Path, help="directory for the SQLite files (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        writer = asyncio.run(scenario_writer(folder / "bench-writer.db", args.events))
        results = [
            asyncio.run(scenario_null(args.events)),
            writer,
            scenario_drain(folder / "bench-drain.db", args.events),
            asyncio.run(scenario_idle(max(1.0, writer.written_s or 0.0))),
        ]
    report(results)


if __name__ == "__main__":
    main()
