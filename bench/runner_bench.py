"""Fan-out and pipeline through Troupe's runner (persistence on, streamed)
beside plain asyncio.gather over litellm.acompletion, against a local server
in another process.

    python -m bench.runner_bench            # prints the table

Each measurement runs in a fresh subprocess so peak RSS and CPU are its own.
Targets (issue 2): fan-out at 200 ms <= 2.0 s wall and <= 5 ms CPU per call;
pipeline within 3% of 50 x latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

FAN_OUT, PIPELINE = 300, 50
MODEL = "openai/bench-model"


# --- one measurement (runs in a child process) ------------------------------------


async def troupe_fan_out(base_url: str, n: int, service) -> int:  # type: ignore[no-untyped-def]
    from agents.ports import ApproveAll  # noqa: PLC0415
    from app.runs.service import RunConfig  # noqa: PLC0415

    config = RunConfig(model=MODEL, api_base=base_url, max_parallel=n)
    run_id = service.create_run("bench", "fan-out", config)
    plan = (await service.plan(run_id, "fan-out", config)).plan
    outcome = await service.start(run_id, plan, config, ApproveAll()).run()
    await service.aclose_llm()
    assert outcome.status == "completed", outcome.error
    return len(plan.leaves()) + 2


async def troupe_pipeline(base_url: str, n: int, service) -> int:  # type: ignore[no-untyped-def]
    """Times only runner.run() and the final flush: run creation, the key
    lookup and building the Runner are per-run set-up, done in prepare."""
    outcome = await service.bench_runner.run()
    await service.writer.aflush()
    await service.aclose_llm()
    assert outcome.status == "completed", outcome.error
    return n


def _prepare_pipeline(base_url: str, n: int, service):  # type: ignore[no-untyped-def]
    from agents.plan import Plan  # noqa: PLC0415
    from agents.ports import ApproveAll  # noqa: PLC0415
    from agents.run.runner import Runner, RunOptions  # noqa: PLC0415
    from app.runs.service import RunConfig  # noqa: PLC0415
    from bench.serve import fan_out_plan  # noqa: PLC0415

    config = RunConfig(model=MODEL, api_base=base_url, max_parallel=8)
    run_id = service.create_run("bench", "pipeline", config)
    plan = Plan.from_dict(json.loads(fan_out_plan(n, pipeline=True)))

    async def build() -> Runner:  # the Runner's primitives belong to the loop that runs it
        return Runner(
            run_id=run_id, plan=plan, roster=service.roster, llm=service.llm,
            settings=service.model_settings(config), sink=service.writer, gate=ApproveAll(),
            options=RunOptions(max_parallel=8, synthesize=False),
        )

    return build


def _service(n: int):  # type: ignore[no-untyped-def]
    from app.runs.service import RunService  # noqa: PLC0415
    from app.settings import Settings  # noqa: PLC0415
    from app.storage import open_database  # noqa: PLC0415

    home = Path(tempfile.mkdtemp(prefix="troupe-bench-"))
    return RunService(open_database(home / "troupe.db"), settings=Settings(max_parallel=n))


async def raw_fan_out(base_url: str, n: int, service=None) -> int:  # type: ignore[no-untyped-def]
    await asyncio.gather(*(_raw_call(base_url) for _ in range(n)))
    return n


async def raw_pipeline(base_url: str, n: int, service=None) -> int:  # type: ignore[no-untyped-def]
    for _ in range(n):
        await _raw_call(base_url)
    return n


async def _raw_call(base_url: str) -> str:
    import litellm  # noqa: PLC0415

    stream = await litellm.acompletion(
        model=MODEL, api_base=base_url, api_key="sk-bench", stream=True,
        messages=[{"role": "user", "content": "Say a few words."}],
        stream_options={"include_usage": True},
    )
    parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    return "".join(parts)


SCENARIOS = {
    ("troupe", "fan-out"): (troupe_fan_out, FAN_OUT),
    ("troupe", "pipeline"): (troupe_pipeline, PIPELINE),
    ("litellm", "fan-out"): (raw_fan_out, FAN_OUT),
    ("litellm", "pipeline"): (raw_pipeline, PIPELINE),
}


def measure(kind: str, shape: str, base_url: str) -> dict:
    func, n = SCENARIOS[(kind, shape)]
    _warm_up(base_url)
    # Opening (and migrating) the database is start-up, not per-call work.
    service = _service(n) if kind == "troupe" else None
    loop = asyncio.new_event_loop()
    if shape == "pipeline" and service is not None:
        service.bench_runner = loop.run_until_complete(_prepare_pipeline(base_url, n, service)())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    calls = loop.run_until_complete(func(base_url, n, service))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    loop.close()
    if service is not None:
        service.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall_s": wall, "cpu_ms_per_call": cpu * 1000 / calls, "calls": calls, "rss_mb": rss_mb}


def _warm_up(base_url: str) -> None:
    """Import litellm and resolve the model once, through both routes measured:
    start-up is not per-call work."""
    asyncio.run(_raw_call(base_url))
    asyncio.run(_troupe_call(base_url))


async def _troupe_call(base_url: str) -> None:
    from agents.llm.client import LiteLLMClient  # noqa: PLC0415
    from agents.ports import LLMRequest, Message  # noqa: PLC0415

    async with LiteLLMClient() as llm:
        await llm.complete(LLMRequest(model=MODEL, messages=(Message("user", "hi"),),
                                      api_base=base_url, api_key="sk-bench"))


# --- the driver ----------------------------------------------------------------------


@contextmanager
def server(latency: float, pipeline: bool):  # type: ignore[no-untyped-def]
    cmd = [sys.executable, "-m", "bench.serve", "--latency", str(latency), "--chunks", "20",
           "--tasks", str(PIPELINE if pipeline else FAN_OUT)] + (["--pipeline"] if pipeline else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_child(kind: str, shape: str, base_url: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.runner_bench", "--child", kind, shape, base_url],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SHAPE", "URL"))
    parser.add_argument("--latency", type=float, nargs="*", default=[0.0, 0.2])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return
    rows = []
    for latency in args.latency:
        for shape in ("fan-out", "pipeline"):
            with server(latency, shape == "pipeline") as url:
                for kind in ("troupe", "litellm"):
                    rows.append((shape, int(latency * 1000), kind, run_child(kind, shape, url)))
    print_table(rows)


def print_table(rows: list) -> None:
    print(f"{'scenario':<10} {'latency':>8} {'via':<8} {'calls':>6} {'wall s':>8} "
          f"{'CPU ms/call':>12} {'peak RSS MB':>12} {'ideal s':>8} {'over ideal':>10}")
    for shape, latency_ms, kind, r in rows:
        ideal = _ideal(shape, kind, latency_ms / 1000)
        over = f"{(r['wall_s'] / ideal - 1) * 100:+.1f}%" if ideal else "-"
        print(f"{shape:<10} {latency_ms:>6}ms {kind:<8} {r['calls']:>6} {r['wall_s']:>8.2f} "
              f"{r['cpu_ms_per_call']:>12.2f} {r['rss_mb']:>12.0f} {ideal:>8.2f} {over:>10}")


def _ideal(shape: str, kind: str, latency: float) -> float:
    """Wall time if the only cost were the server's latency."""
    if shape == "pipeline":
        return PIPELINE * latency
    return (3 if kind == "troupe" else 1) * latency  # planner, workers, synthesizer


if __name__ == "__main__":
    main()
