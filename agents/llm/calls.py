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

from agents.errors import CallTimeout, LLMError, RateLimited, StreamInterrupted, TransientLLMError
from agents.events import (
    LLMCallFinished,
    RateLimitWaited,
    RateLimitWaiting,
    TaskRetried,
    TokenDelta,
)
from agents.llm.limiter import Limiter, Permit, estimate_tokens, limiter_for
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
    max_refusals: int = 100
    """429s one call may receive before it gives up; they do not use `max_attempts`
    (the provider's rate limiter makes the call wait instead)."""
    rate_limit_patience: float = 1800.0
    """Seconds after its first 429 that a call keeps trying before it gives up."""

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
    agent: str = ""
    """The role making the call (for answer lengths by role); "" for planner and synthesizer."""


WaitHook = Callable[[], Awaitable[None]]


async def call_model(
    llm: LLMClient,
    request: LLMRequest,
    ctx: CallContext,
    policy: RetryPolicy,
    before_attempt: WaitHook | None = None,
) -> tuple[Response, int]:
    """Stream one answer, retrying transient errors; returns it and the attempts used.

    Every send takes a slot of the provider's rate limiter (agents/llm/limiter.py)
    first; a 429 goes back to that limiter to wait its turn and does not use up
    an attempt. `before_attempt` is awaited before every attempt (the runner's pause
    and budget), and again when the attempt had to wait for the limiter; a refused
    call sent again is the same attempt.
    Permanent errors, and transient ones after the last attempt, propagate.
    """
    limiter = limiter_for(request)
    attempt, refused = 0, _Refused()
    while True:
        if not refused.pending:  # a refused call goes again as the same attempt, already let through
            if before_attempt is not None:
                await before_attempt()
            attempt += 1
            if ctx.on_attempt is not None:
                ctx.on_attempt(attempt)
        permit = await _take_slot(limiter, request, ctx, refused)
        if permit.waited and before_attempt is not None:
            # a pause or the budget may have come while it waited: ask again, holding the slot
            try:
                await before_attempt()
            except BaseException:
                permit.failed()
                raise
        try:
            response = await _stream_once(llm, request, ctx)
        except RateLimited as exc:
            refused.again(permit, exc, policy, limiter, request)
            continue
        except TransientLLMError as exc:
            if isinstance(exc, StreamInterrupted):  # the server serves fewer at once than we sent
                permit.interrupted()
            else:
                permit.failed()
            refused.pending = False
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
            continue
        except BaseException:
            permit.failed()
            raise
        permit.succeeded(response.usage.total or None)
        return response, attempt


class _Refused:
    """One call's 429s: how many, since when, and when it may go again."""

    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.not_before = 0.0
        """Monotonic time before which the refused call must not go again."""
        self.pending = False
        """The last send was refused: the next one is the same attempt."""

    def again(self, permit: Permit, exc: RateLimited, policy: RetryPolicy, limiter: Limiter,
              request: LLMRequest) -> None:
        """Count a 429 and set when to go again; raises once the call has tried long enough."""
        now = time.monotonic()
        self.count += 1
        self.first = self.first or now
        retry_after = None if exc.retry_after is None else min(exc.retry_after, policy.max_retry_after)
        wait = permit.rate_limited(retry_after, self.count)
        if self.count >= policy.max_refusals or now - self.first >= policy.rate_limit_patience:
            raise RateLimited(
                f"{request.model}: still rate limited by {limiter.provider} after {self.count} "
                f"refusals over {_minutes(now - self.first)}; lower its limits (Settings > Providers, "
                f"or troupe providers limits {limiter.provider} --concurrent N) or try again later",
                retry_after=exc.retry_after,
            ) from exc
        self.not_before = now + wait * (1 + random.uniform(0, policy.jitter))
        self.pending = True


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


async def _take_slot(limiter: Limiter, request: LLMRequest, ctx: CallContext, refused: _Refused) -> Permit:
    """A slot of the provider's limiter; a wait for it is announced and timed (events)."""
    waiting = False

    def on_wait(reason: str) -> None:
        nonlocal waiting
        waiting = True
        ctx.sink.emit(RateLimitWaiting(run_id=ctx.run_id, task_id=ctx.task_id, step=ctx.step,
                                       provider=limiter.provider, reason=reason))

    started = time.monotonic()
    try:
        return await limiter.acquire(
            estimate_tokens(request) if limiter.limits.tpm else 0,
            not_before=refused.not_before if refused.pending else 0.0,
            again=refused.pending, on_wait=on_wait,
        )
    finally:
        if waiting:
            ctx.sink.emit(RateLimitWaited(run_id=ctx.run_id, task_id=ctx.task_id, step=ctx.step,
                                          provider=limiter.provider,
                                          seconds=round(time.monotonic() - started, 3)))


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
            run_id=ctx.run_id, task_id=ctx.task_id, purpose=ctx.purpose, agent=ctx.agent,
            model=request.ref or final.model,  # the person's name for it, not litellm's rewrite
            prompt_tokens=final.usage.prompt_tokens,
            completion_tokens=final.usage.completion_tokens, tokens_estimated=final.usage.estimated,
            cost=final.cost, cost_known=final.cost_known, latency_ms=final.latency_ms,
        )
    )
    return final


def _emit_failed_call(request: LLMRequest, ctx: CallContext, started: float, error: Exception) -> None:
    ctx.sink.emit(
        LLMCallFinished(
            run_id=ctx.run_id, task_id=ctx.task_id, purpose=ctx.purpose, agent=ctx.agent,
            model=request.ref or request.model,
            prompt_tokens=0, completion_tokens=0, cost=0.0, cost_known=True,
            latency_ms=(time.perf_counter() - started) * 1000, ok=False, error=str(error),
        )
    )
