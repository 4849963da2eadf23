"""CPU cost of one streamed LLM call, by way of calling.

    .venv/bin/python bench/llm_overhead.py [--calls 300] [--chunks 20] [--rounds 3]

The scripted OpenAI-compatible server runs in its own process, so its CPU is
not counted. Each variant runs in a fresh Python process (litellm keeps global
state) that does a warm-up batch, then `--rounds` batches of `--calls`
concurrent streamed calls of `--chunks` chunks each (with usage and cost).
CPU is `time.process_time()` of the client process over a batch (all of its
threads, so litellm's executor threads count too), divided by the calls.

Variants:
  aiohttp-floor   bare aiohttp + json.loads, no litellm: the floor
  litellm-naive   litellm.acompletion(stream=True), iterate, cost_per_token
  troupe-litellm  LiteLLMClient(direct=False): everything via litellm.acompletion
  troupe          LiteLLMClient(): the default (direct route for OpenAI-wire providers)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

VARIANTS = ("aiohttp-floor", "litellm-naive", "troupe-litellm", "troupe")
MODEL = "openai/gpt-4o-mini"  # in litellm's cost map, so cost is computed
KEY = "sk-bench-not-a-real-key"
MESSAGES = [
    {"role": "system", "content": "You are the researcher of a small team."},
    {"role": "user", "content": "Summarise the history of the printing press in three bullets."},
]


# --- the server process ---------------------------------------------------------------


def _serve(conn: Any, chunks: int) -> None:
    from tests.support.scripted_server import Reply, ScriptedServer

    server = ScriptedServer().start()
    text = " ".join(f"word{i}" for i in range(chunks))
    server.default = Reply(text, prompt_tokens=42, completion_tokens=chunks)
    conn.send(server.base_url)
    conn.recv()  # until the parent says stop
    server.stop()


# --- one variant, in a child process ---------------------------------------------------


def _make_call(variant: str, base: str) -> Any:
    if variant == "aiohttp-floor":
        return _floor_call(base)
    if variant == "litellm-naive":
        return _naive_call(base)
    from agents.llm.client import LiteLLMClient
    from agents.ports import LLMRequest, Message

    client = LiteLLMClient(direct=(variant == "troupe"))
    request = LLMRequest(
        model=MODEL,
        messages=tuple(Message(m["role"], m["content"]) for m in MESSAGES),
        api_base=base,
        api_key=KEY,
    )

    async def call() -> tuple[str, float]:
        final = None
        async for delta in client.stream(request):
            final = delta.final or final
        assert final is not None
        return final.text, final.cost

    return call


def _floor_call(base: str) -> Any:
    import aiohttp

    session: list[Any] = []

    async def call() -> tuple[str, float]:
        if not session:
            session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000)))
        body = {
            "model": "gpt-4o-mini",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        parts = []
        headers = {"Authorization": f"Bearer {KEY}"}
        async with session[0].post(f"{base}/chat/completions", json=body, headers=headers) as r:
            async for line in r.content:
                if line.startswith(b"data: {"):
                    chunk = json.loads(line[6:])
                    for choice in chunk["choices"]:
                        parts.append(choice["delta"].get("content") or "")
        return "".join(parts), 0.0

    return call


def _naive_call(base: str) -> Any:
    import litellm

    async def call() -> tuple[str, float]:
        stream = await litellm.acompletion(
            model=MODEL,
            messages=MESSAGES,
            api_base=base,
            api_key=KEY,
            stream=True,
            stream_options={"include_usage": True},
            num_retries=0,
            max_retries=0,
        )
        parts, usage = [], None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            usage = getattr(chunk, "usage", None) or usage
        prompt, completion = litellm.cost_per_token(
            model=MODEL,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
        return "".join(parts), prompt + completion

    return call


async def _measure(variant: str, base: str, calls: int, rounds: int) -> dict[str, Any]:
    if variant.startswith("troupe"):
        from agents.llm.litellm_info import warm_up

        await warm_up()
    call = _make_call(variant, base)
    await asyncio.gather(*(call() for _ in range(20)))  # warm-up: lazy imports, pools
    cpu, wall = [], []
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(call() for _ in range(calls)))
        cpu.append((time.process_time() - c0) * 1000 / calls)
        wall.append(time.perf_counter() - w0)
        assert all(text for text, _ in results), "empty answer"
    return {
        "variant": variant,
        "cpu_ms_median": statistics.median(cpu),
        "cpu_ms_min": min(cpu),
        "wall_s_median": statistics.median(wall),
        "cost": results[0][1],
    }


# --- the parent -----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="concurrent calls per batch")
    parser.add_argument("--chunks", type=int, default=20, help="content chunks per answer")
    parser.add_argument("--rounds", type=int, default=3, help="batches per variant")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = asyncio.run(_measure(args.child, args.base, args.calls, args.rounds))
        print(json.dumps(result))
        return

    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(target=_serve, args=(child, args.chunks), daemon=True)
    server.start()
    base = parent.recv()
    print(f"{args.calls} concurrent streamed calls x {args.chunks} chunks, {args.rounds} rounds")
    print(f"{'variant':<16} {'CPU ms/call (median)':>21} {'min':>7} {'wall s/batch':>13}")
    try:
        for variant in args.variants:
            out = subprocess.run(
                [sys.executable, __file__, "--child", variant, "--base", base,
                 "--calls", str(args.calls), "--rounds", str(args.rounds)],
                capture_output=True, text=True, check=False, cwd=ROOT,
            )  # fmt: skip
            if out.returncode != 0:
                print(f"{variant:<16} failed:\n{out.stderr[-2000:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{variant:<16} {r['cpu_ms_median']:>21.2f} {r['cpu_ms_min']:>7.2f}"
                f" {r['wall_s_median']:>13.2f}"
            )
    finally:
        parent.send("stop")
        server.join(5)


if __name__ == "__main__":
    main()
