"""The plan table's columns fit their content, the Task column first (issue 17: at
1280 px it was ~65 px while Depends on kept 200 px), and keep what the person sets."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from agents.plan import Plan
from agents.plan.roster import Role, Roster
from ui.plan_tree import PlanTreeModel, PlanTreeView
from ui.plan_tree.cells import Column
from ui.plan_tree.columns import TASK_MIN

PLAN = Plan.from_dict({"goal": "g", "tasks": [
    {"id": "survey", "title": "Survey the note-taking market", "agent": "researcher"},
    {"id": "write", "title": "Write the report", "agent": "writer", "depends_on": ["survey"]},
]})
ROSTER = Roster((Role("researcher", "r"), Role("writer", "w")))


def view_at(qtbot, width: int) -> PlanTreeView:  # type: ignore[no-untyped-def]
    view = PlanTreeView(PlanTreeModel(PLAN, roster=ROSTER))
    qtbot.addWidget(view)
    view.resize(width, 400)
    view.show()
    qtbot.waitUntil(lambda: view.tree.header().sectionSize(Column.TASK) >= TASK_MIN)
    QApplication.processEvents()
    return view


def test_the_task_column_gets_room_first(qtbot, troupe_home) -> None:
    narrow = view_at(qtbot, 560)  # the plan pane at 1280 px
    header = narrow.tree.header()
    assert header.sectionSize(Column.TASK) >= TASK_MIN
    assert header.sectionSize(Column.TASK) > header.sectionSize(Column.DEPENDS_ON)
    wide = view_at(qtbot, 1100)
    wide_header = wide.tree.header()
    # with room, the title shows whole and the other columns keep what they need
    title = wide.tree.fontMetrics().horizontalAdvance("Survey the note-taking market")
    assert wide_header.sectionSize(Column.TASK) > title
    assert wide_header.sectionSize(Column.DEPENDS_ON) >= 80


def test_a_column_the_person_sizes_stays_sized(qtbot, troupe_home) -> None:
    view = view_at(qtbot, 900)
    header = view.tree.header()
    header.resizeSection(Column.DEPENDS_ON, 300)  # as a drag does
    view.resize(700, 400)
    QApplication.processEvents()
    assert view.columns.person_sized and header.sectionSize(Column.DEPENDS_ON) == 300
    again = view_at(qtbot, 900)  # a new window: the person's widths come back
    assert again.columns.person_sized and again.tree.header().sectionSize(Column.DEPENDS_ON) == 300
    again.columns.reset()
    assert not again.columns.person_sized and again.tree.header().sectionSize(Column.DEPENDS_ON) < 300
