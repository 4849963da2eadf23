"""The replan review dialog (ui.plan_tree.diff_dialog) and replacing the plan in the model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QDialog

from agents.events import TaskFinished
from agents.plan import Plan, Task
from agents.plan.roster import load_roster
from agents.run.state import TaskStatus
from ui.plan_tree import PlanTreeModel
from ui.plan_tree.diff_dialog import (
    ADDED,
    CHANGE,
    CHANGED,
    ID_ROLE,
    KIND_ROLE,
    REMOVED,
    TASK,
    UNCHANGED,
    PlanDiffDialog,
    replace_plan,
)

GOAL = "Write a 2-page brief for our CTO: which vector database for 50M documents?"
COMMENT = ("Split the comparison into cost and latency, add a pricing section, "
           "and skip the review: I'll read it myself.")
KEPT = {"t1", "t2", "t3"}


def old_plan() -> Plan:
    return Plan(GOAL, (
        Task("t1", "Research", agent="researcher", children=(
            Task("t2", "Survey Qdrant, Weaviate and pgvector", "Features, limits, licences.", "researcher"),
            Task("t3", "Collect published benchmarks", "Recall and p95 latency at 10M+.", "researcher"),
        )),
        Task("t4", "Compare the three", "Compare on everything that matters.", "researcher", ("t1",)),
        Task("t5", "Draft the brief", "Two pages, recommendation first.", "writer", ("t4",), True),
        Task("t6", "Review the brief", "Check numbers and tone.", "reviewer", ("t5",)),
    ))


def new_plan() -> Plan:
    old = old_plan()
    return Plan(GOAL, (
        old.tasks[0],
        Task("t7", "Collect list prices and hosting costs", "Managed and self-hosted, per month.",
             "researcher", ("t2",)),
        Task("t4", "Compare latency and recall", "p95 latency and recall@10 from t3's benchmarks.",
             "analyst", ("t1",)),
        Task("t8", "Cost model per 1M queries", "From t7's prices; 50M docs, 20 QPS.", "analyst", ("t7",)),
        Task("t5", "Draft the brief", "Two pages, recommendation first.", "writer", ("t4", "t8"), True),
    ))


@pytest.fixture
def dialog(qtbot) -> PlanDiffDialog:
    dialog = PlanDiffDialog(old_plan(), new_plan(), comment=COMMENT, kept=KEPT)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def kinds(dialog: PlanDiffDialog) -> dict[str, str]:
    return {i.data(TASK, ID_ROLE): i.data(TASK, KIND_ROLE) for i in dialog.items()}


def field_rows(dialog: PlanDiffDialog, task_id: str) -> list[str]:
    item = dialog.item_for(task_id)
    assert item is not None
    rows = [item.child(i) for i in range(item.childCount())]
    return [r.text(TASK) for r in rows if r.data(TASK, KIND_ROLE) == "field"]


def test_the_dialog_lists_every_change(dialog: PlanDiffDialog) -> None:
    assert kinds(dialog) == {
        "t1": UNCHANGED, "t2": UNCHANGED, "t3": UNCHANGED, "t7": ADDED, "t4": CHANGED,
        "t8": ADDED, "t5": CHANGED, "t6": REMOVED,
    }
    # the new plan's order, the removed task where it was (after t5)
    assert [i.data(TASK, ID_ROLE) for i in dialog.items()] == ["t1", "t2", "t3", "t7", "t4", "t8", "t5", "t6"]
    assert field_rows(dialog, "t4") == [
        "title:  Compare the three → Compare latency and recall",
        "instructions:  Compare on everything that matters. → p95 latency and recall@10 from t3's benchmarks.",
        "agent:  researcher → analyst",
    ]
    assert field_rows(dialog, "t5") == ["depends on:  t4 → t4, t8"]
    assert "Before:\nCompare on everything that matters." in dialog.item_for("t4").child(1).toolTip(TASK)
    removed = dialog.item_for("t6")
    assert removed.font(TASK).strikeOut() and removed.text(CHANGE) == "removed"
    assert dialog.item_for("t2").text(CHANGE) == "finished · kept as it was"
    assert dialog.item_for("t4").text(CHANGE) == "changed: title, instructions, agent"
    assert "2 added" in dialog.counts.text() and "1 removed" in dialog.counts.text()
    assert dialog.accept_button.isEnabled() and dialog.accept_button.isDefault()


def test_accept_uses_the_new_plan(qtbot, dialog: PlanDiffDialog) -> None:
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.new_plan == new_plan()


def test_keep_current_rejects(qtbot, dialog: PlanDiffDialog) -> None:
    with qtbot.waitSignal(dialog.rejected):
        qtbot.mouseClick(dialog.keep_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_hiding_unchanged_tasks_keeps_the_structure(dialog: PlanDiffDialog) -> None:
    dialog.show_unchanged.setChecked(False)
    hidden = {i.data(TASK, ID_ROLE) for i in dialog.items() if i.isHidden()}
    assert hidden == {"t1", "t2", "t3"}
    moved = Plan(GOAL, (old_plan().tasks[0], Task("t9", "New", agent="writer", children=(
        old_plan().tasks[1],)),) + old_plan().tasks[2:])
    other = PlanDiffDialog(old_plan(), moved)
    other.show_unchanged.setChecked(False)
    assert not other.item_for("t9").isHidden()  # added
    assert field_rows(other, "t4") == ["moved:  top level → under t9"]
    assert other.item_for("t1").isHidden()
    dialog.show_unchanged.setChecked(True)
    assert not any(i.isHidden() for i in dialog.items())


def test_nothing_to_use_when_the_plan_did_not_change(qtbot) -> None:
    same = PlanDiffDialog(old_plan(), old_plan())
    qtbot.addWidget(same)
    assert not same.accept_button.isEnabled() and same.keep_button.isEnabled()
    assert same.counts.text() == "No task was added, removed or changed."


# --- replacing the plan in the model ----------------------------------------------------


@pytest.fixture
def model(qtbot) -> PlanTreeModel:
    model = PlanTreeModel(old_plan(), load_roster())
    model._tester = QAbstractItemModelTester(  # type: ignore[attr-defined]
        model, QAbstractItemModelTester.FailureReportingMode.Fatal
    )
    return model


def test_replace_plan_is_one_undoable_edit(qtbot, model: PlanTreeModel) -> None:
    model.apply_event(TaskFinished(run_id="r", task_id="t2", output="done", attempts=1, prompt_tokens=1000,
                                   completion_tokens=200, cost=0.004, started=1.0, finished=2.0))
    with qtbot.waitSignal(model.planChanged) as emitted:
        assert replace_plan(model, new_plan())
    assert emitted.args == [new_plan()] and model.to_plan() == new_plan()
    assert model.runtime("t2").status is TaskStatus.COMPLETED  # a kept task keeps its status
    assert model.is_valid() and model.undo_stack.count() == 1
    assert model.add_task() == "t9"  # new ids go past the replanned ones
    model.undo_stack.undo()
    model.undo_stack.undo()
    assert model.to_plan() == old_plan()
    model.undo_stack.redo()
    assert model.to_plan() == new_plan()
    model.set_editable(False)
    assert not replace_plan(model, old_plan())


# --- screenshot ------------------------------------------------------------------------


def test_screenshot(qtbot, tmp_path: Path, dialog: PlanDiffDialog) -> None:
    """With TROUPE_SCREENSHOTS=1 also saves docs/screenshots/replan_diff.png."""
    qtbot.wait(20)
    image = dialog.grab()
    assert image.width() >= 800 and not image.toImage().isNull()
    image.save(str(tmp_path / "replan_diff.png"))
    if os.environ.get("TROUPE_SCREENSHOTS"):
        target = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "replan_diff.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(target))
