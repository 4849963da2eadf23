"""A run's budget and deadline as people type and read them: the CLI's `--budget`
and `--deadline`, the composer's options row, the deadline question's "new
deadline", and the lines that show them (the run view, `troupe show`).

Deadlines: "30m", "2h", "1h30m", "90s" from now, or a time of day "HH:MM" (24-hour
clock); a time of day already past today means tomorrow.
"""

from __future__ import annotations

import re
import time

from app.approval_text import dollars

DEADLINE_HELP = "30m, 2h, 1h30m, or a time of day such as 14:30 (already past today: tomorrow)"
"""What a deadline may look like, for help texts and error messages."""

_SPAN = re.compile(r"(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)\s*s)?",
                   re.IGNORECASE)
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
NONE_WORDS = frozenset({"none", "no", "off", ""})
"""What clears a budget or a deadline where clearing is allowed."""


class BadConstraint(ValueError):
    """A budget or deadline that cannot be used; the message is one line for the person."""


def parse_budget(text: str) -> float:
    """US dollars, more than 0 ("0.50", "$2")."""
    cleaned = text.strip().removeprefix("$").strip()
    try:
        value = float(cleaned)
    except ValueError:
        raise BadConstraint(f"not an amount of US dollars: {text!r} (e.g. 0.50)") from None
    if not value > 0 or value == float("inf"):
        raise BadConstraint(f"a budget must be more than $0: {text!r}")
    return round(value, 4)


def parse_deadline(text: str, now: float | None = None) -> float:
    """When a deadline falls, epoch seconds (see the module's docstring for the forms)."""
    now = time.time() if now is None else now
    cleaned = text.strip()
    if clock := _CLOCK.fullmatch(cleaned):
        return _next_time_of_day(int(clock[1]), int(clock[2]), now, text)
    span = _SPAN.fullmatch(cleaned)
    if not cleaned or span is None or not any(span.groups()):
        raise BadConstraint(f"not a deadline: {text!r} (use 30m, 2h, 1h30m or HH:MM)")
    hours, minutes, seconds = (float(part or 0) for part in span.groups())
    seconds += hours * 3600 + minutes * 60
    if seconds <= 0:
        raise BadConstraint(f"a deadline must be in the future: {text!r}")
    return now + seconds


def _next_time_of_day(hour: int, minute: int, now: float, text: str) -> float:
    if hour > 23 or minute > 59:
        raise BadConstraint(f"not a time of day: {text!r} (use HH:MM, 00:00 to 23:59)")
    local = time.localtime(now)
    when = time.mktime((local.tm_year, local.tm_mon, local.tm_mday, hour, minute, 0, 0, 0, -1))
    if when <= now:  # already past today: the person means tomorrow
        tomorrow = time.localtime(now + 86400)
        when = time.mktime((tomorrow.tm_year, tomorrow.tm_mon, tomorrow.tm_mday, hour, minute, 0, 0, 0, -1))
    return when


def clock_text(when: float, now: float | None = None) -> str:
    """A deadline as a clock shows it: "14:30" today, "Tue 14:30" within a week, else the date."""
    now = time.time() if now is None else now
    local, today = time.localtime(when), time.localtime(now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    if abs(when - now) < 6 * 86400:
        return time.strftime("%a %H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def span_text(seconds: float) -> str:
    """A duration in words: "40 s", "12 min", "2 h 5 min"."""
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")


def left_text(deadline: float, now: float | None = None) -> str:
    """How far off a deadline is: "12 min left", or "passed 3 min ago"."""
    now = time.time() if now is None else now
    if deadline >= now:
        return f"{span_text(deadline - now)} left"
    return f"passed {span_text(now - deadline)} ago"


def constraints_line(budget: float | None, spent: float, deadline: float | None,
                     now: float | None = None, *, live: bool = True) -> str:
    """"Budget $0.50 · $0.12 spent · Deadline 14:30 · 12 min left" ("" when neither is set);
    a run that is not live shows its deadline without the countdown."""
    parts = []
    if budget is not None:
        parts.append(f"Budget {dollars(budget)} · {dollars(spent, 4 if spent < 0.1 else 2)} spent")
    if deadline is not None:
        when = f"Deadline {clock_text(deadline, now)}"
        parts.append(f"{when} · {left_text(deadline, now)}" if live else when)
    return "  ·  ".join(parts)


__all__ = [
    "DEADLINE_HELP", "NONE_WORDS", "BadConstraint", "clock_text", "constraints_line", "left_text",
    "parse_budget", "parse_deadline", "span_text",
]
