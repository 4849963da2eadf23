"""A delegate's sub-tasks as read-only rows under its task in the plan tree.

The manager plans them at run time (`SubtasksPlanned`, folded into
`TaskState.subtasks`); they are no part of the editable plan, so they are not
TaskNodes: the model serves them as extra rows after a task's children and
never hands them to an edit or undo command. Their work is steps of the
delegate task keyed "sub <id>" (and "sub <id> · <step>"), see agents/run/team.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from agents.run.state import StepState, StepStatus, TaskState, TaskStatus

SEP = " · "
"""Between a step prefix and the rest of a step key (agents/run/team.py TeamHost.key)."""


class SubtaskRow:
    """One planned sub-task; `parent` is the delegate's TaskNode or a nested manager's row."""

    __slots__ = ("owner", "prefix", "sub_id", "title", "agent", "depends_on", "pattern", "parent",
                 "row", "children")

    def __init__(self, owner: str, within: str, spec: Mapping[str, Any], parent: object, row: int) -> None:
        self.owner = owner
        self.sub_id = str(spec.get("id", ""))
        self.prefix = _join(within, f"sub {self.sub_id}")
        self.title = str(spec.get("title") or self.sub_id)
        self.agent = str(spec.get("agent") or "")
        self.depends_on = tuple(str(d) for d in spec.get("depends_on") or ())
        self.pattern = str(spec.get("pattern") or "")
        self.parent = parent
        self.row = row
        """Its row under its parent (after the parent's plan children, if any)."""
        self.children: list[SubtaskRow] = []


def _join(prefix: str, key: str) -> str:
    return f"{prefix}{SEP}{key}" if prefix else key


def planned(task: TaskState | None, within: str = "") -> list[Mapping[str, Any]]:
    """The sub-tasks the manager at `within` planned (none before it did)."""
    if task is None:
        return []
    return [t for t in task.subtasks.get(within, ()) if isinstance(t, Mapping)]


def build(owner: str, task: TaskState | None, within: str, parent: object, first_row: int) -> list[SubtaskRow]:
    """Rows for what the manager at `within` planned, each with its own (nested) sub-tasks."""
    rows = [SubtaskRow(owner, within, spec, parent, first_row + i) for i, spec in enumerate(planned(task, within))]
    for row in rows:
        row.children = build(owner, task, row.prefix, row, 0)
    return rows


def shape(rows: list[SubtaskRow]) -> list[tuple[str, str, str]]:
    """What identifies a set of rows on screen (ids, titles, agents), to tell when it changed."""
    return [(r.prefix, r.title, r.agent) for r in rows]


def steps_of(task: TaskState | None, prefix: str) -> Iterator[StepState]:
    """The steps of the sub-task at `prefix` (its nested sub-tasks' included)."""
    if task is None:
        return iter(())
    return (s for k, s in task.steps.items() if k == prefix or k.startswith(prefix + SEP))


def status(task: TaskState | None, row: SubtaskRow) -> TaskStatus:
    """running / completed / failed / pending, from its steps.

    A sub-task with a pattern has several steps and nothing is announced
    between them (the next waits for a slot unannounced), so its steps all
    being done says it is done only once something after it began: its
    manager's integration, a sub-task that depends on it, or the task ended.
    """
    steps = list(steps_of(task, row.prefix))
    if not steps:
        return TaskStatus.PENDING
    if any(s.status is StepStatus.FAILED for s in steps):
        return TaskStatus.FAILED
    if any(s.status is StepStatus.RUNNING for s in steps):
        return TaskStatus.RUNNING
    assert task is not None
    single = row.prefix in task.steps and len(steps) == 1 and not row.pattern
    return TaskStatus.COMPLETED if single or _moved_on(task, row) else TaskStatus.RUNNING


def _moved_on(task: TaskState, row: SubtaskRow) -> bool:
    if task.status.terminal:
        return True
    within = row.parent.prefix if isinstance(row.parent, SubtaskRow) else ""
    if _join(within, "integrate") in task.steps:
        return True
    after = [_join(within, f"sub {spec.get('id')}") for spec in planned(task, within)
             if row.sub_id in (spec.get("depends_on") or ())]
    return any(next(steps_of(task, p), None) is not None for p in after)


def dependency_titles(task: TaskState | None, row: SubtaskRow) -> list[str]:
    """What it waits for, by title, among the sub-tasks its manager planned with it."""
    within = row.parent.prefix if isinstance(row.parent, SubtaskRow) else ""
    titles = {str(t.get("id")): str(t.get("title") or t.get("id")) for t in planned(task, within)}
    return [titles.get(d, d) for d in row.depends_on]


def cost(task: TaskState | None, row: SubtaskRow) -> float:
    return sum(s.cost for s in steps_of(task, row.prefix))


def walk(rows: list[SubtaskRow]) -> Iterator[SubtaskRow]:
    for row in rows:
        yield row
        yield from walk(row.children)
