"""What each cell of the plan tree shows: columns, texts, colours, tooltips.

Pure functions of a task node, its TaskState (the run's fold) and its problems, so the
model only routes Qt's data() roles here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from PySide6.QtGui import QColor

from agents.run.state import TaskState
from ui.plan_tree.nodes import TaskNode
from ui.plan_tree.pattern_cells import KIND_TIPS, map_counts, map_fraction
from ui.plan_tree.runtime import (
    PROBLEM_COLOUR,
    detail,
    display_status,
    has_usage,
    problem_icon,
    status_icon,
    status_text,
)


class Column(IntEnum):
    TASK = 0
    AGENT = 1
    DEPENDS_ON = 2
    APPROVAL = 3
    STATUS = 4
    TOKENS = 5
    COST = 6


HEADERS = {
    Column.TASK: "Task",
    Column.AGENT: "Agent",
    Column.DEPENDS_ON: "Depends on",
    Column.APPROVAL: "Approval",
    Column.STATUS: "Status",
    Column.TOKENS: "Tokens",
    Column.COST: "Cost",
}
HEADER_TIPS = {
    Column.DEPENDS_ON: "Tasks that must finish before this one starts",
    Column.APPROVAL: "Wait for your approval before the task runs",
    Column.TOKENS: "Prompt + completion tokens used in this run",
    Column.COST: "Cost of this run's model calls, in US dollars",
}
RUNTIME_COLUMNS = (Column.STATUS, Column.TOKENS, Column.COST)
"""Columns a run fills in; not part of the plan."""

_GROUP_TIP = "A group runs its sub-tasks; it has no agent or approval of its own."
_GROUP_AGENT_COLOUR = "#8a8a8a"


def display(
    node: TaskNode, column: Column, state: TaskState | None, nodes: Mapping[str, TaskNode]
) -> str | None:
    if column == Column.TASK:
        return node.title
    if column == Column.AGENT:
        return "group" if node.is_group else node.agent
    if column == Column.DEPENDS_ON:
        return ", ".join(dependency_name(d, nodes) for d in node.depends_on)
    if column == Column.STATUS:
        if not state:
            return ""
        fraction = map_fraction(node.pattern, state)  # a map of 300 stays one row: its count is here
        return status_text(state) + (f" · {fraction}" if fraction else "")
    if column == Column.TOKENS:
        return f"{state.tokens:,}" if state and has_usage(state) else ""
    if column == Column.COST:
        return format_cost(state.cost, state.cost_known) if state and has_usage(state) else ""
    return None


def edit_value(node: TaskNode, column: Column) -> str | None:
    if column == Column.TASK:
        return node.title
    if column == Column.AGENT:
        return node.agent
    if column == Column.DEPENDS_ON:
        return ", ".join(node.depends_on)  # ids: that is what the person types back
    return None


def dependency_name(task_id: str, nodes: Mapping[str, TaskNode]) -> str:
    dep = nodes.get(task_id)
    return dep.title if dep is not None else f"{task_id} (missing)"


def decoration(
    node: TaskNode, column: Column, state: TaskState | None, problems: list[str] | None
) -> Any:
    if column == Column.TASK and problems:
        return problem_icon()
    if column == Column.STATUS and state:
        return status_icon(display_status(state))
    return None


def foreground(node: TaskNode, column: Column, problems: list[str] | None) -> QColor | None:
    if problems and column not in RUNTIME_COLUMNS:
        return QColor(PROBLEM_COLOUR)
    if column == Column.AGENT and node.is_group:
        return QColor(_GROUP_AGENT_COLOUR)  # the agent of a group is not used
    return None


def tooltip(
    node: TaskNode,
    column: Column,
    state: TaskState | None,
    problems: list[str] | None,
    nodes: Mapping[str, TaskNode],
) -> str | None:
    if problems and column not in RUNTIME_COLUMNS:
        return "\n".join(f"{node.id}: {p}" for p in problems)
    if column == Column.TASK:
        text = node.instructions.strip()
        kind = f"\n{KIND_TIPS[node.pattern.kind]}" if node.pattern is not None else ""
        return f"{node.id} · {node.title}{kind}" + (f"\n\n{text[:400]}" if text else "")
    if column == Column.AGENT and node.is_group:
        return _GROUP_TIP
    if column == Column.DEPENDS_ON and node.depends_on:
        return "\n".join(f"{d} — {dependency_name(d, nodes)}" for d in node.depends_on)
    if column == Column.STATUS and state:
        lines = [map_counts(state) if map_fraction(node.pattern, state) else "", detail(state)]
        return "\n".join(line for line in lines if line) or None
    return None


def format_cost(cost: float, known: bool = True) -> str:
    """Dollars; a task with calls of unknown price says so instead of a silent $0."""
    text = f"${cost:.4f}" if cost < 1 else f"${cost:,.2f}"
    if known:
        return text
    return "price unknown" if cost == 0 else f"≥ {text}"
