"""How far to trust the cost estimate: its error over a set of recorded runs.

    python -m bench.estimate_bench [--runs 30] [--seed 7]
    python -m bench.estimate_bench --home ~/.local/share/troupe   # your own history

Without --home it records runs first: a fresh data dir, a scripted
OpenAI-compatible server on 127.0.0.1 whose answers vary in length by role (a
researcher writes ~900 tokens, a writer ~1400, a reviewer ~250, each +-30%),
and five plan shapes in turn (a pipeline, three steps, a vote of three, a
review that approves in round one or two, a map over 4-12 items). Each run is
estimated before it starts, exactly as `troupe run` does, with the history the
runs before it left; then it runs and its cost is compared.

The table: per stretch of runs, the mean absolute error of the expected figure
against the actual cost, how many actual costs fell inside the estimate's
low-high range, and the median actual / expected ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

MODEL = "openai/gpt-4o-mini"  # priced in litellm's map
LENGTHS = {"researcher": 900, "writer": 1400, "reviewer": 250, "analyst": 700, "orchestrator": 800}


def _task(id: str, agent: str, deps: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    return {"id": id, "title": f"{agent.title()} {id}", "instructions": f"Do part {id} of the goal well.",
            "agent": agent, "depends_on": list(deps), **fields}


def plans(rng: random.Random) -> list[dict[str, Any]]:
    """The five shapes, in the order the runs take them."""
    items = rng.randint(4, 12)
    return [
        {"goal": "Write a report", "tasks": [_task("r", "researcher"), _task("w", "writer", ("r",))]},
        {"goal": "Compare options", "tasks": [_task("r", "researcher"), _task("a", "analyst", ("r",)),
                                              _task("w", "writer", ("a",))]},
        {"goal": "Pick a name", "tasks": [_task("v", "writer", pattern="vote", samples=3, judge="reviewer")]},
        {"goal": "Draft an essay", "tasks": [_task("e", "writer", pattern="review", reviewer="reviewer",
                                                   max_rounds=3)]},
        {"goal": "Describe each item", "tasks": [
            _task("list", "researcher"),
            _task("each", "writer", ("list",), pattern="map", over="list", max_items=20),
        ], "_items": items},
    ]


def _server(rng: random.Random, roles: dict[str, str], items: list[int]):  # type: ignore[no-untyped-def]
    from tests.support.scripted_server import Reply, ScriptedServer  # noqa: PLC0415

    def handler(request):  # type: ignore[no-untyped-def]
        role = roles.get(request.system, "orchestrator")
        text = request.all_text
        tokens = max(20, round(LENGTHS.get(role, 600) * rng.uniform(0.7, 1.3)))
        words = " ".join(["txt"] * tokens)  # about one token a word: what the next prompt carries
        if "Your task (list)" in request.last_user:
            answer = json.dumps([f"item {i}" for i in range(items[0])])
        elif role == "reviewer" and "review another agent's work" in text:
            answer = ("APPROVE\n" if rng.random() < 0.6 else "REVISE\n") + words
        elif role == "reviewer":
            answer = "WINNER: 1\n" + words
        else:
            answer = words
        return Reply(answer, prompt_tokens=max(1, len(text) // 4), completion_tokens=tokens)

    return ScriptedServer().script(handler).start()


async def _record(runs: int, seed: int) -> list[tuple[int, dict[str, Any], float]]:
    from agents.plan import Plan  # noqa: PLC0415
    from app.cli.console import UnattendedGate  # noqa: PLC0415
    from app.roster_store import load_user_roster  # noqa: PLC0415
    from app.runs.service import RunService  # noqa: PLC0415
    from app.settings import Settings  # noqa: PLC0415

    rng = random.Random(seed)
    roster = load_user_roster()
    items = [8]
    server = _server(rng, {r.system_prompt: r.name for r in roster}, items)
    service = RunService.open(settings=Settings(default_model=MODEL, api_base=server.base_url))
    recorded = []
    try:
        config = service.config()
        for number in range(runs):
            shape = plans(rng)[number % 5]
            items[0] = int(shape.pop("_items", items[0]))
            plan = Plan.from_dict(shape)
            run_id = service.create_run("bench", plan.goal, config)
            service.save_plan(run_id, plan, "file")
            estimate = service.estimate(plan, config, run_id)
            await service.start(run_id, plan, config, UnattendedGate(), []).run()
            recorded.append((number, estimate.to_dict(), service.get_run(run_id).cost))
        await service.aclose_llm()
    finally:
        service.close()
        server.stop()
    return recorded


def _from_history(home: Path) -> list[tuple[int, dict[str, Any], float]]:
    from app.storage import open_database  # noqa: PLC0415

    store = open_database(home / "troupe.db")
    try:
        finished = [r for r in reversed(store.list_runs(limit=1000)) if r.status == "completed"]
        return [(n, run.estimate, run.cost) for n, run in enumerate(store.get_run(r.id) for r in finished)
                if run.estimate]
    finally:
        store.close()


def _row(label: str, recorded: list[tuple[int, dict[str, Any], float]]) -> str:
    from agents.plan.estimate import RunEstimate  # noqa: PLC0415

    errors, inside, ratios = [], 0, []
    for _, data, actual in recorded:
        whole = RunEstimate.from_dict(data).whole_run
        if whole.expected <= 0:
            continue
        errors.append(abs(actual - whole.expected) / whole.expected)
        ratios.append(actual / whole.expected)
        inside += whole.low <= actual <= whole.high
    if not errors:
        return f"{label:<22} {'(no priced runs)':>12}"
    return (f"{label:<22} {len(errors):>5} {statistics.fmean(errors):>11.0%} "
            f"{inside:>4}/{len(errors):<4} {statistics.median(ratios):>13.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, help="report on this data dir's runs instead of recording")
    args = parser.parse_args()
    if args.home is not None:
        recorded = _from_history(args.home)
        stretches = [("your runs", recorded)]
    else:
        with tempfile.TemporaryDirectory() as home:
            os.environ["TROUPE_HOME"] = home
            os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")
            recorded = asyncio.run(_record(args.runs, args.seed))
        stretches = [("runs 1-5 (no history)", recorded[:5]), (f"runs 6-{len(recorded)}", recorded[5:]),
                     ("all", recorded)]
    print(f"{'':<22} {'runs':>5} {'mean |err|':>11} {'in range':>9} {'actual/expect':>13}")
    for label, part in stretches:
        print(_row(label, part))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
