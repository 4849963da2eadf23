"""The plan graph (issue 17): nodes and arrows match the plan, colours follow agents and
the run's statuses, a click selects the task in the table and back, the choice is kept."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QStyleOptionGraphicsItem

from agents.events import RunStarted, TaskFinished, TaskStarted
from agents.plan import Plan, Task
from agents.plan.roster import Roster, load_roster
from app.paths import data_dir
from ui import theme
from ui.plan_tree import PlanTreeModel, PlanTreeView
from ui.plan_tree.graph import VIEW_KEY, PlanGraphView
from ui.plan_tree.graph_items import STRIPE, GroupItem, TaskItem
from ui.plan_tree.graph_layout import Box, layout, leaf_columns

RUN = {"run_id": "r1"}


def report_plan() -> Plan:
    """Research (a group of two) -> compare -> a vote -> write with a review; a map off the survey."""
    return Plan.from_dict({"goal": "A report on note-taking apps", "tasks": [
        {"id": "research", "title": "Research", "agent": "researcher", "children": [
            {"id": "survey", "title": "Survey the market", "agent": "researcher"},
            {"id": "pricing", "title": "Collect pricing", "agent": "researcher"},
        ]},
        {"id": "profiles", "title": "Profile each app", "agent": "researcher", "depends_on": ["survey"],
         "pattern": "map", "over": "survey", "max_items": 5},
        {"id": "compare", "title": "Compare", "agent": "analyst", "depends_on": ["research", "profiles"]},
        {"id": "pick", "title": "Pick one", "agent": "analyst", "depends_on": ["compare"],
         "pattern": "vote", "voters": ["analyst", "writer"], "judge": "reviewer"},
        {"id": "write", "title": "Write the report", "agent": "writer", "depends_on": ["compare", "pick"],
         "pattern": "review", "reviewer": "reviewer", "max_rounds": 2},
    ]})


def shown_graph(qtbot, plan: Plan, roster: Roster | None = None) -> PlanTreeView:  # type: ignore[no-untyped-def]
    view = PlanTreeView(PlanTreeModel(plan, roster or load_roster()))
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show_graph(True)
    view.show()
    qtbot.waitUntil(lambda: view.graph.graph_layout is not None)
    return view


def pixel(item: TaskItem, x: float, y: float) -> QColor:
    """The colour `item` paints at (x, y) of its own box."""
    image = QImage(int(item.rect.width()), int(item.rect.height()), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    item.paint(painter, QStyleOptionGraphicsItem(), None)
    painter.end()
    return image.pixelColor(int(x), int(y))


def close(a: QColor, b: QColor, slack: int = 8) -> bool:
    return all(abs(p - q) <= slack for p, q in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def overlaps(a: Box, b: Box) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.y + b.h and b.y < a.y + a.h


# --- what is drawn ------------------------------------------------------------------------------


def test_nodes_frames_and_arrows_match_the_plan(qtbot) -> None:
    plan = report_plan()
    graph = shown_graph(qtbot, plan).graph
    drawn = graph.graph_layout
    assert drawn is not None
    assert set(drawn.nodes) == {t.id for t in plan.leaves()}
    assert set(drawn.groups) == {"research"}
    wanted = {(dep, t.id) for t in plan.iter_tasks() for dep in t.depends_on}
    assert {(e.source, e.target) for e in graph.edges()} == wanted
    assert {(e.source, e.target) for e in drawn.edges} == wanted and len(graph.edges()) == len(wanted)
    for edge in drawn.edges:  # every arrow runs left to right, from the dependency to its dependant
        source, target = drawn.box(edge.source), drawn.box(edge.target)
        assert source is not None and target is not None
        assert not edge.backwards and source.right < target.x
    columns = drawn.columns
    assert columns["survey"] == columns["pricing"] == 0
    assert columns["profiles"] == 1 and columns["compare"] == 2 and columns["pick"] == 3 and columns["write"] == 4
    frame = drawn.groups["research"]
    for task_id, box in drawn.nodes.items():  # the frame holds its children and nothing else
        inside = frame.x <= box.x and box.right <= frame.right and frame.y <= box.y and box.y + box.h <= frame.y + frame.h
        assert inside == (task_id in {"survey", "pricing"}), task_id
    items = {task_id: graph.item(task_id) for task_id in drawn.nodes}
    assert all(isinstance(item, TaskItem) for item in items.values())
    assert isinstance(graph.item("research"), GroupItem)
    assert graph.item("write").look.pattern == "review"  # type: ignore[union-attr]
    assert graph.item("compare").look.pattern is None  # type: ignore[union-attr]


def test_a_nodes_colour_follows_its_agent(qtbot) -> None:
    view = shown_graph(qtbot, report_plan())
    item = view.graph.item("compare")
    assert isinstance(item, TaskItem)
    middle = item.rect.height() / 2
    assert close(pixel(item, STRIPE / 2, middle), theme.role_colour("analyst"))
    assert view.model.reassign("compare", "writer")
    assert item.look.agent == "writer"
    assert close(pixel(item, STRIPE / 2, middle), theme.role_colour("writer"))
    assert view.graph.item("compare") is item  # a new agent is not a new layout


def test_statuses_follow_the_run_and_only_the_changed_node_repaints(qtbot) -> None:
    view = shown_graph(qtbot, report_plan())
    model, graph = view.model, view.graph
    item = graph.item("survey")
    assert isinstance(item, TaskItem)
    fill_before = pixel(item, item.rect.width() / 2, 3)
    model.apply_event(RunStarted(**RUN, goal="g", plan=report_plan().to_dict()))
    model.flush_runtime()
    assert graph.item("compare").look.status == "pending"  # type: ignore[union-attr]
    before = {task_id: graph.item(task_id).look for task_id in ("pricing", "compare", "write")}  # type: ignore[union-attr]
    with qtbot.waitSignal(model.dataChanged):
        model.apply_event(TaskStarted(**RUN, task_id="survey", agent="researcher", attempt=1))
    assert item.look.status == "running" and "running" in item.look.line
    running_fill = pixel(item, item.rect.width() / 2, 3)
    assert running_fill != fill_before
    with qtbot.waitSignal(model.dataChanged):
        model.apply_event(TaskFinished(**RUN, task_id="survey", output="ok", attempts=1, prompt_tokens=5,
                                       completion_tokens=5, cost=0.0, started=0, finished=1))
    assert item.look.status == "completed"
    assert close(pixel(item, item.rect.width() / 2, 3),
                 theme.mix(QApplication.palette().base().color(), theme.status_colour("completed"), 0.13))
    # the others were asked, found nothing new and kept their look (no repaint)
    assert all(graph.item(task_id).look is look for task_id, look in before.items())  # type: ignore[union-attr]


def test_a_structural_edit_lays_out_again_a_rename_does_not(qtbot) -> None:
    view = shown_graph(qtbot, report_plan())
    model, graph = view.model, view.graph
    first = graph.graph_layout
    assert model.rename("pick", "Pick the winner")
    QApplication.processEvents()
    assert graph.graph_layout is first and graph.item("pick").look.title == "Pick the winner"  # type: ignore[union-attr]
    assert model.set_depends_on("write", ["pick"])
    qtbot.waitUntil(lambda: graph.graph_layout is not first)
    assert {(e.source, e.target) for e in graph.edges() if e.target == "write"} == {("pick", "write")}
    model.undo_stack.undo()
    qtbot.waitUntil(lambda: len([e for e in graph.edges() if e.target == "write"]) == 2)


# --- table and graph together --------------------------------------------------------------------


def test_clicking_a_node_selects_the_task_in_the_table_and_back(qtbot) -> None:
    view = shown_graph(qtbot, report_plan())
    graph = view.graph
    for task_id in ("pick", "research"):  # a node, then a group's frame (its title line)
        item = graph.item(task_id)
        assert item is not None
        graph.ensureVisible(item)
        spot = item.mapToScene(item.rect.center()) if task_id != "research" else item.mapToScene(40, 10)
        with qtbot.waitSignal(graph.taskClicked):
            QTest.mouseClick(graph.viewport(), Qt.MouseButton.LeftButton, pos=graph.mapFromScene(spot))
        assert view.current_task_id() == task_id
        assert graph.current() == task_id and item.current
    view.select_task("compare")  # the table's selection moves the graph's highlight
    assert graph.current() == "compare"
    assert graph.item("compare").current and not graph.item("research").current  # type: ignore[union-attr]
    lit = {(e.source, e.target) for e in graph.edges() if e.lit}
    assert lit == {("research", "compare"), ("profiles", "compare"), ("compare", "pick"), ("compare", "write")}
    # an empty spot is no task: the selection stays
    QTest.mouseClick(graph.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(2, graph.viewport().height() - 3))
    assert view.current_task_id() == "compare"


def test_the_table_or_graph_choice_is_kept(qtbot) -> None:
    view = PlanTreeView(PlanTreeModel(report_plan(), load_roster()))
    qtbot.addWidget(view)
    assert not view.showing_graph()  # the table, the first time
    view.graph_view_action.trigger()
    assert view.showing_graph() and view.tasks_stack.currentWidget() is view.graph
    settings = QSettings(str(data_dir() / "window.ini"), QSettings.Format.IniFormat)
    assert settings.value(VIEW_KEY) == "graph"
    again = PlanTreeView(PlanTreeModel(report_plan(), load_roster()))
    qtbot.addWidget(again)
    assert again.showing_graph() and again.graph_view_action.isChecked()
    again.table_view_action.trigger()
    assert not again.showing_graph()
    third = PlanTreeView(PlanTreeModel(report_plan(), load_roster()))
    qtbot.addWidget(third)
    assert not third.showing_graph()


def test_zoom_with_ctrl_and_fit(qtbot) -> None:
    graph = shown_graph(qtbot, report_plan()).graph
    start = graph.scale_factor()
    graph.zoom_by(2.0)
    assert graph.scale_factor() > start
    graph.fit(whole=True)
    rect = graph.mapFromScene(graph.scene().sceneRect()).boundingRect()
    assert graph.viewport().rect().adjusted(-2, -2, 2, 2).contains(rect)


# --- plans that are large or wrong -------------------------------------------------------------


def big_plan(groups: int = 10, size: int = 30) -> Plan:
    """300 tasks: ten groups of thirty, each a chain with a fan-in, each group after the one before."""
    tasks = []
    for g in range(groups):
        children = []
        for i in range(size):
            deps = (f"g{g}t{i - 1}",) if i % 3 else ()
            if i == size - 1:
                deps = tuple(f"g{g}t{j}" for j in range(0, size - 1, 3))
            children.append(Task(f"g{g}t{i}", f"Step {i} of part {g}", agent=("researcher", "analyst", "writer")[i % 3],
                                 depends_on=deps))
        tasks.append(Task(f"g{g}", f"Part {g}", agent="writer", children=tuple(children),
                          depends_on=(f"g{g - 1}",) if g else ()))
    return Plan(goal="big", tasks=tuple(tasks))


def test_a_300_task_plan_lays_out_and_updates_one_node(qtbot) -> None:
    plan = big_plan()
    assert len(plan.leaves()) == 300
    view = shown_graph(qtbot, plan)
    drawn = view.graph.graph_layout
    assert drawn is not None and len(drawn.nodes) == 300 and len(drawn.groups) == 10
    boxes = list(drawn.nodes.values())
    by_column: dict[float, list[Box]] = {}
    for box in boxes:
        by_column.setdefault(box.x, []).append(box)
    for column in by_column.values():  # no two nodes on top of each other
        column.sort(key=lambda b: b.y)
        assert all(a.y + a.h <= b.y for a, b in zip(column, column[1:], strict=False))
    frames = list(drawn.groups.values())
    assert not any(overlaps(a, b) for i, a in enumerate(frames) for b in frames[i + 1:])
    assert all(not e.backwards for e in drawn.edges)
    view.model.apply_event(TaskStarted(**RUN, task_id="g4t7", agent="analyst", attempt=1))
    view.model.flush_runtime()
    assert view.graph.item("g4t7").look.status == "running"  # type: ignore[union-attr]


def test_a_cycle_or_unknown_dependency_still_draws() -> None:
    plan = Plan(goal="g", tasks=(
        Task("a", "A", depends_on=("c",)),
        Task("b", "B", depends_on=("a", "ghost")),
        Task("c", "C", depends_on=("b",)),
    ))
    drawn = layout(plan)
    assert set(drawn.nodes) == {"a", "b", "c"}
    assert {(e.source, e.target) for e in drawn.edges} == {("c", "a"), ("a", "b"), ("b", "c")}
    assert sum(e.backwards for e in drawn.edges) == 1  # the arrow that closes the cycle


def test_children_inherit_their_groups_dependencies() -> None:
    plan = Plan(goal="g", tasks=(
        Task("first", "First"),
        Task("group", "Group", depends_on=("first",), children=(Task("x", "X"), Task("y", "Y", depends_on=("x",)))),
        Task("last", "Last", depends_on=("group",)),
    ))
    assert leaf_columns(plan) == {"first": 0, "x": 1, "y": 2, "last": 3}
    assert {(e.source, e.target) for e in layout(plan).edges} == {("first", "group"), ("x", "y"), ("group", "last")}


def test_an_empty_plan_shows_a_hint(qtbot) -> None:
    graph = PlanGraphView(PlanTreeModel(Plan(goal=""), load_roster()))
    qtbot.addWidget(graph)
    graph.resize(400, 300)
    graph.show()
    qtbot.waitUntil(lambda: graph.graph_layout is not None)
    assert graph.edges() == [] and graph.grab().width() == 400
