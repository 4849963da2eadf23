"""UI timer lag while 300 agents stream into the real window.

    .venv/bin/python -m bench.ui_bench [--tasks 300] [--chunks 50] [--latency 0.2]
        [--chunk-delay 0.02] [--repeat N] [--profile] [--floor] [--callbacks] [--json PATH]
        [--map --parallel 100]   # a map over --tasks items instead of --tasks tasks

The scripted OpenAI-compatible server (bench.serve) runs in its own process;
the measured process is a fresh child (`--child URL`), so its CPU is its own.
The child builds the real MainWindow (offscreen Qt) on a qasync loop with a
RunService on a temporary database (Settings(max_parallel=tasks)), imports
litellm first (start-up is not what is measured), types a goal and clicks
Send; the planner returns a plan of N independent tasks; then it triggers
"Run plan" (the window's own action) and waits for the deliverable card.
`--chunk-delay` is passed to bench.serve only if it has that option; without
it each answer's chunks arrive in one burst after the latency.

A QTimer (Qt.PreciseTimer) fires every 10 ms on the UI thread; lag = actual
interval - 10 ms, reported per phase: idle (a baseline), planning, plan shown,
and run (Run plan -> deliverable card shown, the one the target is about).
Also the run's wall time, the process CPU (every thread: the UI thread and the
history writer; litellm's import is already done) and the UI thread's own CPU
(time.thread_time() on it), and the server process's CPU.

Every Session.emit() (the one entry of run events into the widgets) is timed
per event type, and the ten longest gaps between ticks are listed with the UI
thread's CPU inside them and the slow emits among it, so a miss points at a
handler, or away from the widgets. --profile adds cProfile on the UI thread
over the run (it slows it: the lag numbers of a profiled run are not the
benchmark's); --floor keeps all but the three run-level events away from the
widgets, to see the agents' and HTTP client's own lag on the UI thread;
--callbacks times every loop callback and lists the slow ones (> 10 ms) in the
gaps, named by the coroutine and where it stopped, so a miss points at code.

Target: run p99 lag <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TICK_MS = 10
TARGET_P99_MS = 50.0
GOAL = "Benchmark: 300 agents at once"


# --- the measured process -------------------------------------------------------------


class LagProbe:
    """A 10 ms PreciseTimer on the UI thread; records each tick's lag."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer  # noqa: PLC0415

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[float] = []
        self.phase = "idle"
        self.phases: dict[str, list[float]] = {}
        self.gaps: list[tuple[float, float, str, float]] = []
        """(lag ms, tick time, phase, UI thread CPU ms in the gap) of every late tick."""
        self._cpu = 0.0
        self.run_started = 0.0
        self.activity: list[tuple[float, str, float]] = []
        """(perf_counter at the end, event type, seconds) of every slow Session.emit."""

    def start(self, phase: str) -> None:
        self.phase = phase
        self.ticks = [time.perf_counter()]
        self._cpu = time.thread_time()
        self.timer.start()

    def switch(self, phase: str) -> None:
        self.phase = phase

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        lag = (now - self.ticks[-1]) * 1000 - TICK_MS
        self.ticks.append(now)
        self.phases.setdefault(self.phase, []).append(lag)
        if lag > 20:
            self.gaps.append((lag, now, self.phase, (cpu - self._cpu) * 1000))
        self._cpu = cpu


class EmitTimer:
    """Wraps Session.emit: seconds per event type, and the slow calls.

    With `floor`, only the run-level events (RunStarted, RunFinished,
    DeliverableReady: three in all) reach the widgets: what is left of the lag is the
    agents' and the HTTP client's own work on the UI thread.
    """

    def __init__(self, session: Any, probe: LagProbe, floor: bool = False) -> None:
        self.totals: dict[str, list[float]] = {}
        inner = session.emit
        if floor:
            from agents.events import DeliverableReady, RunFinished, RunStarted  # noqa: PLC0415

            real = inner

            def inner(event: Any) -> None:
                if isinstance(event, RunStarted | DeliverableReady | RunFinished):
                    real(event)

        def timed(event: Any) -> None:
            t0 = time.perf_counter()
            inner(event)
            t1 = time.perf_counter()
            name = type(event).__name__
            self.totals.setdefault(name, []).append(t1 - t0)
            if t1 - t0 > 0.002:
                probe.activity.append((t1, name, t1 - t0))

        session.emit = timed  # the instance attribute shadows the method for FanOut


def _time_callbacks(probe: LagProbe, threshold: float = 0.01) -> None:
    """Note every asyncio callback (qasync runs each as a Qt timer) slower than `threshold`."""
    import asyncio.events  # noqa: PLC0415

    run = asyncio.events.Handle._run

    def timed(handle: Any) -> None:
        t0 = time.perf_counter()
        run(handle)
        t1 = time.perf_counter()
        if t1 - t0 > threshold:
            probe.activity.append((t1, _describe(handle), t1 - t0))

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]
    _time_gc(probe, threshold)


def _time_gc(probe: LagProbe, threshold: float) -> None:
    """Note garbage collections slower than `threshold` (a full one walks all of litellm)."""
    import gc  # noqa: PLC0415

    started = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            started[0] = now
        elif now - started[0] > threshold:
            probe.activity.append((now, f"gc of generation {info['generation']}", now - started[0]))

    gc.callbacks.append(timed)


def _describe(handle: Any) -> str:
    """A callback's name: a task's coroutine and where it stopped, else the function."""
    import asyncio  # noqa: PLC0415

    owner = getattr(handle._callback, "__self__", None)
    if not isinstance(owner, asyncio.Task):
        return f"callback {getattr(handle._callback, '__qualname__', handle._callback)}"
    frame, awaited = None, owner.get_coro()
    while awaited is not None:  # down to the innermost coroutine or generator it waits on
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None) or frame
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    where = f" @ {frame.f_code.co_qualname}:{frame.f_lineno}" if frame is not None else " (done)"
    return f"task {owner.get_coro().__qualname__}{where}"


def _wire_emit_timer(window: Any, probe: LagProbe, floor: bool) -> EmitTimer:
    # Session passes `[self]` as its sink when it builds the Runner, so the
    # instance attribute must be in place before the run starts.
    return EmitTimer(window.session, probe, floor)


async def _until(predicate: Any, limit_s: float) -> None:
    import asyncio  # noqa: PLC0415

    deadline = time.monotonic() + limit_s
    while not predicate():  # noqa: ASYNC110 - polling widgets, which change state without events
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        await asyncio.sleep(0.005)


async def _scenario(window: Any, probe: LagProbe, tasks: int, profile: bool,
                    floor: bool, callbacks: bool = False, mapped: bool = False) -> dict[str, Any]:
    import asyncio  # noqa: PLC0415

    from agents.llm.litellm_info import warm_up  # noqa: PLC0415
    from ui.conversation import DeliverableCard  # noqa: PLC0415

    await warm_up()  # litellm's import is start-up, not streaming
    await asyncio.sleep(0.3)
    probe.start("idle")
    await asyncio.sleep(1.0)
    probe.switch("planning")
    window.goal.setPlainText(GOAL)
    t0 = time.perf_counter()
    window.send.click()
    send_ms = (time.perf_counter() - t0) * 1000
    last = "each" if mapped else f"t{tasks - 1}"
    await _until(lambda: window.plan_model.has_task(last) and not window.session._jobs, 60)
    probe.switch("plan shown")
    await asyncio.sleep(0.5)
    probe.switch("run")
    emit_timer = _wire_emit_timer(window, probe, floor)
    if callbacks:
        _time_callbacks(probe)
    profiler = None
    if profile:
        import cProfile  # noqa: PLC0415

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0, thread0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
    probe.run_started = wall0
    window.run_action.trigger()
    trigger_ms = (time.perf_counter() - wall0) * 1000

    def done() -> bool:
        return (window.session.handle is None and not window.session._jobs
                and any(isinstance(w, DeliverableCard) for w in window.conversation.items()))

    await _until(done, 300)
    wall = time.perf_counter() - wall0
    cpu, thread_cpu = time.process_time() - cpu0, time.thread_time() - thread0
    if profiler is not None:
        profiler.disable()
    probe.switch("after")
    await asyncio.sleep(0.3)
    probe.stop()
    run = window.service.get_run(window.session.run_id)
    result = {
        "status": run.status, "tasks": len(run.tasks), "wall_s": wall, "cpu_s": cpu,
        "ui_thread_cpu_s": thread_cpu, "phases": probe.phases,
        "gaps": _explain_gaps(probe),
        "emit": {k: [len(v), sum(v), max(v)] for k, v in emit_timer.totals.items()},
        "live_flushes": window.run_view.output.flushes, "trigger_ms": trigger_ms,
        "send_ms": send_ms,
    }
    if profiler is not None:
        result["profile"] = _profile_text(profiler)
    return result


def _explain_gaps(probe: LagProbe, top: int = 10) -> list[dict[str, Any]]:
    """The longest late ticks, with the slow Session.emit calls inside each gap."""
    out = []
    for lag, end, phase, cpu_ms in sorted(probe.gaps, reverse=True)[:top]:
        start = end - (lag + TICK_MS) / 1000
        inside: dict[str, list[float]] = {}
        for t, name, seconds in probe.activity:
            if start <= t <= end:
                slot = inside.setdefault(name, [0, 0.0])
                slot[0] += 1
                slot[1] += seconds
        out.append({"lag_ms": lag, "phase": phase, "cpu_ms": cpu_ms,
                    "at_s": start - probe.run_started, "slow_emits": {
            k: f"{n} x, {s * 1000:.0f} ms" for k, (n, s) in sorted(inside.items(), key=lambda kv: -kv[1][1])}})
    return out


def _profile_text(profiler: Any) -> str:
    import io  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)
    return out.getvalue()


def child(base_url: str, tasks: int, profile: bool, floor: bool,
          callbacks: bool = False, mapped: bool = False, parallel: int = 0) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    home = Path(tempfile.mkdtemp(prefix="troupe-ui-bench-"))
    os.environ["TROUPE_HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")  # no saved window layout
    import asyncio  # noqa: PLC0415

    import qasync  # noqa: PLC0415
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    from app.runs.service import RunService  # noqa: PLC0415
    from app.settings import Settings  # noqa: PLC0415
    from app.storage import open_database  # noqa: PLC0415
    from ui.main_window import MainWindow  # noqa: PLC0415

    app = QApplication.instance() or QApplication([sys.argv[0]])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    settings = Settings(default_model="openai/bench-model", api_base=base_url,
                        max_parallel=parallel or tasks)
    service = RunService(open_database(home / "troupe.db"), settings=settings)
    window = MainWindow(service)
    window.resize(1680, 980)
    window.show()
    probe = LagProbe()
    try:
        result = loop.run_until_complete(asyncio.wait_for(_scenario(window, probe, tasks, profile, floor, callbacks,
                                                                  mapped), 600))
    finally:
        loop.run_until_complete(service.aclose_llm())
        window.close()
        service.close()
    return result


# --- the driver ---------------------------------------------------------------------


def _serve_supports_chunk_delay() -> bool:
    out = subprocess.run([sys.executable, "-m", "bench.serve", "--help"], cwd=ROOT,
                         capture_output=True, text=True)
    return "--chunk-delay" in out.stdout


@contextmanager
def server(tasks: int, chunks: int, latency: float,
           chunk_delay: float, mapped: bool = False) -> Iterator[tuple[str, str, int]]:
    cmd = [sys.executable, "-m", "bench.serve", "--latency", str(latency), "--chunks", str(chunks),
           "--tasks", str(tasks)] + (["--map"] if mapped else [])
    note = f"latency {latency * 1000:.0f} ms, {chunks} chunks"
    if chunk_delay > 0:
        if _serve_supports_chunk_delay():
            cmd += ["--chunk-delay", str(chunk_delay)]
            note += f", {chunk_delay * 1000:.0f} ms between chunks"
        else:
            note += " (bench.serve has no --chunk-delay: chunks arrive in one burst)"
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), note, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_child(url: str, tasks: int, profile: bool, floor: bool,
              callbacks: bool = False, mapped: bool = False, parallel: int = 0) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.ui_bench", "--child", url, "--tasks", str(tasks),
           "--parallel", str(parallel)] + (["--map"] if mapped else [])
    for flag, on in (("--profile", profile), ("--floor", floor), ("--callbacks", callbacks)):
        if on:
            cmd.append(flag)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"child failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cpu_of(pid: int) -> float | None:
    """CPU seconds a process has used so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stats(lags: list[float]) -> tuple[float, float, float, int]:
    if not lags:
        return 0.0, 0.0, 0.0, 0
    ordered = sorted(lags)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered), p99, ordered[-1], len(ordered)


def print_report(r: dict[str, Any], note: str, tasks: int) -> None:
    print(f"{tasks} tasks, max_parallel {tasks}; server: {note}")
    server_cpu = r.get("server_cpu_s")
    if server_cpu is not None:
        print(f"machine: {os.cpu_count()} CPUs; the server process used {server_cpu:.2f} s CPU "
              "over the whole child (planning and run)")
    print(f"run: {r['status']}, {r['tasks']} task rows, wall {r['wall_s']:.2f} s, "
          f"process CPU {r['cpu_s']:.2f} s, UI thread CPU {r['ui_thread_cpu_s']:.2f} s "
          f"({r['ui_thread_cpu_s'] / r['wall_s'] * 100:.0f}% of wall), live-output flushes {r['live_flushes']}")
    print(f"handlers on the UI thread: Send click {r['send_ms']:.1f} ms, Run plan action {r['trigger_ms']:.1f} ms")
    print(f"\n{'10 ms timer lag':<18} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'samples':>8}")
    for phase in ("idle", "planning", "plan shown", "run"):
        p50, p99, worst, n = _stats(r["phases"].get(phase, []))
        print(f"{phase:<18} {p50:>8.1f} {p99:>8.1f} {worst:>8.1f} {n:>8}")
    run_lags = r["phases"].get("run", [])
    stalled = sum(lag + TICK_MS for lag in run_lags if lag > TARGET_P99_MS) / 1000
    print(f"run: {stalled:.2f} s of {r['wall_s']:.2f} s in gaps > {TARGET_P99_MS:.0f} ms "
          f"({stalled / r['wall_s'] * 100:.0f}%)")
    p99 = _stats(run_lags)[1]
    print(f"target run p99 <= {TARGET_P99_MS:.0f} ms: {'OK' if p99 <= TARGET_P99_MS else 'MISSED'}")
    print(f"\n{'Session.emit by event':<22} {'count':>7} {'total ms':>9} {'max ms':>8}")
    for name, (n, total, worst) in sorted(r["emit"].items(), key=lambda kv: -kv[1][1]):
        print(f"{name:<22} {n:>7} {total * 1000:>9.1f} {worst * 1000:>8.2f}")
    count = sum(v[0] for v in r["emit"].values())
    print(f"{'all':<22} {count:>7} {sum(v[1] for v in r['emit'].values()) * 1000:>9.1f}")
    print("\nlongest gaps between ticks (UI thread CPU, slow Session.emit calls inside them):")
    for gap in r["gaps"]:
        inside = "; ".join(f"{k}: {v}" for k, v in gap["slow_emits"].items()) or "no slow emit"
        where = f"run +{gap['at_s']:.2f} s" if gap["phase"] == "run" else gap["phase"]
        print(f"  {gap['lag_ms']:>7.1f} ms [{where}], UI thread CPU in it {gap['cpu_ms']:>6.1f} ms: {inside}")
    if "profile" in r:
        print("\ncProfile of the UI thread over the run:\n")
        print(r["profile"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", metavar="URL")
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--chunk-delay", type=float, default=0.02,
                        help="seconds between streamed chunks, if bench.serve supports it")
    parser.add_argument("--profile", action="store_true", help="cProfile the UI thread over the run")
    parser.add_argument("--floor", action="store_true",
                        help="diagnosis: keep run events away from the widgets (the agents' own lag)")
    parser.add_argument("--callbacks", action="store_true",
                        help="diagnosis: list loop callbacks slower than 10 ms in the gaps")
    parser.add_argument("--repeat", type=int, default=1, help="runs against the same server")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results there")
    parser.add_argument("--map", action="store_true",
                        help="the plan is a list of --tasks items and a map over it (issue 14)")
    parser.add_argument("--parallel", type=int, default=0, help="the run's parallel limit (default: --tasks)")
    args = parser.parse_args()
    if args.child:
        sys.stdout.write(json.dumps(child(args.child, args.tasks, args.profile, args.floor,
                                          args.callbacks, args.map, args.parallel)) + "\n")
        sys.stdout.flush()
        os._exit(0)  # qasync's executor thread would abort a normal exit; teardown is not measured
    results = []
    with server(args.tasks, args.chunks, args.latency, args.chunk_delay, args.map) as (url, note, pid):
        for _ in range(args.repeat):
            cpu0 = _cpu_of(pid)
            result = run_child(url, args.tasks, args.profile, args.floor, args.callbacks, args.map,
                               args.parallel)
            cpu1 = _cpu_of(pid)
            result["server_cpu_s"] = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
            results.append(result)
    if args.json:
        Path(args.json).write_text(json.dumps({"note": note, "results": results}))
    if args.floor:
        note += "; FLOOR: widgets get no run events"
    if args.map:
        note += f"; a map over {args.tasks} items, {args.parallel or args.tasks} in parallel"
    for result in results:
        print_report(result, note, args.tasks)
        print()


if __name__ == "__main__":
    main()
