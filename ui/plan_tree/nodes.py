"""The editor's mutable mirror of a plan: one TaskNode per agents.plan.Task.

The frozen Task values are what the rest of the app exchanges; the editor
needs nodes it can re-parent in place so that Qt's persistent indexes (and
with them the selection and the expanded state) survive every edit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from agents.plan import Plan, Task, find_cycle
from agents.plan.model import cycle_text
from agents.plan.patterns import Pattern, Route, pattern_problems

_GENERATED_ID = re.compile(r"^t(\d+)$")


class TaskNode:
    """One task in the editable tree; `parent` is None only for the root."""

    __slots__ = (
        "id",
        "title",
        "instructions",
        "agent",
        "depends_on",
        "requires_approval",
        "pattern",
        "children",
        "parent",
    )

    def __init__(
        self,
        id: str,
        title: str = "",
        instructions: str = "",
        agent: str = "writer",
        depends_on: tuple[str, ...] = (),
        requires_approval: bool = False,
        pattern: Pattern | None = None,
    ) -> None:
        self.id = id
        self.title = title
        self.instructions = instructions
        self.agent = agent
        self.depends_on = tuple(depends_on)
        self.requires_approval = requires_approval
        self.pattern = pattern
        self.children: list[TaskNode] = []
        self.parent: TaskNode | None = None

    @classmethod
    def from_task(cls, task: Task) -> TaskNode:
        node = cls(
            task.id,
            task.title,
            task.instructions,
            task.agent,
            task.depends_on,
            task.requires_approval,
            task.pattern,
        )
        for child in task.children:
            node.append(cls.from_task(child))
        return node

    def to_task(self) -> Task:
        return Task(
            id=self.id,
            title=self.title,
            instructions=self.instructions,
            agent=self.agent,
            depends_on=self.depends_on,
            requires_approval=self.requires_approval,
            pattern=self.pattern,
            children=tuple(c.to_task() for c in self.children),
        )

    @property
    def is_group(self) -> bool:
        return bool(self.children)

    def append(self, child: TaskNode) -> None:
        self.insert(len(self.children), child)

    def insert(self, row: int, child: TaskNode) -> None:
        self.children.insert(row, child)
        child.parent = self

    def row(self) -> int:
        """Position among the parent's children (0 for the root)."""
        if self.parent is None:
            return 0
        # identity, not equality: two nodes may hold equal values
        return next(i for i, c in enumerate(self.parent.children) if c is self)

    def walk(self) -> Iterator[TaskNode]:
        """This node and every descendant, parents first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def depth(self) -> int:
        depth, node = 0, self.parent
        while node is not None and node.parent is not None:
            depth, node = depth + 1, node.parent
        return depth

    def is_descendant_of(self, other: TaskNode) -> bool:
        node = self.parent
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False


def root_from_plan(plan: Plan) -> TaskNode:
    root = TaskNode("")
    for task in plan.tasks:
        root.append(TaskNode.from_task(task))
    return root


def top_most(nodes: Iterable[TaskNode]) -> list[TaskNode]:
    """The nodes that have no ancestor among the others, each once, in order."""
    unique: list[TaskNode] = []
    for node in nodes:
        if all(node is not seen for seen in unique):
            unique.append(node)
    return [n for n in unique if not any(n.is_descendant_of(o) for o in unique)]


def next_generated_number(ids: Iterable[str]) -> int:
    """1 + the highest n among ids of the form "t<n>" (1 when there are none)."""
    numbers = [int(m.group(1)) for i in ids if (m := _GENERATED_ID.match(i))]
    return max(numbers, default=0) + 1


def row_problems(plan: Plan, roles: Iterable[str] | None) -> dict[str, list[str]]:
    """Each task id involved in a problem, with what is wrong there, in words.

    Mirrors agents.plan.validate_plan, but per task, so the tree can mark
    the rows; unlike validate_plan it also looks for a cycle when there are
    other problems, so a cycle shows up at once.
    """
    out: dict[str, list[str]] = {}
    tasks = list(plan.iter_tasks())
    ids = {t.id for t in tasks}
    known = set(roles) if roles is not None else None
    for task in tasks:
        for dep in task.depends_on:
            if dep not in ids:
                out.setdefault(task.id, []).append(f"depends on unknown task {dep!r}")
        if known is not None and not task.is_group and task.agent not in known:
            out.setdefault(task.id, []).append(f"unknown agent role {task.agent!r}")
        for problem in _pattern_problems(task, tasks, ids, known):
            out.setdefault(task.id, []).append(problem)
    cycle = find_cycle(plan)
    if cycle:
        text = "on a dependency cycle: " + cycle_text(plan, cycle)
        for tid in dict.fromkeys(cycle):
            out.setdefault(tid, []).append(text)
    return out


def _pattern_problems(task: Task, tasks: list[Task], ids: set[str], roles: set[str] | None) -> list[str]:
    """validate_plan's problems with the task's pattern, without the "task 'x'" its row already says."""
    problems = pattern_problems(task.id, task.agent, task.pattern, depends_on=task.depends_on, ids=ids,
                                roles=roles, is_group=task.is_group)
    if isinstance(task.pattern, Route):
        by_id = {t.id: t for t in tasks}
        problems += [f"routes {name!r} to {target!r}, which does not depend on it"
                     for name, target in task.pattern.routes
                     if target in by_id and target != task.id and task.id not in by_id[target].depends_on]
    prefix = f"task {task.id!r} "
    return [p.removeprefix(prefix) for p in problems]
