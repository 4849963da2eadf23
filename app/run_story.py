"""What happened in a run besides its goal, plan and result, as lines for the
conversation of a reopened run: plan edits, each approval's answer, warnings,
and how the run ended when it did not complete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agents.approvals import Subject
from agents.ports import Action
from app.safe_text import safe_text
from app.storage.records import ApprovalRow

_VERBS = {
    Action.APPROVE: "approved",
    Action.EDIT: "approved with the instructions edited",
    Action.REJECT: "rejected",
    Action.OVERRIDE: "answered with your own text",
    Action.PICK: "settled by picking an answer",
    Action.RETRY: "settled by asking for another round",
}
"""An approval's answer in words."""


def _short(text: str, width: int = 90) -> str:
    line = " ".join(safe_text(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def approval_line(row: ApprovalRow) -> str:
    """"✓ “Draft the post”: approved with the instructions edited — “Use a friendlier tone…”"."""
    what = row.title or row.task_id or str(row.subject)
    if row.action is None:
        return f"? {what}: not answered"
    verb = _VERBS.get(row.action, row.action)  # type: ignore[call-overload]  # Action is a StrEnum
    if row.subject is Subject.BUDGET:
        verb = "you let the run spend more" if row.action == Action.APPROVE else "you stopped the run"
    mark = "✗" if row.action == Action.REJECT else "✓"
    said = f" — “{_short(row.text)}”" if row.text and row.action in (Action.EDIT, Action.REJECT,
                                                                      Action.OVERRIDE) else ""
    return f"{mark} {what}: {verb}{said}"


def story_lines(events: Sequence[Mapping[str, Any]], approvals: Iterable[ApprovalRow]) -> list[str]:
    """Plan edits, approvals in the order they were asked, and warnings, for a reopened run."""
    lines: list[str] = []
    edits = sum(1 for e in events if e.get("type") == "PlanEdited")
    if edits:
        lines.append(f"✎ You edited the plan ({edits} change{'s' if edits != 1 else ''} kept as versions)")
    lines += [approval_line(row) for row in sorted(approvals, key=lambda r: r.requested_at)]
    lines += [f"! {_short(str(e.get('message', '')), 160)}" for e in events if e.get("type") == "RunWarning"]
    return lines
