"""The plan tree editor: edits change the plan, undo/redo restore it exactly."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QStyleOptionViewItem

from agents.errors import ServerError
from agents.events import (
    ApprovalRequested,
    ApprovalResolved,
    LLMCallFinished,
    PlanProposed,
    RunFinished,
    RunStarted,
    TaskBlocked,
    TaskCancelled,
    TaskFailed,
    TaskFinished,
    TaskRetried,
    TaskSkipped,
    TaskStarted,
)
from agents.llm.calls import RetryPolicy
from agents.plan import Plan, Task, plan_problems
from agents.plan.roster import Roster, load_roster
from agents.ports import Action
from agents.run.agent import ModelSettings
from agents.run.runner import Runner, RunOptions
from agents.run.state import RunState, fold
from agents.testing import FakeLLM, RecordingSink, ScriptedGate, last_user_message
from ui.plan_tree import (
    Column,
    DependencyCleanup,
    PlanTreeModel,
    PlanTreeView,
)
from ui.plan_tree.delegates import AgentDelegate
from ui.plan_tree.runtime import PROBLEM_COLOUR

RED = QColor(PROBLEM_COLOUR)


def make_plan() -> Plan:
    """t1 is a group (t2, t3); t4 waits for the group; t5 waits for t4; t6 for t5."""
    return Plan(
        goal="Compare vector databases",
        tasks=(
            Task("t1", "Research", agent="researcher", children=(
                Task("t2", "Survey databases", agent="researcher", instructions="List them."),
                Task("t3", "Collect benchmarks", agent="researcher"),
            )),
            Task("t4", "Compare", agent="analyst", depends_on=("t1",)),
            Task("t5", "Draft report", agent="writer", depends_on=("t4",), requires_approval=True),
            Task("t6", "Review", agent="reviewer", depends_on=("t5",)),
        ),
    )


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster()


@pytest.fixture
def model(qtbot, roster: Roster) -> PlanTreeModel:
    model = PlanTreeModel(make_plan(), roster)
    # Qt's own consistency checks run on every signal the model sends
    model._tester = QAbstractItemModelTester(  # type: ignore[attr-defined]
        model, QAbstractItemModelTester.FailureReportingMode.Fatal
    )
    return model


@pytest.fixture
def view(qtbot, model: PlanTreeModel) -> PlanTreeView:
    view = PlanTreeView(model)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    return view


def ids(tasks) -> list[str]:
    return [t.id for t in tasks]


# --- each edit changes the plan; undo and redo restore it exactly ------------------

EDITS: dict[str, Callable[[PlanTreeModel], object]] = {
    "rename": lambda m: m.setData(m.index_for("t4"), "Compare them"),
    "instructions": lambda m: m.set_instructions("t3", "Only 2024 and later."),
    "reassign": lambda m: m.setData(m.index_for("t6", Column.AGENT), "analyst"),
    "rewire": lambda m: m.setData(m.index_for("t6", Column.DEPENDS_ON), "t2, t4"),
    "approval": lambda m: m.setData(
        m.index_for("t6", Column.APPROVAL), Qt.CheckState.Checked.value,
        Qt.ItemDataRole.CheckStateRole,
    ),
    "add child": lambda m: m.add_child("t4"),
    "add sibling": lambda m: m.add_sibling("t2"),
    "delete group": lambda m: m.delete_tasks(["t1"]),
    "delete leaf": lambda m: m.delete_tasks(["t5"]),
    "move into group": lambda m: m.move_tasks(["t6"], "t1", 1),
    "move out of group": lambda m: m.move_tasks(["t2"], None, -1),
    "reorder down": lambda m: m.move_tasks(["t4"], None, 3),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_every_edit_is_undoable_exactly(qtbot, model: PlanTreeModel, edit) -> None:
    before = model.to_plan()
    with qtbot.waitSignal(model.planChanged) as emitted:
        assert edit(model) not in (False, None)
    after = model.to_plan()
    assert after != before
    assert emitted.args == [after]
    assert model.undo_stack.count() == 1
    model.undo_stack.undo()
    assert model.to_plan() == before
    model.undo_stack.redo()
    assert model.to_plan() == after


def test_a_sequence_of_edits_unwinds_to_the_original(model: PlanTreeModel) -> None:
    original = model.to_plan()
    snapshots = [original]
    for edit in EDITS.values():
        if edit(model) not in (False, None):
            snapshots.append(model.to_plan())
    assert len(snapshots) > 8
    for expected in reversed(snapshots[:-1]):
        model.undo_stack.undo()
        assert model.to_plan() == expected
    for expected in snapshots[1:]:
        model.undo_stack.redo()
        assert model.to_plan() == expected


def test_edits_change_the_right_fields(model: PlanTreeModel) -> None:
    model.rename("t4", "  Compare them ")
    model.reassign("t6", "analyst")
    model.set_depends_on("t6", ["t2", "t4", "t2"])
    model.set_requires_approval("t5", False)
    plan = model.to_plan()
    assert plan.task("t4").title == "Compare them"
    assert plan.task("t6").agent == "analyst"
    assert plan.task("t6").depends_on == ("t2", "t4")
    assert plan.task("t5").requires_approval is False
    assert model.index_for("t6", Column.DEPENDS_ON).data() == "Survey databases, Compare them"


def test_refused_and_no_op_edits_push_nothing(qtbot, model: PlanTreeModel) -> None:
    with qtbot.assertNotEmitted(model.planChanged):
        assert not model.rename("t4", "   ")
        assert not model.rename("t4", "Compare")  # unchanged
        assert not model.reassign("t4", "analyst")
        assert not model.set_requires_approval("t5", True)
        assert not model.move_tasks(["t4"], None, 1)  # where it already is
        assert not model.delete_tasks(["nope"])
    assert model.undo_stack.count() == 0


def test_add_child_and_sibling_get_fresh_ids_in_place(model: PlanTreeModel) -> None:
    child = model.add_child("t4")
    sibling = model.add_sibling("t2")
    top = model.add_task()
    assert (child, sibling, top) == ("t7", "t8", "t9")
    plan = model.to_plan()
    assert ids(plan.task("t4").children) == ["t7"]
    assert ids(plan.task("t1").children) == ["t2", "t8", "t3"]
    assert ids(plan.tasks)[-1] == "t9"
    assert plan.task("t7").agent == "writer"
    # an undone id is not handed out again in the same session
    model.undo_stack.undo()
    assert model.add_task() == "t10"


def test_delete_cleans_dependents_and_warns(qtbot, model: PlanTreeModel) -> None:
    before = model.to_plan()
    with qtbot.waitSignal(model.dependenciesRemoved) as warned:
        model.delete_tasks(["t1"])
    assert warned.args == [[DependencyCleanup("t4", "Compare", ("t1",))]]
    plan = model.to_plan()
    assert ids(plan.iter_tasks()) == ["t4", "t5", "t6"]
    assert plan.task("t4").depends_on == ()
    assert model.is_valid()
    model.undo_stack.undo()
    assert model.to_plan() == before


def test_deleting_a_child_cleans_deps_on_it(qtbot, model: PlanTreeModel) -> None:
    model.set_depends_on("t6", ["t5", "t3"])
    with qtbot.waitSignal(model.dependenciesRemoved) as warned:
        model.delete_tasks(["t3"])
    assert warned.args[0][0].removed == ("t3",)
    assert model.to_plan().task("t6").depends_on == ("t5",)


# --- drag and drop ----------------------------------------------------------------------


def drop(model: PlanTreeModel, task_ids: list[str], parent: str | None, row: int) -> bool:
    data = model.mimeData([model.index_for(t) for t in task_ids])
    target = model.index_for(parent) if parent else QModelIndex()
    move = Qt.DropAction.MoveAction
    if not model.canDropMimeData(data, move, row, 0, target):
        return False
    return model.dropMimeData(data, move, row, 0, target)


def test_drag_and_drop_moves_and_undoes(model: PlanTreeModel) -> None:
    original = model.to_plan()
    assert drop(model, ["t6"], "t1", 0)
    assert ids(model.to_plan().task("t1").children) == ["t6", "t2", "t3"]
    assert drop(model, ["t2"], None, 0)  # out of the group, to the top
    assert ids(model.to_plan().tasks) == ["t2", "t1", "t4", "t5"]
    assert drop(model, ["t2"], None, -1)  # on the empty viewport: last
    assert ids(model.to_plan().tasks) == ["t1", "t4", "t5", "t2"]
    for _ in range(3):
        model.undo_stack.undo()
    assert model.to_plan() == original


def test_drop_on_a_leaf_makes_it_a_group(model: PlanTreeModel) -> None:
    assert drop(model, ["t6"], "t5", -1)
    plan = model.to_plan()
    assert ids(plan.task("t5").children) == ["t6"]
    assert plan.task("t6").depends_on == ("t5",)  # a child waiting for its group: a cycle
    assert not model.is_valid()


def test_drop_into_own_descendant_is_refused(qtbot, model: PlanTreeModel) -> None:
    before = model.to_plan()
    data = model.mimeData([model.index_for("t1")])
    move = Qt.DropAction.MoveAction
    with qtbot.assertNotEmitted(model.planChanged):
        for target in ("t2", "t1"):  # a child of t1, and t1 itself
            index = model.index_for(target)
            assert not model.canDropMimeData(data, move, -1, 0, index)
            assert not model.dropMimeData(data, move, -1, 0, index)
    assert model.to_plan() == before
    assert model.undo_stack.count() == 0


def test_the_views_source_removal_after_a_move_is_a_no_op(model: PlanTreeModel) -> None:
    # after a MoveAction drop the view asks the model to remove the dragged
    # rows; the move already happened in dropMimeData, so that must do nothing
    before = model.to_plan()
    assert not model.removeRows(0, 1, QModelIndex())
    assert model.to_plan() == before


def test_mime_data_round_trips_only_ids(model: PlanTreeModel) -> None:
    data = model.mimeData([model.index_for("t4", c) for c in Column])
    assert model.mimeTypes() == ["application/x-troupe-task-ids"]
    assert bytes(data.data(model.mimeTypes()[0]).data()) == b'["t4"]'


# --- validity ------------------------------------------------------------------------------


def test_problems_match_plan_problems(model: PlanTreeModel, roster: Roster) -> None:
    model.set_depends_on("t6", ["t5", "t99"])
    model.reassign("t4", "juggler")
    assert model.problems() == plan_problems(model.to_plan(), roster.names)
    assert len(model.problems()) == 2
    assert model.index_for("t6").data(Qt.ItemDataRole.ForegroundRole) == RED
    assert "t99" in model.index_for("t6").data(Qt.ItemDataRole.ToolTipRole)
    assert model.index_for("t4", Column.AGENT).data(Qt.ItemDataRole.ForegroundRole) == RED
    assert model.index_for("t5").data(Qt.ItemDataRole.ForegroundRole) is None


def test_cycle_from_the_dependency_picker_disables_then_reenables(
    qtbot, view: PlanTreeView, model: PlanTreeModel
) -> None:
    view.show()
    qtbot.waitExposed(view)
    assert model.is_valid() and not view.banner.isVisible()
    view.select_task("t4")
    picker = view.detail.depends_list
    labels = [picker.item(i).text().split() for i in range(picker.count())]
    assert [words[0] for words in labels] == ["t1", "t2", "t3", "t5", "t6"]
    t6 = next(picker.item(i) for i in range(picker.count()) if labels[i][0] == "t6")

    with qtbot.waitSignal(model.validityChanged) as signal:
        t6.setCheckState(Qt.CheckState.Checked)  # t4 -> t6 -> t5 -> t4
    assert signal.args == [False]
    assert model.to_plan().task("t4").depends_on == ("t1", "t6")
    assert view.banner.isVisible()
    assert "dependency cycle" in view.banner.text()
    for tid in ("t4", "t5", "t6"):
        assert model.index_for(tid).data(Qt.ItemDataRole.ForegroundRole) == RED
    assert model.index_for("t1").data(Qt.ItemDataRole.ForegroundRole) is None

    with qtbot.waitSignal(model.validityChanged) as signal:
        t6.setCheckState(Qt.CheckState.Unchecked)
    assert signal.args == [True]
    assert not view.banner.isVisible()
    assert model.index_for("t5").data(Qt.ItemDataRole.ForegroundRole) is None
    with qtbot.waitSignal(model.validityChanged) as signal:
        model.undo_stack.undo()  # the picker's edits are undo steps too
    assert signal.args == [False]


def test_picker_excludes_self_and_descendants_and_lists_missing(
    view: PlanTreeView, model: PlanTreeModel
) -> None:
    model.set_depends_on("t1", ["t9"])
    view.select_task("t1")
    picker = view.detail.depends_list
    rows = [picker.item(i) for i in range(picker.count())]
    assert [r.text().split()[0] for r in rows] == ["t4", "t5", "t6", "t9"]
    missing = rows[-1]
    assert missing.checkState() == Qt.CheckState.Checked
    missing.setCheckState(Qt.CheckState.Unchecked)  # the way to drop a dangling id
    assert model.to_plan().task("t1").depends_on == ()
    assert model.is_valid()


# --- the detail pane ------------------------------------------------------------------------


def test_detail_pane_edits_go_through_undo(qtbot, view: PlanTreeView, model: PlanTreeModel) -> None:
    original = model.to_plan()
    pane = view.detail
    view.select_task("t6")
    assert pane.task_id == "t6" and pane.title_edit.text() == "Review"

    pane.title_edit.selectAll()
    qtbot.keyClicks(pane.title_edit, "Final review")
    qtbot.keyClick(pane.title_edit, Qt.Key.Key_Return)
    pane.agent_combo.setCurrentIndex(pane.agent_combo.findData("analyst"))
    pane.approval_check.click()
    pane.instructions_edit.setPlainText("Check ")
    pane.instructions_edit.appendPlainText("every claim.")
    view.select_task("t5")  # leaving the task saves the instructions

    plan = model.to_plan().task("t6")
    assert (plan.title, plan.agent, plan.requires_approval) == ("Final review", "analyst", True)
    assert plan.instructions == "Check \nevery claim."
    assert model.undo_stack.count() == 4  # instructions typed in one visit: one step
    assert model.index_for("t6").data() == "Final review"

    view.undo_action.trigger()
    view.select_task("t6")
    assert pane.instructions_edit.toPlainText() == ""
    while model.undo_stack.canUndo():
        view.undo_action.trigger()
    assert model.to_plan() == original
    assert pane.title_edit.text() == "Review"
    assert pane.agent_combo.currentData() == "reviewer"


def test_instructions_save_after_a_pause(qtbot, view: PlanTreeView, model: PlanTreeModel) -> None:
    view.select_task("t3")
    view.detail.instructions_edit.setPlainText("Since 2023.")
    qtbot.waitUntil(lambda: model.task("t3").instructions == "Since 2023.", timeout=3000)


def test_clicking_the_approval_checkbox_is_an_undoable_edit(
    qtbot, view: PlanTreeView, model: PlanTreeModel
) -> None:
    view.show()
    qtbot.waitExposed(view)
    cell = view.tree.visualRect(model.index_for("t6", Column.APPROVAL))
    click_at = QPoint(cell.left() + 10, cell.center().y())  # the check indicator
    qtbot.mouseClick(view.tree.viewport(), Qt.MouseButton.LeftButton, pos=click_at)
    assert model.task("t6").requires_approval
    assert view.detail.approval_check.isChecked() is (view.detail.task_id == "t6")
    model.undo_stack.undo()
    assert not model.task("t6").requires_approval


def test_group_has_no_agent_or_approval_to_edit(view: PlanTreeView, model: PlanTreeModel) -> None:
    view.select_task("t1")
    assert not view.detail.agent_combo.isEnabled()
    assert not view.detail.approval_check.isEnabled()
    index = model.index_for("t1", Column.APPROVAL)
    assert index.data(Qt.ItemDataRole.CheckStateRole) is None
    assert not model.flags(index) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.index_for("t1", Column.AGENT).data() == "group"


def test_agent_delegate_offers_worker_roles(qtbot, view: PlanTreeView, model: PlanTreeModel) -> None:
    delegate = view.tree.itemDelegateForColumn(Column.AGENT)
    assert isinstance(delegate, AgentDelegate)
    index = model.index_for("t4", Column.AGENT)
    editor = delegate.createEditor(view.tree.viewport(), QStyleOptionViewItem(), index)
    assert isinstance(editor, QComboBox)
    roles = [editor.itemData(i) for i in range(editor.count())]
    assert roles == ["researcher", "analyst", "coder", "writer", "reviewer"]  # no orchestrator
    delegate.setEditorData(editor, index)
    assert editor.currentData() == "analyst"
    editor.setCurrentIndex(editor.findData("coder"))
    delegate.setModelData(editor, model, index)
    assert model.task("t4").agent == "coder"
    model.undo_stack.undo()
    assert model.task("t4").agent == "analyst"


# --- keyboard, actions, locking --------------------------------------------------------------


def test_keyboard_delete_rename_and_undo(qtbot, view: PlanTreeView, model: PlanTreeModel) -> None:
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    view.select_task("t6")
    view.tree.setFocus()
    qtbot.waitUntil(view.tree.hasFocus)

    qtbot.keyClick(view.tree, Qt.Key.Key_F2)
    assert view.tree.state() == QAbstractItemView.State.EditingState
    editor = view.tree.focusWidget()
    editor.selectAll()
    qtbot.keyClicks(editor, "Proofread")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next loop turn
    qtbot.waitUntil(lambda: model.task("t6").title == "Proofread", timeout=2000)

    view.select_task("t5")
    view.tree.setFocus()
    qtbot.keyClick(view.tree, Qt.Key.Key_Delete)
    assert not model.has_task("t5")
    assert model.task("t6").depends_on == ()
    assert view.notice.isVisible() and "Proofread" in view.notice.text()

    qtbot.keyClick(view.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert model.has_task("t5") and model.task("t6").depends_on == ("t5",)


def test_toolbar_actions_follow_selection_and_stack(view: PlanTreeView, model: PlanTreeModel) -> None:
    view.select_task("t2")
    assert not view.undo_action.isEnabled()
    view.add_task_action.trigger()  # after t2, inside the group
    assert ids(model.to_plan().task("t1").children) == ["t2", "t7", "t3"]
    assert view.current_task_id() == "t7"
    view.add_subtask_action.trigger()
    assert ids(model.to_plan().task("t7").children) == ["t8"]
    assert view.undo_action.isEnabled()
    assert view.undo_action.toolTip() == "Undo add 'New task' (Ctrl+Z)"
    view.delete_action.trigger()
    assert not model.has_task("t8")
    view.undo_action.trigger()
    view.redo_action.trigger()
    assert not model.has_task("t8")


def test_locked_plan_refuses_edits_but_shows_progress(
    qtbot, view: PlanTreeView, model: PlanTreeModel
) -> None:
    view.select_task("t4")
    view.set_editable(False)
    before = model.to_plan()
    with qtbot.assertNotEmitted(model.planChanged):
        assert not model.rename("t4", "Nope")
        assert not model.delete_tasks(["t4"])
        assert not drop(model, ["t6"], "t1", 0)
        assert model.add_task() is None
    assert model.to_plan() == before
    assert not model.flags(model.index_for("t4")) & Qt.ItemFlag.ItemIsEditable
    assert not view.add_task_action.isEnabled() and not view.delete_action.isEnabled()
    assert view.detail.title_edit.isReadOnly() and not view.detail.agent_combo.isEnabled()
    assert view.tree.dragDropMode() == QAbstractItemView.DragDropMode.NoDragDrop
    assert model.apply_event(TaskStarted(run_id="r", task_id="t4", agent="analyst", attempt=1))
    view.set_editable(True)
    assert model.rename("t4", "Yes")


# --- runtime columns ------------------------------------------------------------------------


def cells(model: PlanTreeModel, task_id: str) -> tuple[str, str, str]:
    return tuple(model.index_for(task_id, c).data() for c in (Column.STATUS, Column.TOKENS, Column.COST))


def test_a_task_whose_calls_have_no_known_price_says_so(model: PlanTreeModel) -> None:
    run = {"run_id": "r1"}
    model.apply_event(TaskStarted(**run, task_id="t4", agent="analyst", attempt=1))
    model.apply_event(LLMCallFinished(**run, task_id="t4", purpose="task", model="m", prompt_tokens=9,
                                      completion_tokens=1, cost=0.0, cost_known=False, latency_ms=5))
    model.flush_runtime()
    assert cells(model, "t4")[2] == "price unknown"  # not a silent $0.0000
    model.apply_event(LLMCallFinished(**run, task_id="t4", purpose="task", model="m2", prompt_tokens=9,
                                      completion_tokens=1, cost=0.003, cost_known=True, latency_ms=5))
    model.flush_runtime()
    assert cells(model, "t4")[2] == "≥ $0.0030"


def test_apply_event_updates_status_tokens_and_cost(qtbot, model: PlanTreeModel) -> None:
    run = {"run_id": "r1"}
    assert cells(model, "t4") == ("", "", "")
    with qtbot.waitSignal(model.dataChanged):
        model.apply_event(TaskStarted(**run, task_id="t4", agent="analyst", attempt=1))
    assert cells(model, "t4") == ("running", "", "")
    assert model.index_for("t4", Column.STATUS).data(Qt.ItemDataRole.DecorationRole) is not None
    model.apply_event(LLMCallFinished(
        **run, task_id="t4", purpose="task", model="m", prompt_tokens=900,
        completion_tokens=100, cost=0.002, cost_known=True, latency_ms=5,
    ))
    assert cells(model, "t4") == ("running", "1,000", "$0.0020")
    model.apply_event(TaskRetried(**run, task_id="t4", attempt=1, error="HTTP 500", delay=1))
    assert cells(model, "t4")[0] == "retrying"
    assert "HTTP 500" in model.index_for("t4", Column.STATUS).data(Qt.ItemDataRole.ToolTipRole)
    model.apply_event(TaskFinished(
        **run, task_id="t4", output="ok", attempts=2, prompt_tokens=1500,
        completion_tokens=734, cost=0.0125, started=0, finished=1,
    ))
    assert cells(model, "t4") == ("completed", "2,234", "$0.0125")

    model.apply_event(ApprovalRequested(
        **run, request_id="q", task_id="t5", subject="task", title="Draft",
    ))
    assert cells(model, "t5")[0] == "waiting approval"
    model.apply_event(ApprovalResolved(**run, request_id="q", task_id="t5", action="reject"))
    model.apply_event(TaskSkipped(**run, task_id="t5", reason="rejected by the person"))
    assert cells(model, "t5")[0] == "skipped"
    model.apply_event(TaskBlocked(**run, task_id="t6", because="t5"))
    assert cells(model, "t6")[0] == "blocked"
    model.apply_event(TaskFailed(**run, task_id="t2", error="boom", attempts=3))
    assert cells(model, "t2")[0] == "failed"
    assert model.index_for("t2", Column.STATUS).data(Qt.ItemDataRole.ToolTipRole) == "boom"
    model.apply_event(TaskCancelled(**run, task_id="t3"))
    assert cells(model, "t3")[0] == "cancelled"

    # not for a task here, or not about a task: ignored
    assert not model.apply_event(TaskCancelled(**run, task_id="elsewhere"))
    assert not model.apply_event(RunFinished(
        **run, status="completed", prompt_tokens=0, completion_tokens=0, cost=0,
    ))
    assert model.undo_stack.count() == 0 and model.to_plan() == make_plan()


def test_show_state_shows_a_stored_runs_fold(model: PlanTreeModel) -> None:
    """A stored run's events, folded (as the window opens it), fill the columns; planned runs show none."""
    run = {"run_id": "r1"}
    events = [
        RunStarted(**run, goal="g", plan=make_plan().to_dict()),
        TaskStarted(**run, task_id="t2", agent="researcher", attempt=1),
        TaskFinished(**run, task_id="t2", output="ok", attempts=1, prompt_tokens=5000, completion_tokens=210,
                     cost=1.5, started=0, finished=1),
        TaskStarted(**run, task_id="t3", agent="researcher", attempt=1),
        TaskFailed(**run, task_id="t3", error="timeout", attempts=3),
    ]
    model.show_state(fold(events))
    assert cells(model, "t2") == ("completed", "5,210", "$1.50")
    assert cells(model, "t3") == ("failed", "", "")
    assert cells(model, "t6") == ("pending", "", "")  # the run started: every task has a status
    assert model.index_for("t3", Column.STATUS).data(Qt.ItemDataRole.ToolTipRole) == "timeout"
    icons = {model.index_for(t, Column.STATUS).data(Qt.ItemDataRole.DecorationRole).cacheKey()
             for t in ("t2", "t3")}
    assert len(icons) == 2  # one colour per status
    # later events fold into the shown state (a resumed run): only unfinished work starts again
    assert model.apply_event(RunStarted(**run, goal="g", plan=make_plan().to_dict(), resumed=True))
    assert cells(model, "t2")[0] == "completed" and cells(model, "t3") == ("pending", "", "")
    model.show_state(fold([PlanProposed(**run, plan=make_plan().to_dict())]))
    assert cells(model, "t2") == ("", "", "")  # never started: nothing to show
    model.show_state(fold(events))
    model.clear_runtime()
    assert cells(model, "t2") == ("", "", "")


async def test_a_recorded_run_drives_the_tree_like_the_fold(qtbot, model: PlanTreeModel) -> None:
    """A real Runner's events (a retry, an approval, a failure) show in the tree as the runner's own fold."""
    events, runner_state = await record_run(make_plan())
    retrying = []
    for event in events:
        model.apply_event(event)
        if isinstance(event, TaskRetried) and event.task_id == "t3":
            tip = model.index_for("t3", Column.STATUS).data(Qt.ItemDataRole.ToolTipRole)
            retrying.append((cells(model, "t3")[0], tip))
    assert len(retrying) == 1 and retrying[0][0] == "retrying"
    assert retrying[0][1].startswith("attempt 1 failed: ") and "503" in retrying[0][1]
    for tid in model.task_ids():
        task = runner_state.tasks[tid]
        assert model.runtime(tid).status is task.status, tid
        assert cells(model, tid)[1] == (f"{task.tokens:,}" if task.tokens or task.status.value == "completed" else "")
    assert model.runtime("t5").approval is Action.APPROVE
    assert cells(model, "t6")[0] == "failed" and cells(model, "t1")[0] == "completed"


async def record_run(plan: Plan) -> tuple[list, RunState]:
    """Run `plan` with a fake model: t3 fails once, t6 always; t5 waits for (and gets) approval."""
    calls = {"t3": 0}

    def script(request):
        text = last_user_message(request)
        if "Your task (t6)" in text:
            return ServerError("boom", status=500)
        if "Your task (t3)" in text and calls["t3"] == 0:
            calls["t3"] += 1
            return ServerError("HTTP 503", status=503)
        return "fine work"

    sink = RecordingSink()
    runner = Runner(run_id="r1", plan=plan, roster=load_roster(), llm=FakeLLM(script, cost_per_call=0.001),
                    settings=ModelSettings(model="fake/m"), sink=sink, gate=ScriptedGate(),
                    options=RunOptions(retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)))
    await runner.run()
    return sink.events, runner.state


def test_set_plan_resets_history_and_validity(qtbot, model: PlanTreeModel) -> None:
    model.rename("t4", "x")
    broken = Plan("g", (Task("a", "A", depends_on=("b",)),))
    with qtbot.waitSignal(model.validityChanged) as signal:
        model.set_plan(broken)
    assert signal.args == [False]
    assert model.undo_stack.count() == 0
    assert model.to_plan() == broken
    assert model.add_task() == "t1"
