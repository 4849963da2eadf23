"""Task patterns: how a team works on one task (issue 14).

A task without a pattern is `single`: one agent, one answer. The others:

- `review`: the task's agent drafts, `reviewer` approves or asks for a revision
  with feedback, up to `max_rounds` drafts.
- `vote`: several independent answers (`voters`, each "role" or "role@model",
  or `samples` answers of the task's agent), then a `judge` or a majority.
- `debate`: `debaters` argue for `rounds` rounds, each seeing the others' last
  arguments; `judge` decides.
- `delegate`: the task's agent plans up to `max_subtasks` sub-tasks at run time
  (nested `max_depth` deep at most), they run, and it integrates their results.
- `map`: the output of `over` (a dependency) is split into items, one sub-agent
  per item, at most `max_items`.
- `route`: the task's agent picks one label of `routes`; that task runs, the
  others are skipped.

In a plan file the options are fields of the task itself
(`"pattern": "review", "reviewer": "reviewer", "max_rounds": 3`), which is
what `to_fields` writes and `from_fields` reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class PatternKind(StrEnum):
    SINGLE = "single"
    REVIEW = "review"
    VOTE = "vote"
    DEBATE = "debate"
    DELEGATE = "delegate"
    MAP = "map"
    ROUTE = "route"


MAX_ROUNDS = 10
"""The most review rounds or debate rounds a task may ask for."""
MAX_VOTERS = 9
MAX_SUBTASKS = 20
MAX_DEPTH = 3
MAP_HARD_CAP = 1000
"""The most items a map may run, whatever its max_items says."""


@dataclass(frozen=True)
class Review:
    reviewer: str
    max_rounds: int = 3
    kind: PatternKind = PatternKind.REVIEW


@dataclass(frozen=True)
class Vote:
    voters: tuple[str, ...] = ()
    """Each "role" or "role@model"; empty: `samples` answers of the task's agent."""
    samples: int = 0
    judge: str = ""
    """The role that weighs the answers; "": a majority of identical short answers."""
    kind: PatternKind = PatternKind.VOTE


@dataclass(frozen=True)
class Debate:
    debaters: tuple[str, ...]
    judge: str
    rounds: int = 2
    kind: PatternKind = PatternKind.DEBATE


@dataclass(frozen=True)
class Delegate:
    max_subtasks: int = 5
    max_depth: int = 1
    kind: PatternKind = PatternKind.DELEGATE


@dataclass(frozen=True)
class Map:
    over: str
    """The task whose output is split into items (one of this task's dependencies)."""
    max_items: int = 300
    kind: PatternKind = PatternKind.MAP


@dataclass(frozen=True)
class Route:
    routes: tuple[tuple[str, str], ...]
    """(label, task id) pairs, in the order written."""
    kind: PatternKind = PatternKind.ROUTE


Pattern = Review | Vote | Debate | Delegate | Map | Route


# --- plan file fields ------------------------------------------------------------------


def to_fields(pattern: Pattern | None) -> dict[str, Any]:
    """The task fields a plan file holds for `pattern` (none for single)."""
    match pattern:
        case None:
            return {}
        case Review(reviewer, max_rounds):
            return {"pattern": "review", "reviewer": reviewer, "max_rounds": max_rounds}
        case Vote(voters, samples, judge):
            out: dict[str, Any] = {"pattern": "vote"}
            out.update({"voters": list(voters)} if voters else {"samples": samples})
            return out | ({"judge": judge} if judge else {})
        case Debate(debaters, judge, rounds):
            return {"pattern": "debate", "debaters": list(debaters), "rounds": rounds, "judge": judge}
        case Delegate(max_subtasks, max_depth):
            return {"pattern": "delegate", "max_subtasks": max_subtasks, "max_depth": max_depth}
        case Map(over, max_items):
            return {"pattern": "map", "over": over, "max_items": max_items}
        case Route(routes):
            return {"pattern": "route", "routes": dict(routes)}
    raise TypeError(f"not a pattern: {pattern!r}")


def from_fields(fields: Mapping[str, Any]) -> Pattern | None:
    """The pattern of a task's (already schema-checked) fields; None for single."""
    kind = PatternKind(fields.get("pattern") or "single")

    def text(name: str) -> str:
        return str(fields.get(name) or "").strip()

    def number(name: str, default: int) -> int:
        value = fields.get(name)
        return default if value is None else int(value)

    def names(name: str) -> tuple[str, ...]:
        return tuple(str(v).strip() for v in fields.get(name) or ())

    match kind:
        case PatternKind.SINGLE:
            return None
        case PatternKind.REVIEW:
            return Review(text("reviewer"), number("max_rounds", 3))
        case PatternKind.VOTE:
            return Vote(names("voters"), number("samples", 0), text("judge"))
        case PatternKind.DEBATE:
            return Debate(names("debaters"), text("judge"), number("rounds", 2))
        case PatternKind.DELEGATE:
            return Delegate(number("max_subtasks", 5), number("max_depth", 1))
        case PatternKind.MAP:
            return Map(text("over"), number("max_items", 300))
        case PatternKind.ROUTE:
            routes = fields.get("routes") or {}
            return Route(tuple((str(k).strip(), str(v).strip()) for k, v in routes.items()))
    raise AssertionError(kind)


def named_models(pattern: Pattern | None) -> list[str]:
    """The models a pattern names ("role@model" in voters, debaters, reviewer, judge)."""
    match pattern:
        case Review(reviewer, _):
            names: tuple[str, ...] = (reviewer,)
        case Vote(voters, _, judge):
            names = (*voters, judge)
        case Debate(debaters, judge, _):
            names = (*debaters, judge)
        case _:
            names = ()
    return [name.partition("@")[2] for name in names if "@" in name]


# --- what a person reads ---------------------------------------------------------------


def label(pattern: Pattern | None, titles: Mapping[str, str] | None = None) -> str:
    """A short label for the plan tree: "review ×3 by reviewer", "map over Sources"."""
    titles = titles or {}
    match pattern:
        case None:
            return ""
        case Review(reviewer, max_rounds):
            return f"review ×{max_rounds} by {reviewer}"
        case Vote(voters, samples, judge):
            count = len(voters) or samples
            return f"vote of {count}" + (f", judged by {judge}" if judge else ", majority")
        case Debate(debaters, judge, rounds):
            return f"debate of {len(debaters)} ×{rounds}, judged by {judge}"
        case Delegate(max_subtasks, _depth):
            return f"delegates up to {max_subtasks}"
        case Map(over, max_items):
            return f"map over {titles.get(over, over)} (≤{max_items})"
        case Route(routes):
            return "route: " + " / ".join(label for label, _ in routes)
    return ""


# --- validation ------------------------------------------------------------------------


def pattern_problems(task_id: str, agent: str, pattern: Pattern | None, *, depends_on: Iterable[str],
                     ids: set[str], roles: set[str] | None, is_group: bool) -> list[str]:
    """Every problem with one task's pattern, each naming the task."""
    if pattern is None:
        return []
    who = f"task {task_id!r}"
    if is_group:
        return [f"{who} has sub-tasks, so it cannot have a pattern ({pattern.kind}): "
                "give the pattern to a task without sub-tasks"]
    problems: list[str] = []

    def role(field: str, name: str) -> None:
        if not name:
            problems.append(f"{who} ({pattern.kind}) needs a {field}: name a role")
        elif roles is not None and name.split("@", 1)[0] not in roles:
            problems.append(f"{who} ({pattern.kind}): {field} {name!r} is not a known role "
                            f"(known: {', '.join(sorted(roles))})")

    def within(field: str, value: int, low: int, high: int) -> None:
        if not low <= value <= high:
            problems.append(f"{who} ({pattern.kind}): {field} is {value}; it must be {low} to {high}")

    match pattern:
        case Review(reviewer, max_rounds):
            role("reviewer", reviewer)
            within("max_rounds", max_rounds, 1, MAX_ROUNDS)
        case Vote(voters, samples, judge):
            if voters and samples:
                problems.append(f"{who} (vote): give voters or samples, not both")
            elif not voters and not samples:
                problems.append(f"{who} (vote): give voters (roles) or samples (a number of answers)")
            for voter in voters:
                role("voter", voter)
            if voters:
                within("the number of voters", len(voters), 2, MAX_VOTERS)
            if samples:
                within("samples", samples, 2, MAX_VOTERS)
            if judge:
                role("judge", judge)
        case Debate(debaters, judge, rounds):
            if len(debaters) < 2:
                problems.append(f"{who} (debate) needs at least two debaters")
            for debater in debaters:
                role("debater", debater)
            role("judge", judge)
            within("rounds", rounds, 1, MAX_ROUNDS)
        case Delegate(max_subtasks, max_depth):
            within("max_subtasks", max_subtasks, 1, MAX_SUBTASKS)
            within("max_depth", max_depth, 1, MAX_DEPTH)
        case Map(over, max_items):
            if not over:
                problems.append(f"{who} (map) needs over: the id of the task whose list it works through")
            elif over not in ids:
                problems.append(f"{who} (map) is over unknown task {over!r}")
            elif over not in set(depends_on):
                problems.append(f"{who} (map) is over {over!r}, which is not one of its dependencies: "
                                f"add {over!r} to depends_on")
            within("max_items", max_items, 1, MAP_HARD_CAP)
        case Route(routes):
            if not routes:
                problems.append(f"{who} (route) needs routes: a label for each task it may choose")
            for name, target in routes:
                if not name:
                    problems.append(f"{who} (route) has a route with an empty label")
                if target not in ids:
                    problems.append(f"{who} (route) routes {name!r} to unknown task {target!r}")
                elif target == task_id:
                    problems.append(f"{who} (route) cannot route to itself")
    return problems
