"""One model call, done properly: streamed, timed out, retried, accounted.

Planner, task agents and the synthesizer all go through `call_model`, so
retry policy, events and cost accounting are the same everywhere.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agents.errors import CallTimeout, LLMError, RateLimited, TransientLLMError
from agents.events import LLMCallFinished, TaskRetried, TokenDelta
from agents.ports import EventSink, LLMClient, LLMRequest, Response


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried."""

    max_attempts: int = 4
    """Calls in total, the first one included."""
    base_delay: float = 0.5
    """Seconds before the second attempt; doubles each time."""
    max_delay: float = 30.0
    """Cap on the computed backoff (a server's Retry-After may exceed it)."""
    max_retry_after: float = 300.0
    """Longest Retry-After we are willing to honour."""
    jitter: float = 0.2
    """Random spread, as a fraction of the delay, so retries do not stampede."""

    def delay(self, attempt: int, error: Exception) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            wait = min(error.retry_after, self.max_retry_after)
            return wait + random.uniform(0, self.jitter * max(wait, 0.05))
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff * (1 + random.uniform(-self.jitter, self.jitter))


@dataclass(frozen=True)
class CallContext:
    """Who is calling, for the events a call emits."""

    run_id: str
    sink: EventSink
    task_id: str = ""
    purpose: str = "task"
    """"task", "plan" or "synthesis"."""
    stream_tokens: bool = True
    """Emit TokenDelta events as text arrives."""
    on_attempt: Callable[[int], None] | None = None
    """Told the number of each attempt as it starts."""
    step: str = ""
    """The step of a task with a pattern ("draft 2"): its tool calls get ids of their own."""


WaitHook = Callable[[], Awaitable[None]]


async def call_model(
    llm: LLMClient,
    request: LLMRequest,
    ctx: CallContext,
    policy: RetryPolicy,
    before_attempt: WaitHook | None = None,
) -> tuple[Response, int]:
    """Stream one answer, retrying transient errors; returns it and the attempts used.

    `before_attempt` is awaited before every attempt (the runner's pause).
    Permanent errors, and transient ones after the last attempt, propagate.
    """
    attempt = 0
    while True:
        attempt += 1
        if before_attempt is not None:
            await before_attempt()
        if ctx.on_attempt is not None:
            ctx.on_attempt(attempt)
        try:
            return await _stream_once(llm, request, ctx), attempt
        except TransientLLMError as exc:
            if attempt >= policy.max_attempts:
                raise
            delay = policy.delay(attempt, exc)
            ctx.sink.emit(
                TaskRetried(
                    run_id=ctx.run_id, task_id=ctx.task_id, attempt=attempt,
                    error=str(exc), delay=round(delay, 3),
                )
            )
            await asyncio.sleep(delay)


async def _stream_once(llm: LLMClient, request: LLMRequest, ctx: CallContext) -> Response:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(request.timeout):
            final = None
            async for delta in llm.stream(request):
                if delta.text and ctx.stream_tokens:
                    ctx.sink.emit(TokenDelta(run_id=ctx.run_id, task_id=ctx.task_id, text=delta.text))
                if delta.final is not None:
                    final = delta.final
    except TimeoutError:
        error: LLMError = CallTimeout(
            f"no complete answer from {request.model} within {request.timeout:g} s (overall limit)"
        )
        _emit_failed_call(request, ctx, started, error)
        raise error from None
    except LLMError as exc:
        _emit_failed_call(request, ctx, started, exc)
        raise
    if final is None:
        raise LLMError(f"{request.model}: the stream ended without a final response")
    ctx.sink.emit(
        LLMCallFinished(
            run_id=ctx.run_id, task_id=ctx.task_id, purpose=ctx.purpose, model=final.model,
            prompt_tokens=final.usage.prompt_tokens,
            completion_tokens=final.usage.completion_tokens,
            cost=final.cost, cost_known=final.cost_known, latency_ms=final.latency_ms,
        )
    )
    return final


def _emit_failed_call(request: LLMRequest, ctx: CallContext, started: float, error: Exception) -> None:
    ctx.sink.emit(
        LLMCallFinished(
            run_id=ctx.run_id, task_id=ctx.task_id, purpose=ctx.purpose, model=request.model,
            prompt_tokens=0, completion_tokens=0, cost=0.0, cost_known=True,
            latency_ms=(time.perf_counter() - started) * 1000, ok=False, error=str(error),
        )
    )
