"""The run view: totals, controls, a Gantt timeline and live streamed output."""

from ui.run_view.live_output import LiveOutputPane
from ui.run_view.model import RunModel, TaskRow
from ui.run_view.timeline import TimelineWidget
from ui.run_view.totals import RunTotals
from ui.run_view.view import STATES, RunView

__all__ = ["STATES", "LiveOutputPane", "RunModel", "RunTotals", "RunView", "TaskRow", "TimelineWidget"]
