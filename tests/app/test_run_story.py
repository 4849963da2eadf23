"""What a reopened run says happened: plan edits, each approval's answer, warnings."""

from __future__ import annotations

from agents.approvals import Subject
from app.run_story import approval_line, story_lines
from app.storage.records import ApprovalRow


def row(action: str | None, text: str | None = None, subject: Subject = Subject.TASK, at: float = 1.0) -> ApprovalRow:
    return ApprovalRow(request_id="r", task_id="w", subject=subject, title="Draft the post", details="",
                       action=action, text=text, requested_at=at, resolved_at=at + 1)


def test_each_answer_in_words() -> None:
    assert approval_line(row("approve")) == "✓ Draft the post: approved"
    assert approval_line(row("edit", "Use a friendlier tone")) == (
        "✓ Draft the post: approved with the instructions edited — “Use a friendlier tone”")
    assert approval_line(row("reject", "not needed")) == "✗ Draft the post: rejected — “not needed”"
    assert approval_line(row(None)) == "? Draft the post: not answered"
    assert approval_line(row("approve", subject=Subject.BUDGET)) == "✓ Draft the post: you let the run spend more"


def test_the_story_in_order() -> None:
    events = [{"type": "PlanEdited"}, {"type": "PlanEdited"}, {"type": "RunWarning", "message": "MCP server x stopped"}]
    lines = story_lines(events, [row("reject", at=5.0), row("approve", at=2.0)])
    assert lines == ["✎ You edited the plan (2 changes kept as versions)", "✓ Draft the post: approved",
                     "✗ Draft the post: rejected", "! MCP server x stopped"]
