"""The history of pattern tasks (app/team_history.py): conflicts joined with their
answers from stored events, and how `troupe show` shortens steps."""

from __future__ import annotations

from agents import events as ev
from agents.approvals import Claim, ConflictQuestion, Subject
from agents.run.state import StepState, StepStatus
from app.team_history import conflicts_from_events, step_line, steps_to_show

QUESTION = ConflictQuestion("review", "the reviewer did not approve after 3 rounds",
                            (Claim("writer, draft 3", "draft 3"), Claim("reviewer, review 3", "REVISE")),
                            proposed="draft 3")


def asked(request_id: str, task_id: str = "essay") -> dict:
    return ev.ApprovalRequested(run_id="r", request_id=request_id, task_id=task_id, subject=Subject.CONFLICT,
                                title="Essay", conflict=QUESTION).to_dict()


def answered(request_id: str, action: str, text: str = "", task_id: str = "essay") -> dict:
    return ev.ApprovalResolved(run_id="r", request_id=request_id, task_id=task_id, action=action,
                               text=text).to_dict()


def test_conflicts_are_joined_with_their_answers_and_a_question_asked_again_counts_once() -> None:
    tool = ev.ApprovalRequested(run_id="r", request_id="t", task_id="essay", subject=Subject.TOOL,
                                title="write_file").to_dict()
    events = [asked("a"), tool,  # Troupe stopped before the answer; the resumed run asked again:
              asked("b"), answered("b", "pick", "2"), asked("c", "other"), answered("t", "approve")]
    records = conflicts_from_events(events)
    assert [(r.request_id, r.action, r.text) for r in records] == [("b", "pick", "2"), ("c", None, "")]
    assert records[0].decided_by == "the person" and records[0].resolution == "picked claim 2 (reviewer, review 3)"
    assert records[1].decided_by == "" and records[1].to_dict()["resolution"] == "not answered"
    data = records[0].to_dict()
    assert data["claims"] == [{"number": 1, "who": "writer, draft 3", "text": "draft 3"},
                              {"number": 2, "who": "reviewer, review 3", "text": "REVISE"}]
    assert (data["kind"], data["why"], data["proposed"], data["can_retry"]) == (
        "review", "the reviewer did not approve after 3 rounds", "draft 3", True)


def test_show_lists_a_long_map_briefly_but_every_failed_step() -> None:
    steps = [StepState(f"item {n}", "analyst", StepStatus.DONE, output=f"summary {n}") for n in range(1, 301)]
    steps[150] = StepState("item 151", "analyst", StepStatus.FAILED, error="HTTP 401")
    shown, more = steps_to_show(steps)
    assert [s.step for s in shown] == [f"item {n}" for n in range(1, 12)] + ["item 151"] and more == 288
    assert step_line(steps[150]) == "item 151      analyst     failed          HTTP 401"
    long = StepState("draft 1", "writer", StepStatus.DONE, output="word " * 40, replayed=True)
    assert step_line(long, 20) == "draft 1       writer                      word word word word… (replayed)"
