"""Plans: a tree of tasks with dependencies, parsing and validation.

A task with children is a *group*: it does not call a model itself, it
finishes when all its children do, and its output is theirs combined.
A dependency on a group means "after every task in that group". Children
inherit their ancestors' dependencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from agents.errors import PlanError, PlanValidationError
from agents.plan.patterns import Pattern, Route, from_fields, pattern_problems, to_fields


@dataclass(frozen=True)
class Task:
    """One step of a plan, as the person and the planner see it."""

    id: str
    """Stable identifier, unique in the whole plan."""
    title: str
    """Short name shown in the tree."""
    instructions: str = ""
    """What the agent should do, in plain language."""
    agent: str = "writer"
    """Roster role that runs this task."""
    depends_on: tuple[str, ...] = ()
    """Ids (anywhere in the tree) that must finish before this task starts."""
    requires_approval: bool = False
    """Whether the runner waits for the person before running it."""
    children: tuple[Task, ...] = ()
    """Sub-tasks; a task with children is a group."""
    pattern: Pattern | None = None
    """How several agents work on it (review, vote, ...); None: one agent (single)."""

    @property
    def is_group(self) -> bool:
        return bool(self.children)


@dataclass(frozen=True)
class Plan:
    """A goal and the tree of tasks that reaches it."""

    goal: str
    """The person's goal, verbatim."""
    tasks: tuple[Task, ...] = field(default_factory=tuple)
    """Top-level tasks, in display order."""

    def iter_tasks(self) -> Iterator[Task]:
        """Every task, depth first, parents before children."""
        yield from _walk(self.tasks)

    def task(self, task_id: str) -> Task:
        for task in self.iter_tasks():
            if task.id == task_id:
                return task
        raise KeyError(task_id)

    def leaves(self) -> list[Task]:
        return [t for t in self.iter_tasks() if not t.is_group]

    def parents(self) -> dict[str, str | None]:
        """Map each task id to its parent's id (None at the top level)."""
        out: dict[str, str | None] = {}

        def visit(tasks: Iterable[Task], parent: str | None) -> None:
            for task in tasks:
                out[task.id] = parent
                visit(task.children, task.id)

        visit(self.tasks, None)
        return out

    def replace_task(self, task_id: str, **changes: Any) -> Plan:
        """A copy of the plan with one task's fields changed."""

        def swap(tasks: tuple[Task, ...]) -> tuple[Task, ...]:
            return tuple(
                replace(t, **changes) if t.id == task_id else replace(t, children=swap(t.children))
                for t in tasks
            )

        return replace(self, tasks=swap(self.tasks))

    def to_dict(self) -> dict[str, Any]:
        return {"goal": self.goal, "tasks": [_task_to_dict(t) for t in self.tasks]}

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Parse untrusted JSON (a plan file, a model's answer); raises PlanError."""
        # pydantic models are built on first use (~60 ms, not at start-up)
        from pydantic import ValidationError  # noqa: PLC0415

        from agents.plan.schema import PlanModel  # noqa: PLC0415

        if (depth := _nesting(data)) > MAX_NESTING:
            raise PlanError(f"malformed plan: its tasks nest {depth} levels deep; at most "
                            f"{MAX_NESTING} levels (groups within groups) are allowed")
        try:
            model = PlanModel.model_validate(data)
        except ValidationError as exc:
            raise PlanError(_describe_validation_error(exc)) from None
        return cls(goal=model.goal, tasks=tuple(_task_from_model(t) for t in model.tasks))


MAX_NESTING = 32
"""How deep tasks may nest (a group's children are one level down). Deeper plans are
refused when parsed: every walk over a plan recurses, and Python's stack is finite."""


def _nesting(data: Any) -> int:
    """How deep the tasks of raw plan data nest (1: no groups), without recursing."""
    def children(item: Any, key: str) -> list[Any]:
        value = item.get(key) if isinstance(item, dict) else None
        return value if isinstance(value, list) else []

    deepest, level = 0, children(data, "tasks")
    while level:
        deepest += 1
        level = [child for task in level for child in children(task, "children")]
    return deepest


def _walk(tasks: Iterable[Task]) -> Iterator[Task]:
    for task in tasks:
        yield task
        yield from _walk(task.children)


def _task_to_dict(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "instructions": task.instructions,
        "agent": task.agent,
        "depends_on": list(task.depends_on),
        "requires_approval": task.requires_approval,
        "children": [_task_to_dict(c) for c in task.children],
        **to_fields(task.pattern),
    }


# --- untrusted input -------------------------------------------------------


def _task_from_model(model: Any) -> Task:
    return Task(
        id=model.id.strip(),
        title=model.title.strip(),
        instructions=model.instructions,
        agent=model.agent.strip(),
        depends_on=tuple(d.strip() for d in model.depends_on),
        requires_approval=model.requires_approval,
        children=tuple(_task_from_model(c) for c in model.children),
        pattern=from_fields(model.model_dump(exclude={"children"})),
    )


def _describe_validation_error(exc: Any) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "plan"
        parts.append(f"{where}: {err['msg']}")
    return "malformed plan: " + "; ".join(parts)


def plan_json_schema(roles: Iterable[str] | None = None) -> dict[str, Any]:
    """JSON schema of a plan, for response_format / grammar-constrained output.

    With `roles`, a task's agent must be one of them (an enum), so a model
    constrained by the schema cannot invent a role.
    """
    from agents.plan.schema import PlanModel  # noqa: PLC0415

    schema = PlanModel.model_json_schema()
    if roles is not None:
        agent = schema["$defs"]["TaskModel"]["properties"]["agent"]
        agent.pop("minLength", None)
        agent["enum"] = list(roles)
    return schema


# --- validation ------------------------------------------------------------


def validate_plan(plan: Plan, roles: Iterable[str] | None = None) -> None:
    """Raise PlanValidationError naming every problem, or return if runnable."""
    problems: list[str] = []
    tasks = list(plan.iter_tasks())
    if not tasks:
        raise PlanValidationError(["the plan is empty: add at least one task"])
    problems += _blank_names(tasks)
    problems += _duplicate_ids(tasks)
    ids = {t.id for t in tasks}
    for task in tasks:
        for dep in task.depends_on:
            if dep not in ids:
                problems.append(f"task {task_name(task)} depends on unknown task {dep!r}")
    problems += _pattern_problems(tasks, ids, set(roles) if roles is not None else None)
    if roles is not None:
        known = set(roles)
        for task in tasks:
            if not task.is_group and task.agent not in known:
                problems.append(
                    f"task {task_name(task)} is assigned to unknown role {task.agent!r} "
                    f"(known: {', '.join(sorted(known))})"
                )
    if not problems:
        cycle = find_cycle(plan)
        if cycle:
            problems.append("dependency cycle: " + cycle_text(plan, cycle))
    if problems:
        raise PlanValidationError(problems)


def task_name(task: Task) -> str:
    """How a message names a task: its title and id ("“Write” ('w')"), the id alone when untitled."""
    return f"“{task.title.strip()}” ({task.id!r})" if task.title.strip() else repr(task.id)


def cycle_text(plan: Plan, cycle: list[str]) -> str:
    """A cycle by the tasks' titles: "“Research” → “Write” → “Research”" (ids where untitled)."""
    titles = {t.id: t.title.strip() for t in plan.iter_tasks()}
    return " → ".join(f"“{titles[i]}”" if titles.get(i) else i for i in cycle)


def plan_problems(plan: Plan, roles: Iterable[str] | None = None) -> list[str]:
    """The problems validate_plan would raise, as a list (empty when valid)."""
    try:
        validate_plan(plan, roles)
    except PlanValidationError as exc:
        return exc.problems
    return []


def _blank_names(tasks: list[Task]) -> list[str]:
    """A task whose id or title is empty or only spaces, named by what it has."""
    out = []
    for number, task in enumerate(tasks, 1):
        blank = [name for name, value in (("id", task.id), ("title", task.title)) if not value.strip()]
        if not blank:
            continue
        if task.id.strip():
            who = f"task {task.id!r}"
        else:  # no id to name it by: its place in the plan (depth first), and its title if any
            who = f"task #{number}" + (f" ({task.title.strip()!r})" if task.title.strip() else "")
        out.append(f"{who} has an empty {' and '.join(blank)}: give it one")
    return out


def _pattern_problems(tasks: list[Task], ids: set[str], roles: set[str] | None) -> list[str]:
    out: list[str] = []
    by_id = {t.id: t for t in tasks}
    for task in tasks:
        out += pattern_problems(task.id, task.agent, task.pattern, depends_on=task.depends_on, ids=ids,
                                roles=roles, is_group=task.is_group)
        if isinstance(task.pattern, Route):  # a route's tasks wait for its choice
            for name, target in task.pattern.routes:
                if target in by_id and target != task.id and task.id not in by_id[target].depends_on:
                    out.append(f"task {task.id!r} (route) routes {name!r} to {target!r}, which does not "
                               f"depend on it: add {task.id!r} to {target!r}'s depends_on")
    return out


def _duplicate_ids(tasks: list[Task]) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for task in tasks:
        if not task.id.strip():
            continue  # _blank_names says it
        if task.id in seen and task.id not in dups:
            dups.append(task.id)
        seen.add(task.id)
    return [f"duplicate task id {d!r}" for d in dups]


def wait_graph(plan: Plan) -> dict[str, list[str]]:
    """Edges `a -> b` meaning "a cannot finish before b finishes".

    Explicit dependencies, a group waiting for its children, and a child
    waiting for its ancestors' dependencies.
    """
    parents = plan.parents()
    by_id = {t.id: t for t in plan.iter_tasks()}
    graph: dict[str, list[str]] = {}
    for task in by_id.values():
        edges = list(task.depends_on) + [c.id for c in task.children]
        parent = parents[task.id]
        while parent is not None:
            edges += by_id[parent].depends_on
            parent = parents[parent]
        graph[task.id] = list(dict.fromkeys(edges))
    return graph


def find_cycle(plan: Plan) -> list[str] | None:
    """The ids on one dependency cycle, first id repeated at the end, or None."""
    graph = wait_graph(plan)
    state: dict[str, int] = {}  # 1 = on the DFS stack, 2 = done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := dfs(node)):
            return found
    return None


def leaf_dependencies(plan: Plan) -> dict[str, set[str]]:
    """For each leaf task, the leaf ids it must wait for (groups expanded)."""
    by_id = {t.id: t for t in plan.iter_tasks()}
    parents = plan.parents()

    def leaves_of(task_id: str) -> set[str]:
        task = by_id[task_id]
        if not task.is_group:
            return {task.id}
        return {leaf.id for leaf in _walk(task.children) if not leaf.is_group}

    out: dict[str, set[str]] = {}
    for task in by_id.values():
        if task.is_group:
            continue
        deps = set(task.depends_on)
        parent = parents[task.id]
        while parent is not None:
            deps.update(by_id[parent].depends_on)
            parent = parents[parent]
        out[task.id] = set().union(*(leaves_of(d) for d in deps)) if deps else set()
    return out
