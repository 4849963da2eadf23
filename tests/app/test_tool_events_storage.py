"""Tool calls in the history: their events are stored, and a tool approval leaves the task's plan alone."""

from __future__ import annotations

from agents import events as ev
from agents.approvals import Subject, ToolQuestion
from agents.events import event_from_dict
from app.storage import EventWriter, Store
from tests.app.storage_events import emit_all, sample_plan


def test_tool_approval_and_calls(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("Birds", "Write a report on penguins")
    emitted = [
        ev.RunStarted(run_id=run_id, goal="g", plan=sample_plan()),
        ev.TaskStarted(run_id=run_id, task_id="flaky", agent="coder", attempt=1),
        ev.ToolCallRequested(run_id=run_id, task_id="flaky", call_id="flaky:1:0", tool="write_file",
                             arguments='{"path": "a.txt", "content": "x"}'),
        ev.ApprovalRequested(run_id=run_id, request_id="q1", task_id="flaky", subject=Subject.TOOL,
                             title="write_file", tool=ToolQuestion("write_file", '{\n  "path": "a.txt"\n}',
                                                                   risk="write")),
    ]
    emit_all(writer, emitted)
    assert store.get_run(run_id).task("flaky").status == "waiting_approval"
    more = [
        ev.ApprovalResolved(run_id=run_id, request_id="q1", task_id="flaky", action="edit",
                            text='{"path": "b.txt", "content": "x"}'),
        ev.ToolCallFinished(run_id=run_id, task_id="flaky", call_id="flaky:1:0", tool="write_file",
                            result="wrote 1 characters to b.txt", duration_ms=1.5, permission="ask"),
    ]
    emit_all(writer, more)
    task = store.get_run(run_id).task("flaky")
    assert (task.status, task.instructions) == ("running", "Do fetch charts.")
    (approval,) = store.approvals(run_id)
    assert (approval.subject, approval.action) == (Subject.TOOL, "edit")
    assert approval.details == '{\n  "path": "a.txt"\n}'  # the text rendering (app.approval_text)
    stored = [event_from_dict(e) for e in store.events(run_id)]
    assert stored == emitted + more
