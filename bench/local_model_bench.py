"""Tokens/s of the embedded model through Troupe vs raw llama-cpp-python.

    .venv/bin/python bench/local_model_bench.py [--tokens 64] [--repeats 5] [--threads N]

Same GGUF file (SmolLM2-135M-Instruct), same prompt, same max_tokens, same threads,
greedy decoding (so both generate the same tokens), in one process:

  raw     llama_cpp.Llama.create_chat_completion(stream=True), iterated in a thread
  troupe  LiteLLMClient.stream("local/smollm2-135m"): litellm's custom provider,
          the model's worker thread, tokens handed to the event loop

Runs alternate (raw, troupe, raw, ...) after one warm-up each, so a machine
that gets busier mid-run slows both. tokens/s = completion tokens / wall time
from the call to the last token (prompt evaluation included); decode tokens/s
counts from the first token. The ratio is the median over pairs of adjacent
runs; the target is troupe >= 90% of raw.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPT = "Write a short story about a lighthouse keeper and a storm."
NAME = "smollm2-135m"


@dataclass
class Run:
    tokens: int
    wall: float
    """From the call to the last token."""
    first: float
    """From the call to the first token."""

    @property
    def rate(self) -> float:
        return self.tokens / self.wall

    @property
    def decode_rate(self) -> float:
        return (self.tokens - 1) / (self.wall - self.first) if self.tokens > 1 else 0.0


def model_file(path: str | None) -> Path:
    """The GGUF to use: --model, else the embedded one (in its installed package)."""
    if path:
        return Path(path)
    from app.providers.local_models import ensure_embedded_model

    return ensure_embedded_model()


def raw_run(llm: Any, max_tokens: int) -> Run:
    """One streamed call straight through llama-cpp-python."""
    messages = [{"role": "user", "content": PROMPT}]
    start = time.perf_counter()
    first = 0.0
    tokens = 0
    for chunk in llm.create_chat_completion(
        messages, max_tokens=max_tokens, temperature=0.0, stream=True
    ):
        if chunk["choices"][0]["delta"].get("content"):
            tokens += 1
            first = first or time.perf_counter() - start
    return Run(tokens, time.perf_counter() - start, first)


async def troupe_run(client: Any, max_tokens: int) -> Run:
    """One streamed call through LiteLLMClient, as an agent makes it."""
    from agents.ports import LLMRequest, Message

    request = LLMRequest(
        f"local/{NAME}", (Message("user", PROMPT),), max_tokens=max_tokens, temperature=0.0
    )
    start = time.perf_counter()
    first = 0.0
    tokens = 0
    async for delta in client.stream(request):
        first = first or time.perf_counter() - start
        if delta.final is not None:
            tokens = delta.final.usage.completion_tokens
    return Run(tokens, time.perf_counter() - start, first)


async def bench(path: Path, max_tokens: int, repeats: int, threads: int) -> dict[str, list[Run]]:
    import llama_cpp

    from agents.llm.client import LiteLLMClient
    from agents.llm.litellm_info import warm_up
    from agents.llm.local_model import LocalModelSpec, close_local_models, set_local_models

    await warm_up()
    spec = LocalModelSpec(path, n_threads=threads)  # the GGUF's own chat template
    set_local_models({NAME: spec})
    raw = llama_cpp.Llama(
        model_path=str(path),
        n_ctx=spec.n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    client = LiteLLMClient()
    runs: dict[str, list[Run]] = {"raw": [], "troupe": []}
    try:
        for i in range(repeats + 1):  # the first round warms both up
            raw_result = await asyncio.to_thread(raw_run, raw, max_tokens)
            troupe_result = await troupe_run(client, max_tokens)
            if i:
                runs["raw"].append(raw_result)
                runs["troupe"].append(troupe_result)
    finally:
        raw.close()
        close_local_models()
    return runs


def report(runs: dict[str, list[Run]], max_tokens: int, threads: int) -> None:
    print(f"SmolLM2-135M-Instruct Q4_1, max_tokens={max_tokens}, n_threads={threads}, greedy")
    print(f"{'variant':<8} {'tokens':>6} {'tok/s (median)':>15} {'min':>6} {'max':>6} "
          f"{'decode tok/s':>13} {'first token ms':>15}")  # fmt: skip
    medians = {}
    for name, results in runs.items():
        rates = [r.rate for r in results]
        medians[name] = statistics.median(rates)
        print(
            f"{name:<8} {statistics.median(r.tokens for r in results):>6.0f} "
            f"{medians[name]:>15.1f} {min(rates):>6.1f} {max(rates):>6.1f} "
            f"{statistics.median(r.decode_rate for r in results):>13.1f} "
            f"{statistics.median(r.first for r in results) * 1000:>15.0f}"
        )
    # each troupe run against the raw run just before it: robust to the machine's drift
    paired = statistics.median(
        t.rate / r.rate for r, t in zip(runs["raw"], runs["troupe"], strict=True)
    )
    verdict = "ok" if paired >= 0.9 else "BELOW the 90% target"
    print(f"troupe / raw: {paired:.1%} (median of paired runs; {verdict}), "
          f"{medians['troupe'] / medians['raw']:.1%} (ratio of medians)")  # fmt: skip


def main() -> None:
    from agents.llm.local_model import default_threads

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=64, help="max_tokens per call")
    parser.add_argument("--repeats", type=int, default=5, help="calls per variant")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--model", help="a GGUF file (default: the embedded SmolLM2-135M-Instruct)")
    args = parser.parse_args()
    path = model_file(args.model)
    runs = asyncio.run(bench(path, args.tokens, args.repeats, args.threads))
    report(runs, args.tokens, args.threads)


if __name__ == "__main__":
    main()
