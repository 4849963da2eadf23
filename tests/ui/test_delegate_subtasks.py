"""A delegate's sub-tasks show live as read-only rows under its task; the timeline draws steps as sub-bars."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, Qt

from agents.events import RunStarted, StepFinished, StepStarted
from agents.plan.roster import load_roster
from agents.run.state import StepStatus, fold
from tests.support.pattern_events import (
    RUN,
    T0,
    delegate_at_work,
    delegate_started,
    delegated,
    map_in_progress,
    team_at_work,
)
from ui.plan_tree import MIME_TYPE, Column, PlanTreeModel, PlanTreeView
from ui.run_view import RunView
from ui.run_view.sub_bars import MAX_BARS

SHOTS = os.environ.get("TROUPE_SHOTS")


@pytest.fixture
def tree(qtbot) -> PlanTreeView:
    view = PlanTreeView(PlanTreeModel(delegated(), load_roster()))
    qtbot.addWidget(view)
    view.resize(900, 420)
    view.show()
    return view


def feed(model: PlanTreeModel, events) -> None:
    for event in events:
        model.apply_event(event)
    model.flush_runtime()


def sub_rows(model: PlanTreeModel, parent) -> list[tuple[str, str, str]]:
    """(title, agent, status) of the rows under `parent` that are not plan tasks."""
    out = []
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        if model.subtask_at(index) is not None:
            out.append(tuple(index.siblingAtColumn(c).data() for c in (Column.TASK, Column.AGENT, Column.STATUS)))
    return out


def test_the_managers_sub_tasks_appear_live_under_its_task(tree):
    model = tree.model
    report = model.index_for("report")
    *before, plan_event = delegate_started()
    feed(model, before)
    assert model.rowCount(report) == 0
    inserted = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((model.task_id_at(parent), first, last)))
    model.apply_event(plan_event)
    assert inserted == [("report", 0, 2)]
    assert sub_rows(model, report) == [("Gather facts", "researcher", "pending"),
                                       ("Draft the report", "writer", "pending"),
                                       ("Check the numbers", "analyst", "pending")]
    assert tree.tree.isExpanded(report)


def test_statuses_follow_the_steps_and_a_nested_managers_tasks_sit_under_its_row(tree):
    model = tree.model
    report = model.index_for("report")
    feed(model, delegate_at_work())
    assert sub_rows(model, report) == [("Gather facts", "researcher", "completed"),
                                       ("Draft the report", "writer", "running"),
                                       ("Check the numbers", "analyst", "failed")]
    check = model.index(2, 0, report)
    assert sub_rows(model, check) == [("Check weights", "researcher", "completed"),
                                      ("Check colony counts", "researcher", "failed")]
    # the review approves: nothing says the draft is done until its manager moves on
    changed = []
    model.dataChanged.connect(lambda top, _bottom, _roles: changed.append(model.subtask_at(top)))
    feed(model, [StepFinished(run_id=RUN, ts=T0 + 12, task_id="report", step="sub draft · review 1",
                              agent="reviewer", output="APPROVE")])
    assert ("report", "sub facts") in changed  # the rows were told to repaint
    assert model.index(1, Column.STATUS, report).data() == "running"
    feed(model, [StepStarted(run_id=RUN, ts=T0 + 13, task_id="report", step="integrate", agent="writer")])
    assert model.index(1, Column.STATUS, report).data() == "completed"


def test_sub_task_rows_are_not_part_of_the_plan_the_editor_saves_nor_of_undo(tree):
    model = tree.model
    feed(model, delegate_at_work())
    report = model.index_for("report")
    saved = []
    model.planChanged.connect(saved.append)
    assert model.to_plan() == delegated()
    draft = model.index(1, Column.TASK, report)
    assert not model.flags(draft) & Qt.ItemFlag.ItemIsEditable
    assert not model.flags(draft) & Qt.ItemFlag.ItemIsDropEnabled
    assert not model.setData(draft, "Renamed")
    data = QMimeData()
    data.setData(MIME_TYPE, b'["publish"]')
    assert not model.canDropMimeData(data, Qt.DropAction.MoveAction, -1, 0, draft)
    tree.tree.setCurrentIndex(draft)
    assert tree.current_task_id() is None and not tree.delete_action.isEnabled()
    assert model.rename("report", "Penguin report, v2")
    assert model.undo_stack.count() == 1
    assert [t.id for t in saved[-1].iter_tasks()] == ["report", "publish"]
    model.undo_stack.undo()
    assert model.to_plan() == delegated()
    assert len(sub_rows(model, model.index_for("report"))) == 3  # still shown after the undo


def test_a_stored_run_shows_its_sub_tasks_and_a_fresh_start_drops_them(tree):
    model = tree.model
    model.show_state(fold(delegate_at_work()))
    report = model.index_for("report")
    assert [r[2] for r in sub_rows(model, report)] == ["completed", "running", "failed"]
    plan = delegated()
    model.apply_event(RunStarted(run_id=RUN, ts=T0 + 100, goal=plan.goal, plan=plan.to_dict()))
    assert model.rowCount(report) == 0


def test_choosing_a_sub_task_lists_its_steps_in_the_run_view(qtbot, tree):
    run_view = RunView(clock=lambda: T0 + 20)
    qtbot.addWidget(run_view)
    run_view.resize(900, 600)
    run_view.show()
    tree.subtaskSelected.connect(run_view.show_subtask)
    events = delegate_at_work()
    feed(tree.model, events)
    run_view.apply_events(events)
    draft = tree.model.index(1, 0, tree.model.index_for("report"))
    tree.tree.scrollTo(draft)
    qtbot.mouseClick(tree.tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.tree.visualRect(draft).center())
    steps = run_view.steps
    assert steps.isVisible() and run_view.timeline.selected_task() == "report"
    assert [steps.model.index(r, 0).data() for r in range(steps.model.rowCount())] == ["draft 1", "review 1"]
    assert steps.heading.text() == "Penguin report  ›  Draft the report"
    assert steps.output.toPlainText() == "# Penguins\n\nThey are birds."
    assert "read-only" in tree.detail.id_label.text()  # the detail pane says what the row is
    assert not draft.data(Qt.ItemDataRole.DecorationRole).isNull()  # its own review pattern's icon
    run_view.select_task("report")  # the task itself: every step again
    assert steps.model.rowCount() == 7


# --- the timeline's sub-bars --------------------------------------------------------------


def timeline_of(qtbot, events, now: float) -> RunView:
    view = RunView(clock=lambda: now)
    qtbot.addWidget(view)
    view.resize(1000, 560)
    view.show()
    view.apply_events(events)
    return view


def test_review_rounds_are_one_bar_each_and_a_votes_parallel_answers_take_lanes(qtbot):
    view = timeline_of(qtbot, team_at_work(), T0 + 60)
    memo = view.timeline.step_bars("memo")
    assert [(b.lane, b.lanes, b.status) for b in memo] == [
        (0, 1, StepStatus.DONE), (0, 1, StepStatus.DONE), (0, 1, StepStatus.RUNNING)]
    assert memo[-1].end == T0 + 60  # a running step grows with the clock
    vote = view.timeline.step_bars("pick")
    assert sorted(b.lane for b in vote) == [0, 0, 1, 2] and {b.lanes for b in vote} == {3}
    assert view.timeline.step_bars("sources") == []  # a single task draws no sub-bars


def test_a_map_of_300_is_binned_into_a_density_strip(qtbot):
    view = timeline_of(qtbot, map_in_progress(done=212, failed=3), T0 + 16)
    bars = view.timeline.step_bars("notes")
    assert 1 < len(bars) <= MAX_BARS and all(b.binned for b in bars)
    assert max(b.weight for b in bars) == 1.0
    assert {b.status for b in bars} == {StepStatus.DONE, StepStatus.RUNNING, StepStatus.FAILED}
    assert bars[0].steps == 300  # every item began at once: the first bin holds them all
    assert [b.start for b in bars] == sorted(b.start for b in bars)


def test_screenshots(qtbot, tree, tmp_path: Path):
    out = Path(SHOTS) if SHOTS else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    feed(tree.model, delegate_at_work())
    tree.set_editable(False)
    tree.resize(900, 560)
    tree.tree.setCurrentIndex(tree.model.index(1, 0, tree.model.index_for("report")))
    qtbot.wait(50)
    assert tree.grab().save(str(out / "delegate_tree.png"))
    view = timeline_of(qtbot, delegate_at_work(), T0 + 14)
    view.select_task("report")
    qtbot.wait(50)
    assert view.grab().save(str(out / "delegate_run_view.png"))
    view = timeline_of(qtbot, team_at_work(), T0 + 60)
    view.select_task("pick")
    qtbot.wait(50)
    assert view.grab().save(str(out / "timeline_sub_bars.png"))
    view = timeline_of(qtbot, map_in_progress(done=212, failed=3), T0 + 16)
    view.select_task("notes")
    qtbot.wait(50)
    assert view.grab().save(str(out / "timeline_map_300.png"))
