"""A task's pattern in the plan tree: a small icon, a dim label after the title, a map's counts.

"review ×3 by reviewer", "map over Sources (≤300) · items 212/300 done, 3 failed": one
row however many items a map has (its items are listed, lazily, in the run view).
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from agents.plan.patterns import Map, Pattern, PatternKind, label
from agents.run.state import StepStatus, TaskState
from ui import theme
from ui.plan_tree.delegates import PaddedDelegate
from ui.plan_tree.runtime import icon_canvas

Index = QModelIndex | QPersistentModelIndex

PatternRole = Qt.ItemDataRole.UserRole + 2
"""data() role of the Task column: the pattern's label (and a map's counts), or None."""

ICON_COLOUR = "#5c6bc0"
KIND_TIPS = {
    PatternKind.REVIEW: "Review: the agent drafts, a reviewer approves or asks for a revision",
    PatternKind.VOTE: "Vote: several independent answers, then a judge or a majority",
    PatternKind.DEBATE: "Debate: agents argue in rounds, a judge decides",
    PatternKind.DELEGATE: "Delegate: the agent plans sub-tasks at run time and integrates their results",
    PatternKind.MAP: "Map: one agent per item of a list, in parallel",
    PatternKind.ROUTE: "Route: the agent picks one of several tasks; the others are skipped",
}
_icons: dict[str, QIcon] = {}


def _items(state: TaskState | None) -> tuple[int, int, int]:
    """(done, failed, total) of a map's item steps."""
    items = [s for key, s in state.steps.items() if key.startswith("item ")] if state is not None else []
    done = sum(s.status is StepStatus.DONE for s in items)
    failed = sum(s.status is StepStatus.FAILED for s in items)
    return done, failed, len(items)


def map_counts(state: TaskState | None) -> str:
    """ "items 212/300 done, 3 failed" from a map's item steps ("" before any item started)."""
    done, failed, total = _items(state)
    if not total:
        return ""
    return f"items {done}/{total} done" + (f", {failed} failed" if failed else "")


def map_fraction(pattern: Pattern | None, state: TaskState | None) -> str:
    """ "212/300" for the status cell of a map under way ("" otherwise)."""
    done, _failed, total = _items(state) if isinstance(pattern, Map) else (0, 0, 0)
    return f"{done}/{total}" if total else ""


def step_counts(state: TaskState | None) -> str:
    """ "3 steps" (with the running and failed ones) for a pattern other than map."""
    if state is None or not state.steps:
        return ""
    steps = state.steps.values()
    running = sum(s.status is StepStatus.RUNNING for s in steps)
    failed = sum(s.status is StepStatus.FAILED for s in steps)
    parts = [f"{len(state.steps)} step" + ("s" if len(state.steps) != 1 else "")]
    parts += [f"{running} running"] if running else []
    parts += [f"{failed} failed"] if failed else []
    return ", ".join(parts)


def pattern_text(pattern: Pattern | None, state: TaskState | None, titles: Mapping[str, str]) -> str | None:
    """What follows the title: the pattern's label, then what the run has done of it."""
    if pattern is None:
        return None
    progress = map_counts(state) if isinstance(pattern, Map) else step_counts(state)
    text = label(pattern, titles)
    return f"{text}  ·  {progress}" if progress else text


# --- the icon ------------------------------------------------------------------------------


def pattern_icon(kind: PatternKind) -> QIcon:
    """A small line drawing per pattern (fonts differ too much across systems for glyphs)."""
    if kind not in _icons:
        icon = QIcon(_drawn(kind, QColor(ICON_COLOUR)))
        icon.addPixmap(_drawn(kind, QColor("white")), QIcon.Mode.Selected)  # on the selection's blue
        _icons[kind] = icon
    return _icons[kind]


def _drawn(kind: PatternKind, colour: QColor) -> QPixmap:
    pixmap, painter = icon_canvas()
    painter.setPen(QPen(colour, 1.4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    _DRAW.get(kind, _draw_review)(painter, colour)
    painter.end()
    return pixmap


def _draw_review(p: QPainter, colour: QColor) -> None:
    """A circular arrow: draft, review, again."""
    p.drawArc(QRectF(2.5, 2.5, 9, 9), 100 * 16, 280 * 16)
    p.setBrush(colour)
    p.drawPolygon([QPointF(6.2, 0.8), QPointF(9.4, 2.6), QPointF(6.2, 4.6)])


def _draw_vote(p: QPainter, colour: QColor) -> None:
    """Three bars of a tally."""
    p.setBrush(colour)
    for x, top in ((2.5, 7.0), (6.0, 3.0), (9.5, 5.5)):
        p.drawRect(QRectF(x, top, 2.0, 12.0 - top))


def _draw_debate(p: QPainter, colour: QColor) -> None:
    """Two speech bubbles facing each other."""
    p.drawRoundedRect(QRectF(1.0, 1.5, 7.5, 5.5), 1.5, 1.5)
    p.drawRoundedRect(QRectF(5.5, 6.5, 7.5, 5.5), 1.5, 1.5)
    p.drawLine(QPointF(3.0, 7.0), QPointF(2.5, 9.0))
    p.drawLine(QPointF(11.0, 12.0), QPointF(11.5, 13.0))


def _draw_map(p: QPainter, colour: QColor) -> None:
    """One list fanned out to many agents."""
    p.setBrush(colour)
    p.drawEllipse(QPointF(2.5, 7.0), 1.6, 1.6)
    for y in (2.5, 7.0, 11.5):
        p.drawLine(QPointF(3.5, 7.0), QPointF(10.0, y))
        p.drawEllipse(QPointF(11.5, y), 1.4, 1.4)


def _draw_route(p: QPainter, colour: QColor) -> None:
    """A fork: one way in, two ways out."""
    path = QPainterPath(QPointF(1.5, 7.0))
    path.lineTo(5.5, 7.0)
    path.cubicTo(8.0, 7.0, 8.0, 3.0, 12.0, 3.0)
    path.moveTo(5.5, 7.0)
    path.cubicTo(8.0, 7.0, 8.0, 11.0, 12.0, 11.0)
    p.drawPath(path)


def _draw_delegate(p: QPainter, colour: QColor) -> None:
    """A manager above two sub-tasks."""
    p.drawRect(QRectF(4.5, 1.5, 5.0, 3.5))
    p.drawLine(QPointF(7.0, 5.0), QPointF(7.0, 7.5))
    p.drawLine(QPointF(3.5, 7.5), QPointF(10.5, 7.5))
    p.drawRect(QRectF(1.5, 9.0, 4.0, 3.5))
    p.drawRect(QRectF(8.5, 9.0, 4.0, 3.5))


_DRAW = {
    PatternKind.REVIEW: _draw_review,
    PatternKind.VOTE: _draw_vote,
    PatternKind.DEBATE: _draw_debate,
    PatternKind.MAP: _draw_map,
    PatternKind.ROUTE: _draw_route,
    PatternKind.DELEGATE: _draw_delegate,
}


# --- the Task column ---------------------------------------------------------------------


class TaskDelegate(PaddedDelegate):
    """Paints the title, then the pattern's label dimmed after it, where there is room."""

    GAP = 10

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        extra = index.data(PatternRole)
        if not extra:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else None
        if style is None:
            super().paint(painter, option, index)
            return
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, widget)
        metrics = opt.fontMetrics  # type: ignore[attr-defined]
        used = metrics.horizontalAdvance(opt.text) + self.GAP  # type: ignore[attr-defined]
        room = text_rect.adjusted(used, 0, -2, 0)
        if room.width() < 40:
            return  # the title needs the width
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        colour = opt.palette.highlightedText().color() if selected else theme.dim_text_colour()  # type: ignore[attr-defined]
        painter.save()
        painter.setPen(colour)
        painter.setFont(opt.font)  # type: ignore[attr-defined]
        text = metrics.elidedText(str(extra), Qt.TextElideMode.ElideRight, room.width())
        painter.drawText(room, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        size = super().sizeHint(option, index)
        extra = index.data(PatternRole)
        if extra:
            size.setWidth(size.width() + self.GAP + option.fontMetrics.horizontalAdvance(str(extra)))  # type: ignore[attr-defined]
        return size
