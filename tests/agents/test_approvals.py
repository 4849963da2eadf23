"""Approval questions are typed values, and they survive the event log unchanged."""

from __future__ import annotations

import json

import pytest

from agents.approvals import AskedCall, BudgetQuestion, Subject, TaskQuestion, TaskRef, ToolQuestion
from agents.events import ApprovalRequested, event_from_dict
from agents.ports import ApprovalRequest, request_from_event, requested_event

TASK = ApprovalRequest(
    request_id="q1", run_id="r", task_id="t2", subject=Subject.TASK, title="Write the summary",
    task=TaskQuestion(agent="writer", instructions="Write it for the CTO.\nKeep it short.",
                      inputs=(TaskRef("t1", "Research"), TaskRef("t0", "Costs"))),
)
TOOL = ApprovalRequest(
    request_id="q2", run_id="r", task_id="t2", subject=Subject.TOOL, title="write_file",
    tool=ToolQuestion("write_file", '{\n  "path": "a.txt",\n  "content": "héllo"\n}', risk="write"),
)
IN_DOUBT = ApprovalRequest(
    request_id="q3", run_id="r", task_id="t2", subject=Subject.TOOL, title="run_shell",
    tool=ToolQuestion("run_shell", '{"command": "touch x"}', in_doubt=True, risk="execute",
                      instead=AskedCall("read_file", '{"path": "x"}')),
)
BUDGET = ApprovalRequest(
    request_id="q4", run_id="r", task_id="", subject=Subject.BUDGET, title="The $0.50 budget is spent",
    budget=BudgetQuestion(spent=0.5012, limit=0.5, step=0.5),
)


@pytest.mark.parametrize("request_", [TASK, TOOL, IN_DOUBT, BUDGET], ids=["task", "tool", "in-doubt", "budget"])
def test_a_request_round_trips_through_the_stored_event(request_: ApprovalRequest) -> None:
    event = requested_event(request_)
    assert request_from_event(event) == request_
    stored = json.loads(json.dumps(event.to_dict()))  # what the history keeps
    loaded = event_from_dict(stored)
    assert isinstance(loaded, ApprovalRequested) and loaded == event
    assert request_from_event(loaded) == request_
    assert isinstance(loaded.subject, Subject)


def test_edit_text_is_what_an_edit_starts_from() -> None:
    assert TASK.edit_text == "Write it for the CTO.\nKeep it short."
    assert TOOL.edit_text == '{\n  "path": "a.txt",\n  "content": "héllo"\n}'
    assert IN_DOUBT.edit_text == '{"command": "touch x"}'  # never the note or the other call
    assert BUDGET.edit_text == ""


def test_an_event_stored_before_the_typed_questions_still_loads() -> None:
    old = {"type": "ApprovalRequested", "run_id": "r", "ts": 1.0, "request_id": "q", "task_id": "a",
           "subject": "tool", "title": "In doubt: write_file", "details": '{"path": "a"}\n\nnote'}
    event = event_from_dict(old)
    assert isinstance(event, ApprovalRequested) and event.subject is Subject.TOOL
    request = request_from_event(event)
    assert (request.task, request.tool, request.budget, request.edit_text) == (None, None, None, "")
