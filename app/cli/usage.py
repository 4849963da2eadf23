"""`troupe usage`: where the money went, grouped by day, project, model or role,
and the runs that cost most. The window's spending view shows the same numbers."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any

from app.paths import db_path
from app.safe_text import safe_json
from app.usage import BadPeriod, UsageReport, money, parse_period, usage_report

EXIT_OK, EXIT_BAD_INPUT = 0, 2
BY = ("day", "project", "model", "role")
GOAL_WIDTH = 60


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    usage = sub.add_parser("usage", help="cost, calls and tokens over a period, and the costliest runs")
    usage.add_argument("--since", help="first day: YYYY-MM-DD, or 7d / 4w back (default: the last 30 days)")
    usage.add_argument("--until", help="last day, included: YYYY-MM-DD, or 7d / 4w back (default: today)")
    usage.add_argument("--by", choices=BY, default="day",
                       help="group by local day, project, model or role (default: day)")
    usage.add_argument("--json", action="store_true")


def cmd_usage(args: argparse.Namespace) -> int:
    try:
        period = parse_period(args.since, args.until)
    except BadPeriod as exc:
        print(f"troupe: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from app.storage import open_database  # noqa: PLC0415 - SQLAlchemy: only for this command

    store = open_database(db_path())
    try:
        report = usage_report(store, period, args.by)
    finally:
        store.close()
    print(safe_json(report_to_dict(report), indent=2) if args.json else "\n".join(report_lines(report)))
    return EXIT_OK


def _when(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds") if ts else None


def _usd(cost: float) -> float:
    return round(cost, 10)  # sums of floats: 0.1, not 0.09999999999999999


def report_to_dict(report: UsageReport) -> dict[str, Any]:
    """The --json form: numbers as numbers, and each money text as the table says it."""
    rows = [{"key": r.key, "calls": r.calls, "prompt_tokens": r.prompt_tokens,
             "completion_tokens": r.completion_tokens, "tokens": r.total_tokens, "cost": _usd(r.cost),
             "unpriced_calls": r.unpriced_calls, "free": r.free,
             "cost_text": money(r.cost, r.calls, r.unpriced_calls)} for r in report.rows]
    runs = [{"id": r.id, "goal": r.goal, "project": r.project, "created": _when(r.created),
             "calls": r.calls, "cost": _usd(r.cost), "unpriced_calls": r.unpriced_calls,
             "cost_text": money(r.cost, r.calls, r.unpriced_calls)} for r in report.top_runs]
    total = {"calls": report.calls, "tokens": report.total_tokens, "cost": _usd(report.cost),
             "unpriced_calls": report.unpriced_calls,
             "cost_text": money(report.cost, report.calls, report.unpriced_calls)}
    period = {"since": _when(report.period.since), "until": _when(report.period.until),
              "label": report.period.label}
    return {"period": period, "by": report.by.value, "rows": rows, "total": total, "top_runs": runs}


def report_lines(report: UsageReport) -> list[str]:
    """The table, its total and the costliest runs, as `troupe usage` prints them."""
    lines = [f"Spending by {report.by.value}, {report.period.label}"]
    if not report.rows:
        return [*lines, "no model calls in this period"]
    width = max(12, *(len(r.key) for r in report.rows))
    lines.append(f"{report.by.value.upper():<{width}}  {'CALLS':>6}  {'TOKENS':>11}  COST")
    for r in report.rows:
        lines.append(f"{r.key:<{width}}  {r.calls:>6}  {r.total_tokens:>11,}  "
                     f"{money(r.cost, r.calls, r.unpriced_calls)}")
    lines.append(f"{'total':<{width}}  {report.calls:>6}  {report.total_tokens:>11,}  "
                 f"{money(report.cost, report.calls, report.unpriced_calls)}")
    return lines + _top_run_lines(report) if report.top_runs else lines


def _top_run_lines(report: UsageReport) -> list[str]:
    costs = [money(r.cost, r.calls, r.unpriced_calls) for r in report.top_runs]
    width = max(len(c) for c in costs)
    lines = ["", "Top runs by cost"]
    for run, cost in zip(report.top_runs, costs, strict=True):
        goal = " ".join(run.goal.split())
        goal = goal if len(goal) <= GOAL_WIDTH else goal[:GOAL_WIDTH - 1] + "…"
        when = time.strftime("%Y-%m-%d", time.localtime(run.created))
        lines.append(f"{run.id}  {when}  {cost:<{width}}  {run.project}: {goal}")
    return lines


__all__ = ["add_commands", "cmd_usage", "report_lines", "report_to_dict"]
