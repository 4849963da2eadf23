"""What the timeline draws under a task's bar for its steps. Plain Python, no Qt.

A few steps (review rounds, a vote's answers, a debate) are one thin bar each,
packed into at most MAX_LANES lanes so parallel steps do not hide each other.
More than MAX_BARS steps (a map's items) would cost paint time and read as
noise, so they become MAX_BARS time bins: each bin is one bar whose weight is
how many steps were under way in it (relative to the busiest bin), coloured
by what ended in it: failed if a step failed there, done if steps finished
there, running when work was only under way. Either way at most MAX_BARS bars per task, in
O(steps) per call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agents.run.state import StepState, StepStatus

MAX_BARS = 48
MAX_LANES = 3
COLOUR_KEYS = {StepStatus.RUNNING: "running", StepStatus.DONE: "completed", StepStatus.FAILED: "failed"}
"""The app palette's status a step's bar takes (ui.theme.status_colour)."""


@dataclass(frozen=True)
class SubBar:
    start: float
    end: float
    status: StepStatus
    lane: int = 0
    lanes: int = 1
    weight: float = 1.0
    """0-1: a bin's share of the busiest bin's steps (1 for a single step)."""
    steps: int = 1
    """How many steps it stands for."""
    binned: bool = False
    """A time bin of many steps (drawn edge to edge), not one step (drawn with a gap)."""


def sub_bars(steps: Iterable[StepState], now: float, most: int = MAX_BARS) -> list[SubBar]:
    """The bars for a task's steps; a running step ends at `now`."""
    timed = [(s.started, _end(s, now), s.status) for s in steps if s.started is not None]
    if len(timed) <= most:
        return _one_each(timed)
    return _binned(timed, most)


def _end(step: StepState, now: float) -> float:
    assert step.started is not None
    end = step.finished if step.finished is not None else now
    return max(end, step.started)


def _one_each(timed: list[tuple[float, float, StepStatus]]) -> list[SubBar]:
    """Greedy lanes: a step takes the first lane free at its start (the last lane when none is)."""
    ends: list[float] = []
    placed: list[tuple[float, float, StepStatus, int]] = []
    for start, end, status in sorted(timed, key=lambda t: t[0]):
        lane = next((i for i, e in enumerate(ends) if e <= start), None)
        if lane is None:
            if len(ends) < MAX_LANES:
                lane = len(ends)
                ends.append(end)
            else:
                lane = min(range(len(ends)), key=ends.__getitem__)
        ends[lane] = max(ends[lane], end)
        placed.append((start, end, status, lane))
    lanes = max(1, len(ends))
    return [SubBar(s, e, st, lane, lanes) for s, e, st, lane in placed]


def _binned(timed: list[tuple[float, float, StepStatus]], bins: int) -> list[SubBar]:
    t0 = min(t[0] for t in timed)
    t1 = max(t[1] for t in timed)
    width = max(t1 - t0, 1e-6) / bins
    under_way = [0] * (bins + 1)  # a difference array: +1 where a step begins, -1 after it ends
    failed = [False] * bins
    done = [False] * bins
    for start, end, status in timed:
        first = min(bins - 1, int((start - t0) / width))
        last = min(bins - 1, int((end - t0) / width))
        under_way[first] += 1
        under_way[last + 1] -= 1
        if status is StepStatus.FAILED:
            failed[last] = True
        elif status is StepStatus.DONE:
            done[last] = True
    counts = _running_sums(under_way, bins)
    busiest = max(counts) or 1
    out = []
    for i in range(bins):
        if not counts[i]:
            continue
        status = StepStatus.FAILED if failed[i] else StepStatus.DONE if done[i] else StepStatus.RUNNING
        out.append(SubBar(t0 + i * width, t0 + (i + 1) * width, status, weight=counts[i] / busiest,
                          steps=counts[i], binned=True))
    return out


def _running_sums(deltas: list[int], n: int) -> list[int]:
    out, total = [], 0
    for i in range(n):
        total += deltas[i]
        out.append(total)
    return out
