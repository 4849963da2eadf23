"""The one fold over a run's events (agents.run.state)."""

from __future__ import annotations

from agents.events import (
    ApprovalRequested,
    ApprovalResolved,
    DeliverableReady,
    LLMCallFinished,
    RunFinished,
    RunStarted,
    RunWarning,
    TaskBlocked,
    TaskFailed,
    TaskFinished,
    TaskRetried,
    TaskSkipped,
    TaskStarted,
)
from agents.ports import Action
from agents.run.state import Change, RunState, RunStatus, TaskStatus, fold

PLAN = {"goal": "g", "tasks": [
    {"id": "a", "title": "A", "agent": "researcher"},
    {"id": "grp", "title": "Group", "agent": "writer", "children": [
        {"id": "b", "title": "B", "agent": "writer", "depends_on": ["a"]},
    ]},
]}


def started(resumed: bool = False, ts: float = 1.0) -> RunStarted:
    return RunStarted(run_id="r", goal="g", plan=PLAN, resumed=resumed, ts=ts)


def call(task: str, tokens: int, cost: float, ts: float = 2.0) -> LLMCallFinished:
    return LLMCallFinished(run_id="r", task_id=task, purpose="task", model="m", prompt_tokens=tokens,
                           completion_tokens=tokens, cost=cost, cost_known=True, latency_ms=1, ts=ts)


def finished(task: str, output: str, ts: float = 3.0) -> TaskFinished:
    return TaskFinished(run_id="r", task_id=task, output=output, attempts=1, prompt_tokens=5,
                        completion_tokens=5, cost=0.5, started=ts - 1, finished=ts, ts=ts)


def test_plan_order_depth_and_groups() -> None:
    state = fold([started()])
    assert list(state.tasks) == ["a", "grp", "b"]
    assert state.tasks["b"].depth == 1 and state.tasks["grp"].is_group
    assert state.status is RunStatus.RUNNING and state.counts() == (0, 2, 0, 0)


def test_statuses_totals_and_live_task_spend() -> None:
    state = fold([started(), TaskStarted(run_id="r", task_id="a", agent="researcher", attempt=1, ts=1.5),
                  call("a", 10, 0.25), call("", 3, 0.1)])
    assert state.tasks["a"].status is TaskStatus.RUNNING and state.tasks["a"].tokens == 20
    assert state.total_tokens == 26 and state.cost == 0.35
    state.apply(finished("a", "done"))
    a = state.tasks["a"]
    assert (a.status, a.output, a.tokens, a.cost) == (TaskStatus.COMPLETED, "done", 10, 0.5)
    assert state.cost == 0.35  # run totals are the sum of calls, not of task reports


def test_retry_is_visible_then_cleared_by_the_next_start() -> None:
    state = fold([started(), TaskStarted(run_id="r", task_id="a", agent="x", attempt=1, ts=1.5),
                  TaskRetried(run_id="r", task_id="a", attempt=1, error="503", delay=1, ts=2)])
    assert state.tasks["a"].retrying and state.tasks["a"].attempts == 2
    state.apply(TaskFailed(run_id="r", task_id="a", error="503 again", attempts=3, ts=4))
    state.apply(TaskBlocked(run_id="r", task_id="b", because="a", ts=4))
    assert state.counts() == (0, 2, 1, 1) and state.tasks["b"].error == "a did not complete"
    # a new start of the run (not a resume) forgets every stale status and spend
    state.apply(started(ts=10))
    assert all(t.status is TaskStatus.PENDING and not t.error for t in state.tasks.values())
    assert state.counts() == (0, 2, 0, 0)


def test_a_resumed_start_keeps_completed_tasks_only() -> None:
    state = fold([started(), finished("a", "kept"),
                  TaskFailed(run_id="r", task_id="b", error="x", attempts=1, ts=4),
                  started(resumed=True, ts=10)])
    assert state.tasks["a"].status is TaskStatus.COMPLETED and state.tasks["a"].output == "kept"
    assert state.tasks["b"].status is TaskStatus.PENDING


def test_approvals_pending_until_answered_and_tool_questions_keep_the_task_running() -> None:
    state = fold([started(), ApprovalRequested(run_id="r", request_id="q1", task_id="a", subject="task",
                                               title="A")])
    assert state.tasks["a"].status is TaskStatus.WAITING_APPROVAL and list(state.approvals) == ["q1"]
    changes = state.apply(ApprovalResolved(run_id="r", request_id="q1", task_id="a", action="edit", text="new"))
    assert Change.APPROVALS in changes and not state.approvals
    assert state.tasks["a"].status is TaskStatus.PENDING and state.tasks["a"].approval is Action.EDIT
    state.apply(TaskStarted(run_id="r", task_id="a", agent="x", attempt=1, ts=2))
    state.apply(ApprovalRequested(run_id="r", request_id="q2", task_id="a", subject="tool",
                                  title="write_file"))
    assert state.tasks["a"].status is TaskStatus.WAITING_APPROVAL
    state.apply(ApprovalResolved(run_id="r", request_id="q2", task_id="a", action="approve"))
    assert state.tasks["a"].status is TaskStatus.RUNNING and state.tasks["a"].approval is Action.EDIT


def test_warnings_once_deliverable_partial_and_end() -> None:
    state = fold([started(), RunWarning(run_id="r", message="server down", source="mcp:x"),
                  RunWarning(run_id="r", message="server down", source="mcp:x"),
                  TaskSkipped(run_id="r", task_id="b", reason="rejected by the person: off topic", ts=3),
                  DeliverableReady(run_id="r", markdown="# Done", partial=True),
                  RunFinished(run_id="r", status="completed", prompt_tokens=0, completion_tokens=0,
                              cost=0, partial=True, ts=9)])
    assert state.warnings == ["server down"]
    assert state.status is RunStatus.COMPLETED and state.partial and state.deliverable == "# Done"
    assert state.tasks["b"].error.endswith("off topic")


def test_fold_continues_from_a_given_state() -> None:
    first = fold([started()])
    assert fold([finished("a", "x")], first) is first and first.tasks["a"].output == "x"
    assert RunState().status is RunStatus.PLANNED


def test_an_interrupted_run_leaves_nothing_running():
    state = fold([started(), TaskStarted(run_id="r", task_id="a", agent="x", attempt=1, ts=2),
                  ApprovalRequested(run_id="r", request_id="q", task_id="b", subject="task", title="B", ts=3),
                  call("a", 1, 0.0, ts=5)])
    state.interrupt()
    assert state.status is RunStatus.INTERRUPTED and not state.approvals
    assert {t.status for t in state.tasks.values()} == {TaskStatus.PENDING}
    assert state.tasks["a"].finished == 5  # its bar ends where the events stop
