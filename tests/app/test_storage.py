"""Store + EventWriter on real SQLite files: projections, history, search, resume."""

from __future__ import annotations

import time

import pytest

from agents import events as ev
from agents.approvals import TaskQuestion, TaskRef
from agents.events import event_from_dict
from app.storage import EventWriter, Store
from tests.app.storage_events import emit_all, finished, first_half, sample_plan, second_half

# --- projections ------------------------------------------------------------------------


def test_snapshot_while_waiting_for_approval(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("Birds", "Write a report on penguins", {"model": "m"})
    emit_all(writer, first_half(run_id, sample_plan()))

    run = store.get_run(run_id)
    assert run.status == "running"
    assert run.task("risky").status == "waiting_approval"
    assert run.task("report").status == "blocked"
    assert run.task("report").error == "flaky did not complete"  # the fold's text (blocked_reason)
    assert run.task("analyse").status == "completed"
    assert [a.action for a in store.approvals(run_id)] == [None]
    # Running totals from the LLM calls so far (plan, r1, r2, flaky, analyse).
    assert (run.prompt_tokens, run.completion_tokens) == (40, 80)


def test_projections_after_a_whole_run(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("Birds", "Write a report on penguins", {"model": "m"})
    emit_all(writer, first_half(run_id, sample_plan()) + second_half(run_id))

    run = store.get_run(run_id)
    assert (run.project, run.status, run.error) == ("Birds", "failed", "1 task failed")
    # totals are the sums of every LLM call, not the runner's RunFinished figures
    assert (run.prompt_tokens, run.completion_tokens) == (60, 120)
    assert run.cost == pytest.approx(0.06)
    assert run.deliverable == "# Penguins\n\nA waddle of findings."
    assert run.settings == {"model": "m"}
    assert run.plan_version == 2
    assert [t.task_id for t in run.tasks] == [
        "research",
        "r1",
        "r2",
        "analyse",
        "risky",
        "flaky",
        "report",
    ]
    status = {t.task_id: t.status for t in run.tasks}
    assert status == {
        "research": "completed",
        "r1": "completed",
        "r2": "completed",
        "analyse": "completed",
        "risky": "completed",
        "flaky": "failed",
        "report": "blocked",
    }
    r2 = run.task("r2")
    assert (r2.parent_id, r2.attempts, r2.output, r2.agent) == (
        "research",
        2,
        "They eat krill and fish",
        "researcher",
    )
    assert (r2.prompt_tokens, r2.completion_tokens, r2.cost) == (10, 20, 0.01)
    assert (r2.started, r2.finished, r2.error) == (100.0, 101.0, None)
    assert run.task("analyse").depends_on == ("research",)
    assert run.task("risky").requires_approval
    assert run.task("risky").instructions == "Publish as a draft."  # edited on approval
    assert run.task("flaky").error == "HTTP 500"
    assert run.task("flaky").finished is not None


def test_history_tables(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("Birds", "Write a report on penguins")
    emitted = first_half(run_id, sample_plan()) + second_half(run_id)
    emit_all(writer, emitted)

    calls = store.llm_calls(run_id)
    assert [(c.purpose, c.task_id) for c in calls] == [
        ("plan", ""),
        ("task", "r1"),
        ("task", "r2"),
        ("task", "flaky"),
        ("task", "analyse"),
        ("task", "risky"),
        ("synthesis", ""),
    ]
    assert [c.ok for c in calls].count(False) == 1
    assert calls[3].error == "HTTP 500"

    (approval,) = store.approvals(run_id)
    assert (approval.action, approval.text) == ("edit", "Publish as a draft.")
    assert approval.resolved_at is not None and approval.requested_at <= approval.resolved_at

    assert [v.source for v in store.plan_versions(run_id)] == ["proposed", "edited"]
    assert store.latest_plan(run_id).version == 2

    stored = store.events(run_id)
    persisted = [e for e in emitted if e.persist]  # TokenDelta is not stored
    assert [e["seq"] for e in stored] == list(range(1, len(persisted) + 1))
    assert [event_from_dict(e) for e in stored] == persisted  # round-trips exactly
    assert [e["seq"] for e in store.events(run_id, after_seq=5)][0] == 6


def test_add_plan_version_and_status(store: Store) -> None:
    run_id = store.create_run("P", "goal")
    assert store.latest_plan(run_id) is None
    assert store.add_plan_version(run_id, sample_plan(), "file") == 1
    assert store.add_plan_version(run_id, sample_plan("other"), "edited") == 2
    assert store.latest_plan(run_id).plan["goal"] == "other"
    with pytest.raises(ValueError):
        store.add_plan_version(run_id, sample_plan(), "dreamed")
    store.set_run_status(run_id, "cancelled")
    assert store.get_run(run_id).status == "cancelled"
    with pytest.raises(ValueError):
        store.set_run_status(run_id, "exploded")
    with pytest.raises(KeyError):
        store.set_run_status("nope", "failed")
    with pytest.raises(KeyError):
        store.get_run("nope")


def test_projects(store: Store) -> None:
    pid = store.create_project("Alpha")
    assert store.get_or_create_project("Alpha") == pid
    with pytest.raises(ValueError):
        store.create_project("Alpha")
    store.get_or_create_project("Beta")
    assert store.projects() == ["Alpha", "Beta"]


def test_events_of_a_run_not_created_first_are_kept(store: Store, writer: EventWriter) -> None:
    emit_all(writer, [ev.RunStarted(run_id="adhoc", goal="from the CLI", plan=sample_plan())])
    run = store.get_run("adhoc")
    assert (run.project, run.goal, run.status, len(run.tasks)) == (
        "Default",
        "from the CLI",
        "running",
        7,
    )


# --- history list and search -----------------------------------------------------------


def test_list_runs_newest_first_and_search(store: Store, writer: EventWriter) -> None:
    ids = []
    for n, goal in enumerate(["Plan a garden", "Review a contract", "Summarise a paper"]):
        ids.append(store.create_run(f"P{n}", goal))
        time.sleep(0.002)
    emit_all(
        writer,
        [
            ev.RunStarted(run_id=ids[1], goal="Review a contract", plan=sample_plan()),
            finished(ids[1], "r1", "Clause seven mentions a quokka sanctuary"),
            ev.DeliverableReady(run_id=ids[2], markdown="Conclusions about photosynthesis"),
        ],
    )
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.project for r in store.list_runs(limit=2)] == ["P2", "P1"]

    assert [r.id for r in store.list_runs(search="quokka")] == [ids[1]]
    assert [r.id for r in store.search_runs("QUOK")] == [ids[1]]  # prefix, any case
    assert [r.id for r in store.search_runs("photosynthesis")] == [ids[2]]
    assert [r.id for r in store.search_runs("garden")] == [ids[0]]
    assert [r.id for r in store.search_runs("Fetch charts")] == [ids[1]]  # plan text
    assert [r.id for r in store.search_runs("a")] == ids[::-1]
    assert store.search_runs("quokka garden") == []  # every word must match the run
    assert [r.id for r in store.search_runs("contract quokka")] == [ids[1]]  # goal + output
    assert [r.id for r in store.search_runs('quokka* "(')] == [ids[1]]  # FTS syntax neutralised
    assert store.search_runs("quokka AND NOT NEAR") == []  # operators are plain words
    assert len(store.list_runs(search="   ")) == 3
    summary = store.list_runs(search="quokka")[0]
    assert (summary.task_count, summary.tasks_completed) == (7, 1)


def test_search_follows_changes_and_deletes(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("P", "goal")
    emit_all(
        writer,
        [
            ev.RunStarted(run_id=run_id, goal="goal", plan=sample_plan()),
            finished(run_id, "r1", "wombat"),
        ],
    )
    assert store.search_runs("wombat")
    emit_all(writer, [ev.RunStarted(run_id=run_id, goal="goal", plan=sample_plan())])  # restart
    assert store.search_runs("wombat") == []
    emit_all(writer, [finished(run_id, "r1", "numbat")])
    assert store.search_runs("numbat")
    store.delete_run(run_id)
    assert store.search_runs("numbat") == []
    assert store.count_runs() == 0


def test_search_is_fast_with_thousands_of_runs(store: Store) -> None:
    with store._writes.begin() as conn:
        conn.exec_driver_sql("INSERT INTO projects (id, name, created) VALUES (1, 'p', 0)")
        for i in range(3000):
            conn.exec_driver_sql(
                "INSERT INTO runs (id, project_id, goal, status, created, updated, settings, "
                "prompt_tokens, completion_tokens, cost) "
                "VALUES (?, 1, ?, 'completed', ?, ?, '{}', 0, 0, 0)",
                (f"run{i}", f"goal number {i} about topic{i % 50}", i, i),
            )
            conn.exec_driver_sql(
                "INSERT INTO tasks (run_id, task_id, position, title, agent, instructions, "
                "depends_on, requires_approval, status, attempts, output, prompt_tokens, "
                "completion_tokens, cost) VALUES (?, 't', 0, 't', 'a', '', '[]', 0, "
                "'completed', 1, ?, 0, 0, 0)",
                (f"run{i}", f"output text {i} with keyword{i % 100} " + "filler " * 200),
            )
    start = time.perf_counter()
    found = store.search_runs("keyword7", limit=100)
    elapsed = time.perf_counter() - start
    assert len(found) == 100  # keyword7 and keyword70..79 (prefix): 330 runs, capped
    assert found[0].id == "run2979"  # newest first
    assert [r.created for r in found] == sorted((r.created for r in found), reverse=True)
    assert elapsed < 0.25, elapsed


def test_pause_resume_skip_cancel_and_asking_again(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("P", "goal")
    ask = dict(run_id=run_id, request_id="q", task_id="risky", subject="task", title="t")
    emit_all(
        writer,
        [
            ev.RunStarted(run_id=run_id, goal="goal", plan=sample_plan()),
            ev.RunPaused(run_id=run_id),
        ],
    )
    assert store.get_run(run_id).status == "paused"
    emit_all(
        writer,
        [
            ev.RunResumed(run_id=run_id),
            ev.ApprovalRequested(**ask, task=TaskQuestion("writer", "first")),
            ev.ApprovalResolved(run_id=run_id, request_id="q", task_id="risky", action="reject"),
            ev.TaskSkipped(run_id=run_id, task_id="risky", reason="rejected by the person"),
            ev.TaskStarted(run_id=run_id, task_id="r1", agent="researcher", attempt=1),
            ev.TaskCancelled(run_id=run_id, task_id="r1"),
            ev.ApprovalRequested(**ask, task=TaskQuestion("writer", "asked again after a resume",
                                                          (TaskRef("r1", "Research"),))),
        ],
    )
    run = store.get_run(run_id)
    assert run.status == "running"
    assert run.task("r1").status == "cancelled" and run.task("r1").finished is not None
    assert run.task("risky").status == "waiting_approval"
    (approval,) = store.approvals(run_id)
    assert (approval.details, approval.action, approval.resolved_at) == (
        "Agent: writer\n\nasked again after a resume\n\nInputs: Research (r1)",
        None,
        None,
    )
    emit_all(
        writer,
        [
            ev.ApprovalResolved(run_id=run_id, request_id="q", task_id="risky", action="reject"),
            ev.TaskSkipped(run_id=run_id, task_id="risky", reason="rejected by the person"),
        ],
    )
    risky = store.get_run(run_id).task("risky")
    assert (risky.status, risky.error) == ("skipped", "rejected by the person")
    assert store.approvals(run_id)[0].action == "reject"
