"""Making a small model's plan runnable without asking it again.

A tiny local model under a JSON grammar writes plans that parse but repeat
ids or point at tasks that do not exist; asking again rarely helps it. For
such models the planner applies `tidy_plan` before validation: ids are made
unique, a task keeps only dependencies on tasks before it (so no cycle
and no unknown id is possible), and patterns are dropped (such a model cannot
fill their fields sensibly, and one agent per task suits it best). The person still sees and edits the plan
before it runs.
"""

from __future__ import annotations

import re
from dataclasses import replace

from agents.plan import Plan, Task

_ID = re.compile(r"[^A-Za-z0-9_-]+")


def tidy_plan(plan: Plan) -> Plan:
    taken: dict[str, str] = {}  # original id -> the id it got (first occurrence)
    seen: set[str] = set()
    tasks = tuple(_tidy(t, seen, taken, ancestors=()) for t in plan.tasks)
    return replace(plan, tasks=tasks)


def _tidy(task: Task, seen: set[str], taken: dict[str, str], ancestors: tuple[str, ...]) -> Task:
    new_id = _unique(_ID.sub("-", task.id).strip("-") or "task", seen)
    earlier = {taken[d] for d in task.depends_on if d in taken} - set(ancestors)
    deps = tuple(d for d in dict.fromkeys(taken.get(x, "") for x in task.depends_on) if d in earlier)
    taken.setdefault(task.id, new_id)
    seen.add(new_id)
    children = tuple(_tidy(c, seen, taken, (*ancestors, new_id)) for c in task.children)
    return replace(task, id=new_id, depends_on=deps, children=children, pattern=None)


def _unique(base: str, seen: set[str]) -> str:
    candidate, n = base, 2
    while candidate in seen:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
