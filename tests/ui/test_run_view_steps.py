"""The run view lists a pattern task's steps as they happen; a map of 300 is a virtual list, not 300 widgets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget

from agents.events import StepFinished, StepStarted
from agents.plan.roster import load_roster
from tests.support.pattern_events import RUN, T0, every_pattern, map_in_progress, team_at_work
from ui.plan_tree import PlanTreeModel, PlanTreeView
from ui.run_view import RunView
from ui.run_view.steps import StepKeyRole

SHOTS = os.environ.get("TROUPE_SHOTS")


@pytest.fixture
def view(qtbot) -> RunView:
    widget = RunView(clock=lambda: T0 + 60)
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def rows(view: RunView) -> list[tuple[str, str, str, str]]:
    model = view.steps.model
    return [tuple(model.index(r, c).data() for c in range(4)) for r in range(model.rowCount())]  # type: ignore[misc]


def click_step(qtbot, view: RunView, key: str) -> None:
    model = view.steps.model
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data(StepKeyRole) == key)
    view.steps.table.scrollTo(model.index(row, 0))
    rect = view.steps.table.visualRect(model.index(row, 0))
    qtbot.mouseClick(view.steps.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_a_review_lists_its_rounds_and_each_output_is_a_click_away(qtbot, view):
    view.apply_events(team_at_work())
    view.select_task("memo")
    assert view.steps.isVisible()
    assert rows(view) == [("draft 1", "writer", "done", ""), ("review 1", "reviewer", "done", "revise"),
                          ("draft 2", "writer", "running", "")]
    assert view.steps.heading.text() == "Write the memo  ·  3 steps, 1 running"
    click_step(qtbot, view, "review 1")
    assert view.steps.output.toPlainText() == "REVISE\nCite the latency numbers."
    click_step(qtbot, view, "draft 2")
    assert view.steps.output.toPlainText() == "" and "Still running" in view.steps.output.placeholderText()
    # the draft arrives while it is selected: its output shows without another click
    view.apply_event(StepFinished(run_id=RUN, task_id="memo", step="draft 2", agent="writer",
                                  output="# Recommendation\n\nUse Qdrant: 12 ms p99."))
    view.flush()
    assert view.steps.output.toPlainText().endswith("12 ms p99.")
    assert rows(view)[2][2] == "done"


def test_votes_debates_and_routes_list_their_steps_and_a_plain_task_hides_the_list(view):
    view.apply_events(team_at_work())
    view.select_task("pick")
    assert [r[0] for r in rows(view)] == ["answer 1", "answer 2", "answer 3", "judgement"]
    assert rows(view)[3][3] == "chose 1"
    view.select_task("risks")
    assert [r[0] for r in rows(view)][:2] == ["round 1 · 1", "round 1 · 2"]
    view.select_task("kind")
    assert rows(view) == [("choice", "analyst", "done", "chose memo")]
    view.select_task("sources")
    assert not view.steps.isVisible()


def test_a_map_of_300_is_one_virtual_list_with_counts(qtbot, view):
    view.apply_events(map_in_progress(done=212, failed=3))
    view.select_task("notes")
    assert view.steps.model.rowCount() == 300
    assert view.steps.heading.text() == "Notes per database  ·  items 212/300 done, 3 failed"
    assert len(view.steps.findChildren(QWidget)) < 40  # a list view, not a widget per item
    click_step(qtbot, view, "item 17")
    assert "Database 17" in view.steps.output.toPlainText()
    click_step(qtbot, view, "item 214")
    assert view.steps.output.toPlainText().startswith("Failed: the model did not answer")
    assert rows(view)[213][2] == "failed"
    # more items finish: the same rows update, the heading counts them
    view.apply_events([StepFinished(run_id=RUN, task_id="notes", step=f"item {i}", agent="researcher",
                                    output=f"late {i}") for i in range(216, 301)])
    assert view.steps.heading.text() == "Notes per database  ·  items 297/300 done, 3 failed"
    assert view.steps.model.rowCount() == 300


def test_a_selected_task_shows_its_list_when_its_first_step_starts(view):
    view.apply_events(map_in_progress(done=0, failed=0)[:3])  # the map task has not started yet
    view.select_task("notes")
    assert not view.steps.isVisible()
    view.apply_event(StepStarted(run_id=RUN, task_id="notes", step="item 1", agent="researcher"))
    view.flush()
    assert view.steps.isVisible() and view.steps.model.rowCount() == 1


def test_screenshot_map_of_300_in_progress(qtbot, tmp_path: Path):
    """The window's right side: the plan tree (one row for the map) over the run view (its items)."""
    plan_model = PlanTreeModel(every_pattern(), load_roster())
    plan_model.set_editable(False)
    plan_view = PlanTreeView(plan_model)
    run_view = RunView(clock=lambda: T0 + 16)
    right = QSplitter(Qt.Orientation.Vertical)
    right.addWidget(plan_view)
    right.addWidget(run_view)
    qtbot.addWidget(right)
    right.resize(900, 1000)
    right.setSizes([380, 620])
    right.show()
    qtbot.waitExposed(right)
    events = map_in_progress(done=212, failed=3)
    for event in events:
        plan_model.apply_event(event)
    plan_model.flush_runtime()
    run_view.load_plan(every_pattern())
    run_view.apply_events(events)
    plan_view.select_task("notes")
    run_view.select_task("notes")
    click_step(qtbot, run_view, "item 214")
    qtbot.wait(30)
    right.grab().save(os.path.join(SHOTS or str(tmp_path), "map_300_in_progress.png"))
    click_step(qtbot, run_view, "item 150")
    qtbot.wait(30)
    right.grab().save(os.path.join(SHOTS or str(tmp_path), "map_300_item_output.png"))
    review = RunView(clock=lambda: T0 + 80)
    qtbot.addWidget(review)
    review.resize(900, 620)
    review.show()
    qtbot.waitExposed(review)
    review.load_plan(every_pattern())
    review.apply_events(team_at_work())
    review.select_task("memo")
    click_step(qtbot, review, "review 1")
    qtbot.wait(30)
    review.grab().save(os.path.join(SHOTS or str(tmp_path), "run_view_review_steps.png"))


def test_choosing_a_task_in_the_plan_tree_shows_its_steps(qtbot, view):
    """Not only a timeline row: a task chosen in the plan tree opens its steps and output."""
    tree = PlanTreeView(PlanTreeModel(every_pattern(), load_roster()))
    qtbot.addWidget(tree)
    tree.taskChosen.connect(view.follow_task)
    view.apply_events(team_at_work())
    tree.select_task("memo")
    assert view.selected_task() == "memo" and view.steps.isVisible()
    assert rows(view)[0] == ("draft 1", "writer", "done", "")
    tree.select_task("sources")
    assert view.selected_task() == "sources"


def test_the_live_output_heads_each_step(qtbot, view):
    """A review's drafts and reviews do not run together in the live output."""
    from agents.events import TokenDelta

    view.apply_events(team_at_work())
    view.select_task("memo")
    view.apply_event(StepStarted(run_id=RUN, task_id="memo", step="draft 3", agent="writer"))
    view.apply_event(TokenDelta(run_id=RUN, task_id="memo", text="Third draft."))
    view.apply_event(StepStarted(run_id=RUN, task_id="memo", step="review 3", agent="reviewer"))
    view.apply_event(TokenDelta(run_id=RUN, task_id="memo", text="APPROVE"))
    view.flush()
    text = view.output.text("memo")
    assert "── draft 3 · writer ──\nThird draft.\n\n── review 3 · reviewer ──\nAPPROVE" in text
    view.apply_event(StepStarted(run_id=RUN, task_id="notes", step="item 301", agent="researcher"))
    view.flush()
    assert "item 301" not in view.output.text("notes")  # a map's items are not streamed or headed
