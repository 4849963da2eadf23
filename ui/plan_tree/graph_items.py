"""The plan graph's items: a task's node, a group's frame, a dependency's arrow.

Items paint from a `Look` (what the node says) and the application's palette at
paint time, so a status change repaints one node and a theme change needs no rebuild.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from agents.plan.patterns import PatternKind
from ui import theme
from ui.plan_tree.graph_layout import COL_GAP, NODE_H, ROW_GAP, Box
from ui.plan_tree.pattern_cells import pattern_icon
from ui.plan_tree.runtime import PROBLEM_COLOUR, status_icon

STRIPE = 6.0
"""Width of the agent's colour down a node's left side."""
RADIUS = 7.0
ICON = 14
_Z_GROUP, _Z_EDGE, _Z_NODE = 0.0, 10.0, 20.0


@dataclass(frozen=True)
class Look:
    """What a node or frame shows; items repaint only when it changes."""

    title: str
    agent: str = ""
    status: str | None = None
    """A display status ("running", "retrying", ...), None before the run touches the task."""
    line: str = ""
    """The second line: agent, then status or pattern."""
    pattern: PatternKind | None = None
    problem: bool = False
    tip: str = ""


def _palette() -> QPalette:
    return QGuiApplication.palette()


class _Boxed(QGraphicsItem):
    """An item drawn in a Box, showing a Look, highlighted while its task is current."""

    def __init__(self, task_id: str, box: Box, look: Look) -> None:
        super().__init__()
        self.task_id = task_id
        self.rect = QRectF(0, 0, box.w, box.h)
        self.look = look
        self.current = False
        self.setPos(box.x, box.y)
        self.setToolTip(look.tip)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-2, -2, 2, 2)

    def set_look(self, look: Look) -> bool:
        """Show `look`; True (and a repaint of this item only) if it differs."""
        if look == self.look:
            return False
        self.look = look
        self.setToolTip(look.tip)
        self.update()
        return True

    def set_current(self, current: bool) -> None:
        if current != self.current:
            self.current = current
            self.update()


class TaskItem(_Boxed):
    """A leaf task: a rounded box with the agent's stripe, title, status and pattern badge."""

    def __init__(self, task_id: str, box: Box, look: Look) -> None:
        super().__init__(task_id, box, look)
        self.setZValue(_Z_NODE)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # panning redraws nothing

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        palette, look = _palette(), self.look
        base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        shape = QPainterPath()
        shape.addRoundedRect(self.rect.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)
        painter.fillPath(shape, self._fill(base))
        painter.save()
        painter.setClipPath(shape)
        painter.fillRect(QRectF(0, 0, STRIPE, self.rect.height()), theme.role_colour(look.agent))
        painter.restore()
        painter.setPen(self._border(palette))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(shape)
        self._paint_text(painter, widget, text)

    def _fill(self, base: QColor) -> QColor:
        if self.look.status is None or self.look.status == "pending":
            return base
        amount = 0.24 if theme.is_dark_mode() else 0.13
        return theme.mix(base, theme.status_colour(self.look.status), amount)

    def _border(self, palette: QPalette) -> QPen:
        if self.current:
            return QPen(palette.color(QPalette.ColorRole.Highlight), 2.6)
        if self.look.problem:
            return QPen(QColor(PROBLEM_COLOUR), 1.6, Qt.PenStyle.DashLine)
        if self.look.status in ("running", "retrying", "waiting_approval"):
            return QPen(theme.status_colour(self.look.status), 1.8)
        base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
        return QPen(theme.mix(base, text, 0.3), 1.0)

    def _paint_text(self, painter: QPainter, widget: QWidget | None, text: QColor) -> None:
        font = QFont(widget.font() if widget is not None else QGuiApplication.font())
        left, right = STRIPE + 8, self.rect.width() - 8
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        bold = QFont(font)
        bold.setWeight(QFont.Weight.DemiBold)
        painter.setFont(bold)
        painter.setPen(QColor(PROBLEM_COLOUR) if self.look.problem else text)
        title = QFontMetricsF(bold).elidedText(self.look.title or "(untitled)", Qt.TextElideMode.ElideRight,
                                               right - left)
        painter.drawText(QRectF(left, 5, right - left, 20), flags, title)
        # the second line: the status's dot, then the words, then the pattern's badge
        small = QFont(font)
        if small.pointSizeF() > 0:
            small.setPointSizeF(small.pointSizeF() - 1)
        icon = status_icon(self.look.status)
        if icon is not None:
            icon.paint(painter, QRect(int(left) - 2, int(NODE_H) - 22, ICON, ICON))
            left += ICON + 1
        if self.look.pattern is not None:
            pattern_icon(self.look.pattern).paint(painter, QRect(int(right) - ICON, int(NODE_H) - 22, ICON, ICON))
            right -= ICON + 4
        painter.setFont(small)
        painter.setPen(theme.dim_text_colour())
        line = QFontMetricsF(small).elidedText(self.look.line, Qt.TextElideMode.ElideRight, right - left)
        painter.drawText(QRectF(left, NODE_H - 25, right - left, 20), flags, line)


class GroupItem(_Boxed):
    """A group: a labelled frame around its children."""

    def __init__(self, task_id: str, box: Box, look: Look, level: int) -> None:
        super().__init__(task_id, box, look)
        self.level = level
        self.setZValue(_Z_GROUP + level)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        palette = _palette()
        base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = self.rect.adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setBrush(theme.mix(base, text, 0.035 + 0.025 * self.level))
        if self.current:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2.2))
        elif self.look.problem:
            painter.setPen(QPen(QColor(PROBLEM_COLOUR), 1.4, Qt.PenStyle.DashLine))
        else:
            painter.setPen(QPen(theme.mix(base, text, 0.22), 1.0))
        painter.drawRoundedRect(frame, RADIUS + 2, RADIUS + 2)
        left = 10.0
        icon = status_icon(self.look.status)
        if icon is not None:
            icon.paint(painter, QRect(int(left), 6, ICON, ICON))
            left += ICON + 4
        font = QFont(widget.font() if widget is not None else QGuiApplication.font())
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        painter.setPen(theme.dim_text_colour())
        width = self.rect.width() - left - 10
        title = QFontMetricsF(font).elidedText(self.look.title, Qt.TextElideMode.ElideRight, width)
        painter.drawText(QRectF(left, 3, width, 20),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), title)


class EdgeItem(QGraphicsItem):
    """An arrow from a dependency to its dependant, routed around the tasks between them."""

    def __init__(self, source: str, target: str, path: QPainterPath, backwards: bool) -> None:
        super().__init__()
        self.source, self.target = source, target
        self.path = path
        self.backwards = backwards
        self.lit = False
        self.setZValue(_Z_EDGE)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._bounds = path.boundingRect().adjusted(-8, -8, 8, 8)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def set_lit(self, lit: bool) -> None:
        """Draw in the highlight colour: it touches the current task."""
        if lit != self.lit:
            self.lit = lit
            self.setZValue(_Z_EDGE + (1 if lit else 0))
            self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        palette = _palette()
        if self.backwards:
            colour = QColor(PROBLEM_COLOUR)
        elif self.lit:
            colour = palette.color(QPalette.ColorRole.Highlight)
        else:
            colour = theme.mix(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.5)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        style = Qt.PenStyle.DashLine if self.backwards else Qt.PenStyle.SolidLine
        painter.setPen(QPen(colour, 2.2 if self.lit else 1.4, style))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPolygon(_arrow_head(self.path))


def _arrow_head(path: QPainterPath) -> QPolygonF:
    tip = path.pointAtPercent(1.0)
    angle = math.radians(path.angleAtPercent(1.0))
    dx, dy = math.cos(angle), -math.sin(angle)  # Qt's angles turn counter-clockwise, y grows down
    back = QPointF(tip.x() - 9 * dx, tip.y() - 9 * dy)
    side = QPointF(-dy * 4.5, dx * 4.5)
    return QPolygonF([tip, back + side, back - side])


def edge_path(source: Box, target: Box, ys: tuple[float, float], backwards: bool, blocked: bool,
              top: float = 0.0) -> QPainterPath:
    """From the source's right side to the target's left (at heights `ys`); over the row when
    tasks stand between; a backwards arrow (a cycle) over the whole graph, whose top is `top`."""
    start, end = QPointF(source.right, ys[0]), QPointF(target.x, ys[1])
    path = QPainterPath(start)
    if backwards:  # out to the right, up over everything, and into the target from the left
        lane = min(top, source.y, target.y) - ROW_GAP
        out_x, in_x = start.x() + COL_GAP / 3, end.x() - COL_GAP / 3
        _rounded(path, [QPointF(out_x, start.y()), QPointF(out_x, lane), QPointF(in_x, lane),
                        QPointF(in_x, end.y()), end])
        return path
    if not blocked:
        bend = (end.x() - start.x()) / 2
        path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()), end)
        return path
    lane = min(source.y, target.y) - ROW_GAP / 2
    out_x, in_x = start.x() + COL_GAP / 2, end.x() - COL_GAP / 2
    _rounded(path, [QPointF(out_x, start.y()), QPointF(out_x, lane), QPointF(in_x, lane),
                    QPointF(in_x, end.y()), end])
    return path


def _rounded(path: QPainterPath, points: list[QPointF], radius: float = 10.0) -> None:
    """Line through `points` with the corners rounded."""
    here = path.currentPosition()
    for i, corner in enumerate(points[:-1]):
        after = points[i + 1]
        r = min(radius, _length(here, corner) / 2, _length(corner, after) / 2)
        path.lineTo(_towards(corner, here, r))
        path.quadTo(corner, _towards(corner, after, r))
        here = corner
    path.lineTo(points[-1])


def _length(a: QPointF, b: QPointF) -> float:
    return math.hypot(b.x() - a.x(), b.y() - a.y())


def _towards(origin: QPointF, to: QPointF, distance: float) -> QPointF:
    length = _length(origin, to)
    if length == 0:
        return QPointF(origin)
    t = distance / length
    return QPointF(origin.x() + (to.x() - origin.x()) * t, origin.y() + (to.y() - origin.y()) * t)
