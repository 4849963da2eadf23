"""A scripted OpenAI-compatible server in its own process, so its CPU time is
not charged to the process being measured.

    python -m bench.serve --latency 0.2 --chunks 20 --tasks 300
prints the base URL on its first line, then serves until killed. Planner
requests get a plan of N independent tasks (or a pipeline with --pipeline).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tests.support.scripted_server import Reply, ScriptedServer


def fan_out_plan(n: int, pipeline: bool) -> str:
    tasks = [
        {"id": f"t{i}", "title": f"Step {i}", "instructions": "Say a few words.",
         "agent": "writer", "depends_on": [f"t{i - 1}"] if pipeline and i else []}
        for i in range(n)
    ]
    return json.dumps({"goal": "bench", "tasks": tasks})


def map_plan(items: int) -> str:
    """A list task and a map over it (issue 14's swarm)."""
    return json.dumps({"goal": "bench", "tasks": [
        {"id": "list", "title": "Items", "instructions": "List the items.", "agent": "researcher"},
        {"id": "each", "title": "Each item", "instructions": "Say a few words about the item.",
         "agent": "writer", "depends_on": ["list"], "pattern": "map", "over": "list", "max_items": items},
    ]})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--pipeline", action="store_true")
    parser.add_argument("--map", action="store_true",
                        help="plan a list task and a map over its --tasks items")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed chunks")
    parser.add_argument("--cap", type=int, help="answer at most this many requests at once, 429 to the rest")
    parser.add_argument("--retry-after", default="1", help="the 429s' Retry-After (seconds)")
    parser.add_argument("--drop-to", type=int, help="lower the cap to this ...")
    parser.add_argument("--drop-after", type=int, default=0, help="... once this many requests were answered")
    args = parser.parse_args()
    plan = map_plan(args.tasks) if args.map else fan_out_plan(args.tasks, args.pipeline)
    items = Reply(json.dumps([f"item {i}" for i in range(args.tasks)]), latency=args.latency)
    words = " ".join(f"word{i}" for i in range(args.chunks))
    answer = Reply(words, chunks=args.chunks, latency=args.latency, chunk_delay=args.chunk_delay)

    def handler(request):  # type: ignore[no-untyped-def]
        if "Reply with one JSON object" in request.system:
            return Reply(plan, chunks=args.chunks, latency=args.latency)
        if args.map and "Your task (list)" in request.last_user:
            return items
        return answer

    server = ScriptedServer().script(handler).start()
    if args.cap is not None:  # GET /stats says how many were refused and the peak
        server.limit(args.cap, args.retry_after, drop_to=args.drop_to, after=args.drop_after)
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
