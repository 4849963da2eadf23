"""Task patterns in the plan editor: shown at a glance, edited in the detail pane, undoable, validated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon

from agents.plan.patterns import Debate, Map, Review, Route, Vote
from agents.plan.roster import load_roster
from tests.support.pattern_events import every_pattern, map_in_progress
from ui.plan_tree import Column, PlanTreeModel, PlanTreeView
from ui.plan_tree.pattern_cells import PatternRole

SHOTS = os.environ.get("TROUPE_SHOTS")


@pytest.fixture
def view(qtbot) -> PlanTreeView:
    widget = PlanTreeView(PlanTreeModel(every_pattern(), load_roster()))
    qtbot.addWidget(widget)
    widget.resize(1000, 760)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def pattern_text(model: PlanTreeModel, task_id: str) -> str | None:
    return model.index_for(task_id).data(PatternRole)


def test_each_pattern_shows_its_label_and_icon_and_survives_the_editor(view):
    model = view.model
    assert pattern_text(model, "memo") == "review ×3 by reviewer"
    assert pattern_text(model, "pick") == "vote of 3, judged by reviewer"
    assert pattern_text(model, "risks") == "debate of 2 ×2, judged by reviewer"
    assert pattern_text(model, "notes") == "map over Sources (≤300)"
    assert pattern_text(model, "kind") == "route: memo / code"
    assert pattern_text(model, "poc") is None
    icon = model.index_for("memo").data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon) and not icon.isNull()
    assert model.index_for("poc").data(Qt.ItemDataRole.DecorationRole) is None
    assert "Review:" in model.index_for("memo").data(Qt.ItemDataRole.ToolTipRole)
    assert model.to_plan() == every_pattern()  # the editor keeps every pattern as it was
    assert model.is_valid()


def select(view: PlanTreeView, task_id: str) -> None:
    view.select_task(task_id)
    assert view.detail.task_id == task_id


def test_options_are_edited_in_the_detail_pane_and_undo_as_one_step_each(qtbot, view):
    model, editor = view.model, view.detail.pattern_editor
    select(view, "memo")
    assert editor.kind_combo.currentText() == "Review loop" and editor.max_rounds_spin.value() == 3
    editor.max_rounds_spin.stepUp()
    editor.max_rounds_spin.stepUp()  # two clicks of the arrow: one undo step
    assert model.task("memo").pattern == Review("reviewer", 5)
    assert pattern_text(model, "memo") == "review ×5 by reviewer"
    model.undo_stack.undo()
    assert model.task("memo").pattern == Review("reviewer", 3)
    assert editor.max_rounds_spin.value() == 3  # the pane follows the undo
    editor.kind_combo.setCurrentIndex(editor.kind_combo.findText("Vote"))
    editor.kind_combo.activated.emit(editor.kind_combo.currentIndex())
    assert model.task("memo").pattern == Vote(samples=3)
    assert editor.pages.currentWidget() is editor.samples_spin.parentWidget()
    model.undo_stack.undo()
    assert model.task("memo").pattern == Review("reviewer", 3)
    editor.kind_combo.setCurrentIndex(editor.kind_combo.findText("One agent"))
    editor.kind_combo.activated.emit(editor.kind_combo.currentIndex())
    assert model.task("memo").pattern is None and pattern_text(model, "memo") is None
    model.undo_stack.undo()
    model.undo_stack.redo()
    assert model.task("memo").pattern is None


def test_problems_show_in_the_banner_and_on_the_row_until_fixed(qtbot, view):
    model, editor = view.model, view.detail.pattern_editor
    select(view, "risks")
    editor.debaters_edit.setFocus()
    editor.debaters_edit.selectAll()
    qtbot.keyClicks(editor.debaters_edit, "analyst")
    qtbot.keyClick(editor.debaters_edit, Qt.Key.Key_Return)
    assert model.task("risks").pattern == Debate(("analyst",), "reviewer", 2)
    assert "task 'risks' (debate) needs at least two debaters" in model.problems()
    assert view.banner.isVisible() and "two debaters" in view.banner.text()
    assert "two debaters" in model.index_for("risks").data(Qt.ItemDataRole.ToolTipRole)
    assert not model.is_valid()
    qtbot.keyClicks(editor.debaters_edit, ", writer")
    qtbot.keyClick(editor.debaters_edit, Qt.Key.Key_Return)
    assert model.task("risks").pattern == Debate(("analyst", "writer"), "reviewer", 2)
    assert model.is_valid() and not view.banner.isVisible()


def test_a_map_goes_over_a_dependency_and_a_route_gets_rows(qtbot, view):
    model, editor = view.model, view.detail.pattern_editor
    select(view, "notes")
    assert editor.over_combo.currentData() == "sources"
    assert [editor.over_combo.itemData(i) for i in range(editor.over_combo.count())] == ["sources"]
    editor.max_items_spin.setValue(50)
    assert model.task("notes").pattern == Map("sources", 50)
    select(view, "kind")
    assert editor.routes_table.rowCount() == 2
    editor.add_route_button.click()
    routes = model.task("kind").pattern
    assert isinstance(routes, Route) and len(routes.routes) == 3
    # the new route leads to a task that does not wait for the router: a problem, named
    assert any("(route) routes" in p and "does not depend on it" in p for p in model.problems())
    editor.routes_table.setCurrentCell(2, 0)
    editor.remove_route_button.click()
    assert model.task("kind").pattern == Route((("memo", "memo"), ("code", "poc")))
    assert model.is_valid()
    editor.routes_table.item(0, 0).setText("report")
    assert model.task("kind").pattern == Route((("report", "memo"), ("code", "poc")))


def test_a_locked_plan_shows_the_pattern_but_does_not_edit_it(view):
    view.model.set_editable(False)
    select(view, "memo")
    assert not view.detail.pattern_editor.isEnabled()
    assert view.detail.pattern_editor.kind_combo.currentText() == "Review loop"


def test_a_map_of_300_is_one_row_with_its_counts(view):
    model = view.model
    rows_before = model.rowCount()
    for event in map_in_progress(done=212, failed=3):
        model.apply_event(event)
    model.flush_runtime()
    assert model.rowCount() == rows_before and model.rowCount(model.index_for("notes")) == 0
    assert pattern_text(model, "notes") == "map over Sources (≤300)  ·  items 212/300 done, 3 failed"
    status = model.index_for("notes", Column.STATUS)
    assert status.data() == "running · 212/300"
    assert "items 212/300 done, 3 failed" in status.data(Qt.ItemDataRole.ToolTipRole)


def test_screenshot_plan_with_every_pattern(qtbot, view, tmp_path: Path):
    for event in map_in_progress(done=212, failed=3):
        view.model.apply_event(event)
    view.model.flush_runtime()
    view.tree.expandAll()
    select(view, "pick")
    qtbot.wait(20)
    view.grab().save(os.path.join(SHOTS or str(tmp_path), "plan_patterns.png"))
    select(view, "kind")
    qtbot.wait(20)
    view.grab().save(os.path.join(SHOTS or str(tmp_path), "plan_patterns_route.png"))
    assert view.tree.header().sectionSize(Column.TASK) > 200


def test_a_task_can_be_made_a_delegate_and_its_limits_edited(view):
    from agents.plan.patterns import Delegate

    model, editor = view.model, view.detail.pattern_editor
    select(view, "memo")
    editor.kind_combo.setCurrentIndex(editor.kind_combo.findText("Delegate to sub-tasks"))
    editor.kind_combo.activated.emit(editor.kind_combo.currentIndex())
    assert model.task("memo").pattern == Delegate()
    assert editor.pages.currentWidget() is editor.max_subtasks_spin.parentWidget()
    editor.max_subtasks_spin.setValue(8)
    editor.max_depth_spin.setValue(2)
    assert model.task("memo").pattern == Delegate(8, 2)
    assert pattern_text(model, "memo") == "delegates up to 8"
    model.undo_stack.undo()
    assert model.task("memo").pattern == Delegate(8, 1)


def test_no_task_selected_shows_no_pattern(view):
    editor = view.detail.pattern_editor
    select(view, "memo")
    assert editor.kind_combo.currentText() == "Review loop"
    view.detail.set_task(None)
    assert editor.kind_combo.currentText() == "One agent" and not editor.isEnabled()
