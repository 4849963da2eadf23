"""`troupe projects`: the projects, each with its monthly budget and what its runs spent
this calendar month; `troupe projects budget NAME USD|none` sets or removes a budget.

Crossing a project's monthly budget pauses new model calls of its runs and asks,
as a run's own budget does (agents/run/runner.py).
"""

from __future__ import annotations

import argparse
import sys

from app.approval_text import dollars
from app.constraints import NONE_WORDS, BadConstraint, parse_budget
from app.safe_text import safe_json

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    projects = sub.add_parser("projects", help="list projects with their monthly budgets; set a budget")
    projects.add_argument("--json", action="store_true")
    verbs = projects.add_subparsers(dest="verb", parser_class=type(projects))
    budget = verbs.add_parser(
        "budget", help="set a project's monthly budget in US dollars (none: remove it); once its runs "
        "have spent it in a calendar month, new model calls pause and ask")
    budget.add_argument("name", help="the project's name (see `troupe projects`)")
    budget.add_argument("usd", metavar="USD|none", type=_budget_or_none)


def _budget_or_none(text: str) -> float | None:
    if text.strip().lower() in NONE_WORDS:
        return None
    try:
        return parse_budget(text)
    except BadConstraint as exc:
        raise argparse.ArgumentTypeError(f"{exc}; or none to remove it") from None


def cmd_projects(args: argparse.Namespace) -> int:
    from app.runs.service import RunService  # noqa: PLC0415 - SQLAlchemy, not on every command's start
    from app.storage.limits import UnknownProject, month_name, project_budgets, set_project_budget  # noqa: PLC0415

    service = RunService.open()
    try:
        if args.verb == "budget":
            try:
                set_project_budget(service.store, args.name, args.usd)
            except UnknownProject:
                names = ", ".join(service.store.projects()) or "none yet"
                print(f"troupe: no project named {args.name!r} (projects: {names})", file=sys.stderr)
                return EXIT_BAD_INPUT
            said = f"{dollars(args.usd)} a month" if args.usd is not None else "no monthly budget"
            print(f"project {args.name}: {said}", file=sys.stderr)
            return EXIT_OK
        rows = project_budgets(service.store)
    finally:
        service.close()
    if args.json:
        print(safe_json([{"name": r.name, "monthly_budget_usd": r.monthly_budget_usd,
                          "spent_this_month": round(r.spent, 6)} for r in rows], indent=2))
        return EXIT_OK
    print(f"spent in {month_name()}:", file=sys.stderr)
    for r in rows:
        budget = f"of {dollars(r.monthly_budget_usd)} a month" if r.monthly_budget_usd is not None else "(no budget)"
        print(f"{r.name:<24} {dollars(r.spent, 4):>10} {budget}")
    if not rows:
        print("no projects yet", file=sys.stderr)
    return EXIT_OK
