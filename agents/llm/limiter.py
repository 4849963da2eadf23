"""One rate limiter per provider endpoint, shared by every model call in the process.

Every call to one endpoint (its base URL, else its provider, plus a hash of its
key: never the key) from every agent of every run on this event loop goes
through one `Limiter`: a cap on calls in flight, and where known requests and
tokens per minute (`agents.ports.Limits`, from the provider's settings).

The cap is learned from 429s (AIMD): a 429 to a call sent under the current
cap halves it (multiplicative decrease) and notes how many other calls the
server was holding (its ceiling); later 429s of the same burst lower that
ceiling. Each success raises the cap by one up to the ceiling, then by
1/(cap x n) while at least a round of calls waits (additive increase; n grows as
429s find the same ceiling again), so the limiter probes past what the server
last held only slowly, and not near the end of the work. A refused call waits
its Retry-After in the limiter's queue, ahead of calls that came later; only
when the server refuses a call while nothing else of ours is in flight (a
time-based limit) does everyone wait the Retry-After. Waiters start in arrival
order.

    limiter = limiter_for(request)
    permit = await limiter.acquire(tokens, on_wait=...)
    ... permit.succeeded(tokens) | permit.rate_limited(retry_after) | permit.failed()
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from agents.ports import Limits, LLMRequest

__all__ = ["Limiter", "Limits", "Permit", "endpoint_key", "limiter_for", "provider_name"]

WINDOW = 60.0
"""Seconds over which requests and tokens per minute are counted."""
FIRST_BACKOFF = 1.0
"""Seconds a refused call waits when the server gives no Retry-After (doubles per refusal)."""
MOST_BACKOFF = 60.0
"""The longest such wait."""
MOST_CONFIRMED = 8
"""Past this many 429s at the same ceiling, probing past it slows no further."""


@dataclass
class _Waiter:
    future: asyncio.Future[Permit]
    tokens: int
    not_before: float
    """Monotonic time before which this call must not go (its own Retry-After)."""


@dataclass
class Permit:
    """One call's place in its limiter, from `acquire` until it is released."""

    limiter: Limiter
    epoch: int
    """The limiter's epoch when the call was sent (a 429 to it lowers the cap only once)."""
    spent: list[float] = field(default_factory=list)
    """This call's entry in the tokens-per-minute window: [when, tokens]."""
    waited: float = 0.0
    """Seconds it waited for the limiter."""
    released: bool = False

    def succeeded(self, tokens: int | None = None) -> None:
        """The call finished; `tokens` it really used replace the estimate."""
        if not self._release():
            return
        if tokens is not None and self.spent:
            self.spent[1] = float(tokens)
        self.limiter._succeeded()

    def rate_limited(self, retry_after: float | None, refusals: int = 1) -> float:
        """The server said 429; returns the seconds this call must wait before it goes again
        (`refusals`: how many times in a row it was refused, for the backoff without Retry-After)."""
        if not self._release():
            return 0.0
        return self.limiter._refused(self, retry_after, refusals)

    def interrupted(self) -> None:
        """The server cut this call's stream short to serve another (llama-cpp-python does):
        it serves one call at a time, so from now on the cap is one."""
        if self._release():
            self.limiter._one_at_a_time()

    def failed(self) -> None:
        """Any other end (an error, cancellation): the slot is free, the cap unchanged."""
        if self._release():
            self.limiter._dispatch()

    def _release(self) -> bool:
        if self.released:
            return False
        self.released = True
        self.limiter.in_flight -= 1
        return True


class Limiter:
    """The calls to one endpoint: who may go now, who waits, and what the server taught us."""

    def __init__(self, provider: str, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        """The provider's name, for "waiting for <provider> rate limit"."""
        self.limits = limits
        self._clock = clock
        self._cap: float = float(limits.concurrent) if limits.concurrent else math.inf
        self._ceiling: float = math.inf
        """Calls the server was holding when it last said 429."""
        self._confirmed = 2
        """How many 429s in a row found the same ceiling (probing past it slows down)."""
        self._single = False
        """The server cut a stream to serve another: it serves one call at a time, for good."""
        self._epoch = 0
        self._paused_until = 0.0
        self._starts: deque[float] = deque()
        self._spent: deque[list[float]] = deque()
        self._queue: deque[_Waiter] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.in_flight = 0
        self.peak = 0
        """Most calls in flight at once so far."""
        self.refusals = 0
        """429s received so far."""

    # --- reading -------------------------------------------------------------------

    @property
    def cap(self) -> int | None:
        """Calls allowed in flight now; None: no cap known yet."""
        return None if math.isinf(self._cap) else max(1, math.floor(self._cap + 1e-9))

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._queue if not w.future.done())

    def configure(self, limits: Limits) -> None:
        """New limits from the settings: a lower cap applies at once, a higher one is grown to."""
        if limits == self.limits:
            return
        self.limits = limits
        learned = self.refusals or self._single
        if limits.concurrent:
            self._cap = min(self._cap, float(limits.concurrent)) if learned else float(limits.concurrent)
        elif not learned:
            self._cap = math.inf
        self._dispatch()

    # --- taking a slot -------------------------------------------------------------------

    async def acquire(self, tokens: int = 0, *, not_before: float = 0.0, again: bool = False,
                      on_wait: Callable[[str], None] | None = None) -> Permit:
        """A slot for one call of about `tokens` tokens, once the limits allow it.

        `not_before` (monotonic) holds this call back on its own (its Retry-After);
        `again` puts it ahead of calls that came later. `on_wait(reason)` is told
        once, when the call has to wait at all.
        """
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), tokens, not_before)
        (self._queue.appendleft if again else self._queue.append)(waiter)
        self._dispatch()
        if waiter.future.done():
            return waiter.future.result()
        started = self._clock()
        if on_wait is not None:
            on_wait(self._why(waiter))
        try:
            permit = await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                waiter.future.result().failed()  # given a slot just as it was cancelled
            self._forget(waiter)
            raise
        permit.waited = self._clock() - started
        return permit

    def _forget(self, waiter: _Waiter) -> None:
        try:
            self._queue.remove(waiter)
        except ValueError:
            pass
        self._dispatch()

    def _dispatch(self) -> None:
        """Start every waiter the limits allow, oldest first; wake up when a time limit passes."""
        now = self._clock()
        wake = math.inf
        for waiter in list(self._queue):
            if waiter.future.done():
                self._queue.remove(waiter)
                continue
            if waiter.not_before > now:  # its own Retry-After: later calls may go first
                wake = min(wake, waiter.not_before)
                continue
            until = self._blocked_until(waiter.tokens, now)
            if until:  # nobody overtakes a call the limits hold back
                wake = min(wake, until)
                break
            self._queue.remove(waiter)
            waiter.future.set_result(self._start(waiter.tokens, now))
        self._arm(wake)

    def _blocked_until(self, tokens: int, now: float) -> float:
        """0 when a call may start now; else when it might (inf: when a call ends)."""
        if self._paused_until > now:
            return self._paused_until
        if self.cap is not None and self.in_flight >= self.cap:
            return math.inf
        while self._starts and self._starts[0] <= now - WINDOW:
            self._starts.popleft()
        if self.limits.rpm and len(self._starts) >= self.limits.rpm:
            return self._starts[0] + WINDOW
        while self._spent and self._spent[0][0] <= now - WINDOW:
            self._spent.popleft()
        if self.limits.tpm and self._spent:  # a call bigger than the whole budget still goes alone
            if sum(s[1] for s in self._spent) + tokens > self.limits.tpm:
                return self._spent[0][0] + WINDOW
        return 0.0

    def _why(self, waiter: _Waiter) -> str:
        """Why a call waits, in a few words."""
        now = self._clock()
        if waiter.not_before > now:
            return f"the server said 429; trying again in {waiter.not_before - now:.1f} s"
        if self._paused_until > now:
            return f"the server asked for a pause of {self._paused_until - now:.1f} s"
        if self.cap is not None and self.in_flight >= self.cap:
            learned = "" if self.limits.concurrent == self.cap else " (learned from the server)"
            return f"{self.in_flight} calls in flight, its limit{learned}"
        if self.limits.rpm and len(self._starts) >= self.limits.rpm:
            return f"{self.limits.rpm} requests in the last minute, its limit"
        if self.limits.tpm and self._spent:
            return f"{self.limits.tpm} tokens per minute, its limit"
        return f"{self.waiting} calls ahead of it"

    def _start(self, tokens: int, now: float) -> Permit:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self._starts.append(now)
        spent = [now, float(tokens)]
        self._spent.append(spent)
        return Permit(self, self._epoch, spent)

    def _arm(self, wake: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if math.isinf(wake):
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, wake - self._clock())
        self._timer = loop.call_later(delay + 0.001, self._dispatch)

    # --- what the server said -------------------------------------------------------------

    def _succeeded(self) -> None:
        if not math.isinf(self._cap):
            # back quickly to what the server last held, then probe past it slowly, the
            # more slowly the more often that ceiling was confirmed, and only while a round
            # of calls waits (a refused probe near the end costs its Retry-After in wall time)
            if self._cap + 1 <= self._ceiling:
                self._cap += 1.0
            elif len(self._queue) >= self._cap and not self._single:
                self._cap += 1.0 / (self._cap * self._confirmed)
            if self.limits.concurrent:
                self._cap = min(self._cap, float(self.limits.concurrent))
        self._dispatch()

    def _one_at_a_time(self) -> None:
        self._epoch += 1
        self._cap = self._ceiling = 1.0
        self._single = True  # never probed past: each probe would cost a cut answer
        self._dispatch()

    def _refused(self, permit: Permit, retry_after: float | None, refusals: int) -> float:
        self.refusals += 1
        others = self.in_flight  # this call is already out
        now = self._clock()
        wait = retry_after if retry_after is not None else min(MOST_BACKOFF, FIRST_BACKOFF * 2 ** (refusals - 1))
        if permit.epoch == self._epoch:  # sent under the current cap: it is too high
            self._epoch += 1
            self._cap = max(1.0, math.floor(min(self._cap, others + 1) / 2))
            same = self._ceiling == max(1.0, others)
            self._confirmed = min(MOST_CONFIRMED, self._confirmed + 1) if same else 2
            self._ceiling = max(1.0, others)
        else:  # a later answer of the same burst: the server held even fewer
            self._ceiling = max(1.0, min(self._ceiling, others))
        self._cap = min(self._cap, self._ceiling)
        if others == 0:  # refused alone: a limit in time, not in calls; everyone waits
            self._paused_until = max(self._paused_until, now + wait)
        self._dispatch()
        return wait


# --- one limiter per endpoint, per event loop ----------------------------------------------------

_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Limiter]] = (
    weakref.WeakKeyDictionary()
)


def endpoint_key(request: LLMRequest) -> str:
    """Who a call goes to: its base URL (else its provider) and a hash of its key."""
    where = (request.api_base or "").rstrip("/") or _prefix(request.model)
    digest = hashlib.sha256((request.api_key or "").encode()).hexdigest()[:16]
    return f"{where}#{digest}"


def provider_name(request: LLMRequest) -> str:
    """The provider's name for a person: the request's, else the host or the model's prefix."""
    if request.provider:
        return request.provider
    if request.api_base:
        return urlsplit(request.api_base).netloc or request.api_base
    return _prefix(request.model)


def _prefix(model: str) -> str:
    head, sep, _ = model.partition("/")
    return head if sep else "openai"


def limiter_for(request: LLMRequest) -> Limiter:
    """The one limiter of the request's endpoint on this loop (made on first use);
    the request's limits, when it has some, replace the limiter's."""
    table = _LIMITERS.setdefault(asyncio.get_running_loop(), {})
    key = endpoint_key(request)
    limiter = table.get(key)
    if limiter is None:
        limiter = table[key] = Limiter(provider_name(request), request.limits or Limits())
    elif request.limits is not None:
        limiter.configure(request.limits)
    if request.provider:
        limiter.provider = request.provider
    return limiter


def estimate_tokens(request: LLMRequest) -> int:
    """About how many tokens a call will use: its prompt at ~4 characters a token, and its answer."""
    prompt = sum(len(m.content) for m in request.messages) // 4
    return prompt + (request.max_tokens or 500)
