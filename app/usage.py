"""Spending over a period, as `troupe usage` and the window's spending view show it.

The numbers come from app/storage/usage.py; this module turns what a person
types ("2026-11-01", "7d") or picks ("This month") into a period and says
money in words: "free" for calls to models on this machine, "price unknown"
for calls nobody could price, never a silent $0.0000.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.cost_text import cost_text

if TYPE_CHECKING:
    from app.storage.repository import Store
    from app.storage.usage import GroupBy, RunCost, UsageRow

DEFAULT_DAYS = 30
"""The period `troupe usage` covers without --since: the last 30 days, today included."""

TOP_RUNS = 10
"""How many of the costliest runs a report lists."""

_RELATIVE = re.compile(r"^(\d{1,5})([dw])$")


class BadPeriod(ValueError):
    """A date or period a person typed that cannot be read; the message is one line."""


@dataclass(frozen=True)
class Period:
    """A span of time: calls that finished in [since, until)."""

    since: float | None
    """Start (seconds since the epoch, inclusive); None: from the first call."""
    until: float | None
    """End (exclusive); None: up to now."""
    label: str
    """How to say it: "last 30 days", "2026-11-01 – 2026-11-30", "all time"."""


def _midnight(day: dt.date) -> float:
    """The local start of `day` (mktime follows the machine's time zone, as SQLite's
    'localtime' does)."""
    return dt.datetime.combine(day, dt.time()).timestamp()


def _day(text: str, today: dt.date, *, until: bool) -> dt.date:
    """YYYY-MM-DD, or Nd / Nw: for --since the first day of the last N days (today is one
    of them), for --until the day N days ago."""
    value = text.strip().lower()
    if m := _RELATIVE.match(value):
        days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        if days == 0 and not until:
            raise BadPeriod(f"{text!r}: a period of 0 days is empty; try 1d for today")
        return today - dt.timedelta(days=days if until else days - 1)
    if value in ("today", "yesterday"):
        return today - dt.timedelta(days=0 if value == "today" else 1)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadPeriod(f"{text!r} is not a date: use YYYY-MM-DD, or 7d / 4w for days "
                        "or weeks back") from None


def parse_period(since: str | None, until: str | None, today: dt.date | None = None) -> Period:
    """The period `--since` and `--until` name (whole local days, both included);
    without --since, the last DEFAULT_DAYS days. Raises BadPeriod."""
    today = today or dt.date.today()
    first = _day(since, today, until=False) if since else today - dt.timedelta(days=DEFAULT_DAYS - 1)
    last = _day(until, today, until=True) if until else None
    if last is not None and last < first:
        raise BadPeriod(f"--since {first.isoformat()} is after --until {last.isoformat()}")
    end = _midnight(last + dt.timedelta(days=1)) if last else None
    if since is None and until is None:
        label = f"last {DEFAULT_DAYS} days"
    elif since and until is None and (m := _RELATIVE.match(since.strip().lower())) and m.group(2) == "d":
        label = f"last {int(m.group(1))} days" if m.group(1) != "1" else "today"
    else:
        label = f"{first.isoformat()} – {last.isoformat() if last else 'today'}"
    return Period(_midnight(first), end, label)


PERIODS = {"7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days",
           "month": "This month", "all": "All time"}
"""The periods the spending view offers, by key."""


def named_period(key: str, today: dt.date | None = None) -> Period:
    """One of PERIODS, ending today."""
    today = today or dt.date.today()
    label = PERIODS[key].lower()
    if key == "all":
        return Period(None, None, label)
    if key == "month":
        return Period(_midnight(today.replace(day=1)), None, label)
    return Period(_midnight(today - dt.timedelta(days=int(key[:-1]) - 1)), None, label)


@dataclass(frozen=True)
class UsageReport:
    """What `troupe usage` prints and the spending view shows for one period and grouping."""

    period: Period
    """The span covered."""
    by: GroupBy
    """What the rows are grouped by."""
    rows: tuple[UsageRow, ...]
    """One per group, days in order, otherwise costliest first."""
    top_runs: tuple[RunCost, ...]
    """The runs that cost most in the period, costliest first."""

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.rows)

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.rows)

    @property
    def unpriced_calls(self) -> int:
        return sum(r.unpriced_calls for r in self.rows)

    @property
    def total_tokens(self) -> int:
        return sum(r.total_tokens for r in self.rows)


def usage_report(store: Store, period: Period, by: GroupBy | str, top: int = TOP_RUNS) -> UsageReport:
    """Sum the period's model calls per group, and find its costliest runs."""
    from app.storage import usage  # noqa: PLC0415 - SQLAlchemy, not at the window's start

    group = usage.GroupBy(by)
    rows = usage.usage_by(store, group, period.since, period.until)
    runs = usage.top_runs(store, period.since, period.until, top)
    return UsageReport(period, group, tuple(rows), tuple(runs))


def money(cost: float, calls: int, unpriced_calls: int) -> str:
    """A group's or a run's spending in words: "free", "$0.0123", "price unknown (3 calls)",
    "$0.0123 + price unknown (1 call)"; "–" with no calls at all."""
    if calls == 0:
        return "–"
    if unpriced_calls == 0 and cost == 0:
        return "free"
    return cost_text(cost, unpriced_calls)


__all__ = ["PERIODS", "BadPeriod", "Period", "UsageReport", "money", "named_period",
           "parse_period", "usage_report"]
