"""Sharing the event loop between hundreds of calls, so the window stays live.

Under qasync the window and every model call share one thread. Each call's
step is short, but 300 answers arriving together (or 300 tasks starting
together) make 300 steps ready at once, and the loop runs them back to back:
hundreds of milliseconds without a paint. A `Pacer` bounds that. Work asks
`due()` between pieces; once the current slice of loop time (`budget`) is used
up, it `wait()`s in line. A slice ends when the loop has come round (every
callback queued before it has run, Qt's timers and events included); the next
slice lets the waiters go, first come first served, as many at once as the
slice should fit by their recent steps' cost (one at a time would cost a loop
round each).

Each loop has one pacer (`pacer()`); while a slice lasts, asking costs a clock
read.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque

__all__ = ["BUDGET", "Pacer", "pace", "pacer"]

BUDGET = 0.004
"""Seconds of loop time work may take before the loop gets a turn."""


class Pacer:
    """Hands out slices of one event loop's time (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, budget: float = BUDGET) -> None:
        self._loop = loop
        self.budget = budget
        """Seconds of loop time a slice lasts."""
        self._start: float | None = None
        """When the current slice began; None: no slice (the loop came round idle)."""
        self._line: deque[asyncio.Future[None]] = deque()
        self._turn_queued = False
        self._batch: tuple[float, int] | None = None
        """(when, how many) of the waiters let go last, until their steps have run."""
        self.step_cost = 0.0005
        """Seconds a waiter's step takes, a running average: how many fit in a slice."""

    def due(self) -> bool:
        """True when the caller should `await wait()` before its next piece of work."""
        now = time.perf_counter()
        if self._start is None:
            self._start = now
            self._queue_turn()
            return False
        return now - self._start > self.budget

    async def wait(self) -> None:
        """Wait in line for a slice of the loop."""
        turn = self._loop.create_future()
        self._line.append(turn)
        self._queue_turn()
        await turn

    def _queue_turn(self) -> None:
        if not self._turn_queued:
            self._turn_queued = True
            self._loop.call_soon(self._turn)

    def _turn(self) -> None:
        """The loop has come round: a new slice, for the line if anyone waits."""
        self._turn_queued = False
        if not self._line and self._batch is None:
            self._start = None
            return
        self._start = time.perf_counter()
        if self._batch is None:  # else the batch's end lets the next go
            self._let_go()

    def _let_go(self) -> None:
        """Let go as many waiters, first come first served, as the slice should fit."""
        now = time.perf_counter()
        room = max(1, int((self.budget - (now - (self._start or now))) / self.step_cost))
        count = 0
        while self._line and count < room:
            turn = self._line.popleft()
            if not turn.done():  # a cancelled waiter has left the line
                turn.set_result(None)
                count += 1
        if count:
            self._batch = (now, count)
            # queued after their wake-ups: it runs once their steps are over
            self._loop.call_soon(self._after_batch)
        else:
            self._queue_turn()

    def _after_batch(self) -> None:
        assert self._batch is not None
        now = time.perf_counter()
        began, count = self._batch
        self._batch = None
        self.step_cost = 0.7 * self.step_cost + 0.3 * max((now - began) / count, 1e-5)
        if self._line and now - (self._start or now) < self.budget:
            self._let_go()
        else:
            self._queue_turn()


_PACERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pacer] = weakref.WeakKeyDictionary()


def pacer() -> Pacer:
    """The running loop's pacer."""
    loop = asyncio.get_running_loop()
    found = _PACERS.get(loop)
    if found is None:
        found = _PACERS[loop] = Pacer(loop)
    return found


async def pace() -> None:
    """Wait for a slice of the loop if the current one is used up."""
    shared = pacer()
    if shared.due():
        await shared.wait()
