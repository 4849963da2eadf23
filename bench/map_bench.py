"""A map over 1,000 items through Troupe's runner (issue 14's swarm), persistence on,
against the scripted server in another process at 200 ms per answer.

    python -m bench.map_bench [--items 1000] [--latency 0.2] [--parallel 100 200]

Each measurement runs in a fresh subprocess so peak RSS and CPU are its own.
The ideal is the latency times the waves the run's parallel limit allows:
1 (the list) + ceil(items / parallel) + 1 (the deliverable).
Targets: within 1.5x of the ideal, <= 2 ms CPU per sub-agent call.
The window's UI-thread lag under a map is not measured here yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

MODEL = "openai/bench-model"


async def _run(base_url: str, items: int, parallel: int) -> tuple[int, float]:
    from agents.plan import Plan  # noqa: PLC0415
    from agents.ports import ApproveAll  # noqa: PLC0415
    from app.runs.service import RunConfig, RunService  # noqa: PLC0415
    from app.settings import Settings  # noqa: PLC0415
    from app.storage import open_database  # noqa: PLC0415
    from bench.serve import map_plan  # noqa: PLC0415

    home = Path(tempfile.mkdtemp(prefix="troupe-map-bench-"))
    service = RunService(open_database(home / "troupe.db"), settings=Settings(max_parallel=parallel))
    config = RunConfig(model=MODEL, api_base=base_url, max_parallel=parallel)
    run_id = service.create_run("bench", "map", config)
    plan = Plan.from_dict(json.loads(map_plan(items)))
    await _warm(base_url)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    outcome = await service.start(run_id, plan, config, ApproveAll()).run()
    await service.writer.aflush()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    await service.aclose_llm()
    service.close()
    assert outcome.status == "completed", outcome.error
    return items + 2, wall, cpu  # type: ignore[return-value]


async def _warm(base_url: str) -> None:
    from agents.llm.client import LiteLLMClient  # noqa: PLC0415
    from agents.ports import LLMRequest, Message  # noqa: PLC0415

    async with LiteLLMClient() as llm:
        await llm.complete(LLMRequest(model=MODEL, messages=(Message("user", "hi"),),
                                      api_base=base_url, api_key="sk-bench"))


def child(base_url: str, items: int, parallel: int) -> dict:
    calls, wall, cpu = asyncio.run(_run(base_url, items, parallel))  # type: ignore[misc]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"calls": calls, "wall_s": wall, "cpu_ms_per_call": cpu * 1000 / calls, "rss_mb": rss_mb}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("URL", "ITEMS", "PARALLEL"))
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--parallel", type=int, nargs="*", default=[100, 200])
    args = parser.parse_args()
    if args.child:
        url, items, parallel = args.child
        print(json.dumps(child(url, int(items), int(parallel))))
        return
    cmd = [sys.executable, "-m", "bench.serve", "--latency", str(args.latency), "--chunks", "20",
           "--tasks", str(args.items), "--map"]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        print(f"{'items':>6} {'parallel':>8} {'calls':>6} {'wall s':>8} {'ideal s':>8} {'x ideal':>8} "
              f"{'CPU ms/call':>12} {'peak RSS MB':>12}")
        for parallel in args.parallel:
            out = subprocess.run([sys.executable, "-m", "bench.map_bench", "--child", url, str(args.items),
                                  str(parallel)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            ideal = args.latency * (2 + math.ceil(args.items / parallel))
            print(f"{args.items:>6} {parallel:>8} {r['calls']:>6} {r['wall_s']:>8.2f} {ideal:>8.2f} "
                  f"{r['wall_s'] / ideal:>8.2f} {r['cpu_ms_per_call']:>12.2f} {r['rss_mb']:>12.0f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
