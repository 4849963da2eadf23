"""What changed between two plans, task by task, by id.

    diff = diff_plans(old, new)
    diff.added, diff.removed, diff.unchanged      # task ids
    diff.changed                                 # TaskChange per changed task
    print("\n".join(diff.summary()))             # "+ t7 Collect pricing (researcher)"

A task is matched by its id. Its compared fields are title, instructions,
agent, depends_on, requires_approval and parent (moved to another group or
to the top level). Moving a task among its siblings is not a change: the
runner does not care about order; nor is the order of depends_on, or
whitespace around instructions. The agent of a task that is a group in
both plans is not compared either: a group calls no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.plan import Plan, Task

FIELDS: tuple[str, ...] = (
    "title",
    "instructions",
    "agent",
    "depends_on",
    "requires_approval",
    "parent",
)
"""The compared fields, in the order they are reported."""

LABELS: dict[str, str] = {
    "title": "title",
    "instructions": "instructions",
    "agent": "agent",
    "depends_on": "depends on",
    "requires_approval": "approval",
    "parent": "moved",
}
"""How each field is named in summaries."""


@dataclass(frozen=True)
class FieldChange:
    """One field of one task, before and after."""

    field: str
    """One of FIELDS."""
    old: Any
    """str, bool, tuple of ids, or (for "parent") a task id or None for the top level."""
    new: Any

    @property
    def label(self) -> str:
        return LABELS[self.field]

    def describe(self, width: int = 60) -> str:
        """ "researcher → analyst", values shortened to `width` characters."""
        return f"{format_value(self.field, self.old, width)} → {format_value(self.field, self.new, width)}"


@dataclass(frozen=True)
class TaskChange:
    """A task present in both plans whose fields differ."""

    task_id: str
    old: Task
    new: Task
    fields: tuple[FieldChange, ...]
    """What differs, in FIELDS order."""

    def get(self, field: str) -> FieldChange | None:
        return next((f for f in self.fields if f.field == field), None)


@dataclass(frozen=True)
class PlanDiff:
    """The difference between two plans."""

    old: Plan
    new: Plan
    added: tuple[str, ...]
    """Ids only in the new plan, in its order."""
    removed: tuple[str, ...]
    """Ids only in the old plan, in its order."""
    changed: tuple[TaskChange, ...]
    """Tasks in both plans with at least one changed field, in the new plan's order."""
    unchanged: tuple[str, ...]
    """Ids in both plans with no changed field, in the new plan's order."""

    @property
    def changed_ids(self) -> tuple[str, ...]:
        return tuple(c.task_id for c in self.changed)

    def change(self, task_id: str) -> TaskChange | None:
        return next((c for c in self.changed if c.task_id == task_id), None)

    def is_empty(self) -> bool:
        """True when no task was added, removed or changed."""
        return not (self.added or self.removed or self.changed)

    def counts(self) -> str:
        """ "2 added · 1 removed · 3 changed · 4 unchanged"."""
        parts = [
            (len(self.added), "added"),
            (len(self.removed), "removed"),
            (len(self.changed), "changed"),
            (len(self.unchanged), "unchanged"),
        ]
        return " · ".join(f"{n} {word}" for n, word in parts)

    def summary(self) -> list[str]:
        """One line per added, removed and changed field, in that order.

        "+ t7 Collect pricing (researcher)", "- t3 Old task",
        "~ t2 agent: researcher → analyst".
        """
        new_parents, old_tasks = self.new.parents(), {t.id: t for t in self.old.iter_tasks()}
        lines = []
        for task_id in self.added:
            task = self.new.task(task_id)
            where = f" in {new_parents[task_id]}" if new_parents[task_id] else ""
            lines.append(f"+ {task_id} {task.title} ({_kind(task)}){where}")
        lines += [f"- {task_id} {old_tasks[task_id].title}" for task_id in self.removed]
        for change in self.changed:
            lines += [f"~ {change.task_id} {f.label}: {f.describe()}" for f in change.fields]
        return lines


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """Compare two plans task by task (by id). Pure."""
    old_tasks = {t.id: t for t in old.iter_tasks()}
    new_tasks = {t.id: t for t in new.iter_tasks()}
    old_parents, new_parents = old.parents(), new.parents()
    changed: list[TaskChange] = []
    unchanged: list[str] = []
    for task_id, task in new_tasks.items():
        before = old_tasks.get(task_id)
        if before is None:
            continue
        fields = _field_changes(before, task, old_parents[task_id], new_parents[task_id])
        if fields:
            changed.append(TaskChange(task_id, before, task, fields))
        else:
            unchanged.append(task_id)
    return PlanDiff(
        old=old,
        new=new,
        added=tuple(t for t in new_tasks if t not in old_tasks),
        removed=tuple(t for t in old_tasks if t not in new_tasks),
        changed=tuple(changed),
        unchanged=tuple(unchanged),
    )


def _field_changes(
    old: Task, new: Task, old_parent: str | None, new_parent: str | None
) -> tuple[FieldChange, ...]:
    values: dict[str, tuple[Any, Any]] = {
        "title": (old.title, new.title),
        "instructions": (old.instructions, new.instructions),
        "agent": (old.agent, new.agent),
        "depends_on": (old.depends_on, new.depends_on),
        "requires_approval": (old.requires_approval, new.requires_approval),
        "parent": (old_parent, new_parent),
    }
    if old.is_group and new.is_group:
        del values["agent"]  # a group runs no agent
    out = []
    for field in FIELDS:
        if field not in values:
            continue
        before, after = values[field]
        if field == "depends_on":
            same = set(before) == set(after)  # order of dependencies means nothing
        elif field == "instructions":
            same = before.strip() == after.strip()
        else:
            same = before == after
        if not same:
            out.append(FieldChange(field, before, after))
    return tuple(out)


def _kind(task: Task) -> str:
    return "group" if task.is_group else task.agent


def format_value(field: str, value: Any, width: int = 60) -> str:
    """A field's value as short text for summaries and the diff dialog."""
    if field == "depends_on":
        return ", ".join(value) if value else "none"
    if field == "requires_approval":
        return "required" if value else "not required"
    if field == "parent":
        return f"under {value}" if value else "top level"
    return shorten(str(value), width)


def shorten(text: str, width: int = 60) -> str:
    """One line of at most `width` characters, "…" when cut; "(empty)" for blank text."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty)"
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"
