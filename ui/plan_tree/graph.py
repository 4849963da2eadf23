"""PlanGraphView: the plan as a graph beside the table, live while it runs.

Leaf tasks are nodes (the agent's colour down the side, the status as a dot and
a tint, a pattern's badge), groups are frames around their children, and each
`depends_on` link is an arrow from the dependency to the task that waits for it.
The layout (ui/plan_tree/graph_layout.py) is kept until the plan's structure
changes; a status, title or agent change repaints the one node it concerns, so a
300-task run costs a repaint per changed node. Clicking a node emits taskClicked;
the table's current task is drawn highlighted (`set_current`).
"""

from __future__ import annotations

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSettings,
    QSizeF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsView,
    QToolButton,
    QWidget,
)

from agents.plan import Plan
from agents.plan.patterns import Map, label
from app.paths import data_dir
from ui import theme
from ui.plan_tree.graph_items import EdgeItem, GroupItem, Look, TaskItem, edge_path
from ui.plan_tree.graph_layout import COL_GAP, NODE_H, NODE_W, Box, GraphLayout, layout, structure
from ui.plan_tree.model import PlanTreeModel
from ui.plan_tree.pattern_cells import map_fraction
from ui.plan_tree.runtime import display_status, status_text

MIN_SCALE, MAX_SCALE = 0.15, 3.0
MIN_FIT = 0.75
"""Fitting a large plan stops shrinking here (titles stay readable) and shows its start."""
MARGIN = 24.0
EMPTY_TEXT = "The plan's tasks and their dependencies show here."


class PlanGraphView(QGraphicsView):
    """Draws a PlanTreeModel's plan as a layered graph; pan by dragging, zoom with Ctrl+wheel."""

    taskClicked = Signal(str)
    """The person clicked the node (or a group's frame) of this task id."""

    def __init__(self, model: PlanTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._layout: GraphLayout | None = None
        self._structure: tuple[object, ...] | None = None
        self._items: dict[str, TaskItem | GroupItem] = {}
        self._edges: dict[str, list[EdgeItem]] = {}
        self._current: str | None = None
        self._stale = True
        self._auto_fit = True
        """Fit the plan to the view until the person zooms."""
        self._fit_whole = False
        """The last fit was the person's (all of the plan, however small)."""
        self._fit_due = True
        """A new plan: the next layout fits it to the view."""
        self.setScene(QGraphicsScene(self))
        self.setAccessibleName("Plan graph")
        self.setToolTip("")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self._soon = QTimer(self, singleShot=True, interval=0)  # once per burst of edits
        self._soon.timeout.connect(self._rebuild_if_shown)
        model.modelReset.connect(self._on_model_reset)
        model.planChanged.connect(self._on_plan_changed)
        model.dataChanged.connect(self._on_data_changed)
        self._build_actions()
        self.fit_button = QToolButton(self)
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show the whole plan (Ctrl+0). Ctrl+wheel zooms; drag to move.")
        self.fit_button.clicked.connect(lambda: self.fit(whole=True))

    def _build_actions(self) -> None:
        for text, keys, slot in (
            ("Zoom in", QKeySequence.StandardKey.ZoomIn, lambda: self.zoom_by(1.25)),
            ("Zoom out", QKeySequence.StandardKey.ZoomOut, lambda: self.zoom_by(0.8)),
            ("Fit the plan", QKeySequence("Ctrl+0"), lambda: self.fit(whole=True)),
        ):
            action = QAction(text, self)
            action.setShortcuts(keys) if isinstance(keys, QKeySequence.StandardKey) else action.setShortcut(keys)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            action.triggered.connect(slot)
            self.addAction(action)

    # --- public -------------------------------------------------------------------------------

    @property
    def graph_layout(self) -> GraphLayout | None:
        """Where each task is (None until the graph was first shown or refreshed)."""
        return self._layout

    def item(self, task_id: str) -> TaskItem | GroupItem | None:
        return self._items.get(task_id)

    def edges(self) -> list[EdgeItem]:
        return list(dict.fromkeys(e for edges in self._edges.values() for e in edges))

    def current(self) -> str | None:
        return self._current

    def refresh(self) -> None:
        """Lay the plan out now if its structure changed (otherwise only repaint what changed)."""
        self._soon.stop()
        plan = self._model.to_plan()
        key = structure(plan)
        if key == self._structure and not self._stale:
            self._refresh_looks(self._items)
            return
        self._stale = False
        self._structure = key
        self._build(plan)

    def set_current(self, task_id: str | None) -> None:
        """Highlight the table's current task and its arrows; scroll it into view."""
        if task_id == self._current:
            return
        self._light(self._current, False)
        self._current = task_id
        item = self._light(task_id, True)
        if item is not None and self.isVisible():
            self._show_item(item)

    def fit(self, whole: bool = False) -> None:
        """Show the plan no larger than life: all of it if `whole` (the person asked), else all
        of it that fits at MIN_FIT, from its start (small text on its own is no help)."""
        rect = self.scene().sceneRect()
        view = self.viewport().rect()
        if rect.isEmpty() or view.isEmpty():
            return
        least = MIN_SCALE if whole else MIN_FIT
        scale = max(least, min(1.0, view.width() / rect.width(), view.height() / rect.height()))
        self.resetTransform()
        self.scale(scale, scale)
        seen_w, seen_h = view.width() / scale, view.height() / scale
        x = rect.center().x() if seen_w >= rect.width() else rect.left() + seen_w / 2
        y = rect.center().y() if seen_h >= rect.height() else rect.top() + seen_h / 2
        self.centerOn(QPointF(x, y))
        self._auto_fit, self._fit_whole = True, whole
        current = self._items.get(self._current) if self._current is not None else None
        if current is not None:  # a large plan: its start, and the table's task
            self._show_item(current)

    def zoom_by(self, factor: float) -> None:
        current = self.transform().m11()
        wanted = min(MAX_SCALE, max(MIN_SCALE, current * factor))
        self.scale(wanted / current, wanted / current)
        self._auto_fit = False

    def scale_factor(self) -> float:
        return self.transform().m11()

    # --- model signals -----------------------------------------------------------------------

    def _on_model_reset(self) -> None:
        self._stale = True
        self._auto_fit, self._fit_whole, self._fit_due = True, False, True  # a new plan: show it afresh
        self._soon.start()

    def _on_plan_changed(self, _plan: Plan) -> None:
        self._soon.start()

    def _on_data_changed(self, first: QModelIndex, last: QModelIndex, _roles: list[int] | None = None) -> None:
        if self._stale or not self._items:
            return  # the next layout reads everything afresh
        parent = first.parent()
        changed: dict[str, TaskItem | GroupItem] = {}
        for row in range(first.row(), last.row() + 1):
            task_id = self._model.task_id_at(self._model.index(row, 0, parent))
            if task_id is not None and task_id in self._items:
                changed[task_id] = self._items[task_id]
        self._refresh_looks(changed)

    def _rebuild_if_shown(self) -> None:
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True  # laid out when it is shown

    # --- building ------------------------------------------------------------------------------

    def _build(self, plan: Plan) -> None:
        self._items, self._edges = {}, {}  # the scene deletes the old items
        scene = self.scene()
        scene.clear()
        self._layout = graph = layout(plan)
        for task_id, box in graph.groups.items():
            self._add(GroupItem(task_id, box, self._look(task_id), graph.group_depth[task_id]))
        for task_id, box in graph.nodes.items():
            self._add(TaskItem(task_id, box, self._look(task_id)))
        blockers = _by_column(graph.nodes)
        for edge in graph.edges:
            source, target = graph.box(edge.source), graph.box(edge.target)
            assert source is not None and target is not None
            ys = (graph.anchor(edge.source), graph.anchor(edge.target))
            blocked = not edge.backwards and _blocked(source, target, ys, blockers)
            path = edge_path(source, target, ys, edge.backwards, blocked)  # the layout's top is 0
            item = EdgeItem(edge.source, edge.target, path, edge.backwards)
            scene.addItem(item)
            self._edges.setdefault(edge.source, []).append(item)
            self._edges.setdefault(edge.target, []).append(item)
        bounds = scene.itemsBoundingRect()
        scene.setSceneRect(bounds.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN) if not bounds.isEmpty() else QRectF())
        self.fit_button.setVisible(bool(self._items))
        current, self._current = self._current, None
        self.set_current(current if current in self._items else None)
        if self._auto_fit and self._fit_due:  # an edit keeps the view where the person left it
            self.fit(self._fit_whole)
        self._fit_due = False

    def _show_item(self, item: TaskItem | GroupItem) -> None:
        """Scroll to a task's title (a big group's frame may be taller than the view)."""
        top_left = item.sceneBoundingRect()
        top_left.setSize(top_left.size().boundedTo(QSizeF(NODE_W, NODE_H)))
        self.ensureVisible(top_left, 40, 40)

    def _add(self, item: TaskItem | GroupItem) -> None:
        self.scene().addItem(item)
        self._items[item.task_id] = item

    def _light(self, task_id: str | None, lit: bool) -> TaskItem | GroupItem | None:
        item = self._items.get(task_id) if task_id is not None else None
        if item is not None:
            item.set_current(lit)
            for edge in self._edges.get(item.task_id, ()):
                edge.set_lit(lit)
        return item

    def _refresh_looks(self, items: dict[str, TaskItem | GroupItem]) -> None:
        for task_id, item in items.items():
            if self._model.has_task(task_id):
                item.set_look(self._look(task_id))

    def _look(self, task_id: str) -> Look:
        return look_of(self._model, task_id)

    # --- events ----------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale or self._soon.isActive():
            self.refresh()
        elif self._auto_fit:
            self.fit(self._fit_whole)

    def resizeEvent(self, event: QEvent) -> None:  # type: ignore[override]
        super().resizeEvent(event)  # type: ignore[arg-type]
        corner = self.viewport().geometry().topRight()  # over the graph, clear of the scroll bar
        self.fit_button.adjustSize()
        self.fit_button.move(corner.x() - self.fit_button.width() - 6, corner.y() + 6)
        self.fit_button.raise_()
        if self._auto_fit and self._layout is not None:
            self.fit(self._fit_whole)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(1.0015 ** event.angleDelta().y())
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        task_id = self._task_at(event.position().toPoint()) if event.button() == Qt.MouseButton.LeftButton else None
        if task_id is None:
            super().mousePressEvent(event)  # empty space: drag to pan
            return
        event.accept()
        self.set_current(task_id)
        self.taskClicked.emit(task_id)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._task_at(event.position().toPoint()) is None:
            self.fit(whole=True)  # double-click on empty space: the whole plan
        event.accept()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            for item in self.scene().items():
                item.update()  # cached nodes repaint in the new colours

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        if self._items or self._stale:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(theme.dim_text_colour())
        painter.drawText(QRectF(self.viewport().rect()), int(Qt.AlignmentFlag.AlignCenter), EMPTY_TEXT)
        painter.restore()

    def _task_at(self, point: object) -> str | None:
        item: QGraphicsItem | None = self.itemAt(point)  # type: ignore[call-overload]
        while item is not None and not isinstance(item, TaskItem | GroupItem):
            item = item.parentItem()
        return item.task_id if isinstance(item, TaskItem | GroupItem) else None


def look_of(model: PlanTreeModel, task_id: str) -> Look:
    """What a task's node shows: title, agent, the run's status (or the pattern), problems."""
    task = model.task(task_id)
    state = model.runtime(task_id)
    status = display_status(state) if state is not None else None
    words = status_text(state) if state is not None else ""
    if isinstance(task.pattern, Map) and (fraction := map_fraction(task.pattern, state)):
        words = f"{words} {fraction}"
    titles = model.titles() if isinstance(task.pattern, Map) else {}
    kind = label(task.pattern, titles)
    problems = model.task_problems(task_id)
    if task.is_group:
        line = ""
    elif words:  # what changes first: the agent's name can give way
        line = f"{words} · {task.agent}"
    elif kind:
        line = f"{task.agent} · {kind}"
    else:
        line = f"{task.agent} · asks before it runs" if task.requires_approval else task.agent
    tip = [f"{task.title} ({task.id})", line or "a group: done when its sub-tasks are", kind, *problems]
    return Look(task.title, "" if task.is_group else task.agent, status, line,
                task.pattern.kind if task.pattern is not None else None, bool(problems),
                "\n".join(t for t in tip if t))


def _by_column(nodes: dict[str, Box]) -> dict[int, list[Box]]:
    out: dict[int, list[Box]] = {}
    for box in nodes.values():
        out.setdefault(round(box.x / (NODE_W + COL_GAP)), []).append(box)
    return out


def _blocked(source: Box, target: Box, ys: tuple[float, float], by_column: dict[int, list[Box]]) -> bool:
    """Whether a direct curve from source to target would pass behind a task between them."""
    step = NODE_W + COL_GAP
    lo, hi = int(source.right // step) + 1, round(target.x / step)  # the columns strictly between
    path = edge_path(source, target, ys, backwards=False, blocked=False)
    points = [path.pointAtPercent(t / 24) for t in range(1, 24)]
    for column in range(lo, hi):
        for box in by_column.get(column, ()):
            if any(box.x <= p.x() <= box.right and box.y - 2 <= p.y() <= box.y + box.h + 2 for p in points):
                return True
    return False



VIEW_KEY = "plan_pane/view"
"""window.ini: "graph" when the person last chose the graph over the table."""


def _settings() -> QSettings:
    return QSettings(str(data_dir() / "window.ini"), QSettings.Format.IniFormat)


def graph_chosen() -> bool:
    """Whether the plan pane showed the graph when the person last chose."""
    return _settings().value(VIEW_KEY, "table") == "graph"


def remember_choice(graph: bool) -> None:
    _settings().setValue(VIEW_KEY, "graph" if graph else "table")
