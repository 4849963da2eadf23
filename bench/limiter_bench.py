"""One rate limiter per provider (issue 15): 60 parallel tasks, 300 ms per answer,
through Troupe's Runner against a local server (bench.serve, its own process) that
answers at most N requests at once and 429 with Retry-After: 1 to the rest.

    python -m bench.limiter_bench          # prints the table

The limiter starts from the default of an OpenAI-compatible server (16 at once),
so it has to learn each server's cap from its 429s. Servers: a cap of 5, a cap
of 2, and a cap of 10 that drops to 3 once 20 answers were given. Targets: every
task completes; wall within 1.3x of the ideal (tasks / cap x 300 ms); fewer 429s
than tasks. Each measurement runs in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

TASKS, LATENCY = 60, 0.3
SCENARIOS = {  # name: (cap, drop_to, drop_after)
    "cap 5": (5, None, 0),
    "cap 2": (2, None, 0),
    "cap 10 -> 3": (10, 3, 20),
}


def ideal(cap: int, drop_to: int | None, after: int) -> float:
    """Wall time if the server were always kept exactly at its cap."""
    if drop_to is None:
        return TASKS / cap * LATENCY
    return after / cap * LATENCY + (TASKS - after) / drop_to * LATENCY


# --- one measurement (a child process) ---------------------------------------------------


async def measure(base_url: str) -> dict:
    from agents.events import RateLimitWaiting  # noqa: PLC0415
    from agents.llm.client import LiteLLMClient  # noqa: PLC0415
    from agents.llm.limiter import limiter_for  # noqa: PLC0415
    from agents.llm.litellm_info import warm_up  # noqa: PLC0415
    from agents.plan import Plan  # noqa: PLC0415
    from agents.plan.roster import load_roster  # noqa: PLC0415
    from agents.ports import ApproveAll, Message  # noqa: PLC0415
    from agents.run.agent import Endpoint, ModelSettings  # noqa: PLC0415
    from agents.run.runner import Runner, RunOptions  # noqa: PLC0415
    from agents.testing import RecordingSink  # noqa: PLC0415
    from app.providers.registry import KINDS  # noqa: PLC0415
    from bench.serve import fan_out_plan  # noqa: PLC0415

    await warm_up()  # importing litellm is start-up, not what is measured
    where = Endpoint("openai/bench-model", base_url, "sk-bench", provider="bench",
                     limits=KINDS["openai_compatible"].limits)
    settings = ModelSettings(model="bench/m", endpoints={"bench/m": where})
    plan = Plan.from_dict(json.loads(fan_out_plan(TASKS, pipeline=False)))
    sink = RecordingSink()
    async with LiteLLMClient() as llm:
        runner = Runner(run_id="bench", plan=plan, roster=load_roster(), llm=llm, settings=settings,
                        sink=sink, gate=ApproveAll(), options=RunOptions(max_parallel=TASKS, synthesize=False))
        started = time.perf_counter()
        outcome = await runner.run()
        wall = time.perf_counter() - started
    limiter = limiter_for(settings.request("bench/m", [Message("user", "x")]))
    done = sum(1 for s in runner.states.values() if s.status == "completed")
    return {"wall_s": wall, "status": str(outcome.status), "completed": done, "error": outcome.error,
            "limiter_429s": limiter.refusals, "learned_cap": limiter.cap, "waits": len(sink.of(RateLimitWaiting))}


# --- the driver --------------------------------------------------------------------------


@contextmanager
def server(cap: int, drop_to: int | None, after: int):  # type: ignore[no-untyped-def]
    cmd = [sys.executable, "-m", "bench.serve", "--latency", str(LATENCY), "--chunks", "20",
           "--tasks", str(TASKS), "--cap", str(cap), "--retry-after", "1"]
    if drop_to is not None:
        cmd += ["--drop-to", str(drop_to), "--drop-after", str(after)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stats(base_url: str) -> dict:
    url = base_url.removesuffix("/v1") + "/stats"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own local server
        return json.loads(response.read())


def run_child(base_url: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.limiter_bench", "--child", base_url],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", metavar="URL")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.child))))
        return
    rows = []
    for name, shape in SCENARIOS.items():
        with server(*shape) as url:
            result = run_child(url)
            rows.append((name, ideal(*shape), result, stats(url)))
    print_table(rows)


def print_table(rows: list) -> None:
    print(f"{TASKS} parallel tasks, {LATENCY * 1000:.0f} ms per answer, Retry-After: 1; "
          "the limiter starts at 16 at once (an OpenAI-compatible server's default)")
    print(f"{'server':<12} {'done':>6} {'wall s':>7} {'ideal s':>8} {'x ideal':>8} {'429s':>5} "
          f"{'peak at server':>15} {'learned cap':>12} {'waits':>6}")
    for name, best, r, s in rows:
        done = f"{r['completed']}/{TASKS}"
        print(f"{name:<12} {done:>6} {r['wall_s']:>7.2f} {best:>8.2f} {r['wall_s'] / best:>7.2f}x "
              f"{s['refused']:>5} {s['peak']:>15} {r['learned_cap'] or '-':>12} {r['waits']:>6}")
    print("targets: every task done, within 1.3x of ideal, fewer 429s than tasks")


if __name__ == "__main__":
    main()
