"""Run warnings (an MCP server that did not start) as a banner in the run view."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.events import RunStarted, RunWarning, TaskStarted, TokenDelta
from agents.run.state import Change
from ui.run_view import RunView
from ui.run_view.model import RunModel
from ui.run_view.view import WARNING_MARK, WARNINGS_SHOWN

RUN = "r1"
T0 = 1_700_000_000.0
PLAN = {"goal": "g", "tasks": [{"id": "a", "title": "Survey the market", "agent": "researcher"}]}
NOT_STARTED = ("MCP server 'files' is not available, its tools are left out: "
               "MCP server 'files' did not start: McpError: Connection closed")


def started(resumed: bool = False) -> RunStarted:
    return RunStarted(run_id=RUN, ts=T0, goal="g", plan=PLAN, resumed=resumed)


@pytest.fixture
def view(qtbot) -> RunView:
    widget = RunView(clock=lambda: T0 + 5)
    qtbot.addWidget(widget)
    widget.resize(900, 520)
    widget.show()
    qtbot.waitExposed(widget)
    widget.apply_event(started())
    return widget


def test_a_warning_shows_at_once_and_stays(qtbot, view: RunView, tmp_path: Path):
    assert view.warnings.isHidden()
    view.apply_event(RunWarning(run_id=RUN, ts=T0, message=NOT_STARTED, source="tools"))
    assert view.warnings.isVisible()  # no refresh tick needed
    assert view.warnings.text() == WARNING_MARK + NOT_STARTED
    view.apply_event(TaskStarted(run_id=RUN, ts=T0, task_id="a", agent="researcher", attempt=1))
    view.apply_event(TokenDelta(run_id=RUN, ts=T0, task_id="a", text="Looking into it."))
    view.apply_event(RunWarning(run_id=RUN, ts=T0, task_id="a", source="mcp:web",
                                message="MCP server 'web' exited during call 'search'"))
    view.output.flush()
    assert view.warnings.text().splitlines() == [
        WARNING_MARK + NOT_STARTED, WARNING_MARK + "Survey the market: MCP server 'web' exited during call 'search'"]
    qtbot.wait(20)  # let the layout give the banner its two lines
    assert view.warnings.height() > view.warnings.fontMetrics().height() * 2
    folder = Path(os.environ.get("TROUPE_SHOTS") or tmp_path)
    assert view.grab().save(str(folder / "run_warnings.png"))


def test_many_warnings_keep_the_banner_short(view: RunView):
    for n in range(WARNINGS_SHOWN + 2):
        view.apply_event(RunWarning(run_id=RUN, ts=T0, message=f"server {n} is not available"))
    lines = view.warnings.text().splitlines()
    assert lines[0] == "2 earlier warning(s), see the tooltip" and len(lines) == WARNINGS_SHOWN + 1
    assert "server 0 is not available" in view.warnings.toolTip()


def test_a_resumed_run_shows_its_own_warnings_and_reset_hides_them(view: RunView):
    view.apply_event(RunWarning(run_id=RUN, ts=T0, message=NOT_STARTED))
    view.apply_event(started(resumed=True))  # the server may work this time
    assert view.warnings.isHidden()
    view.apply_event(RunWarning(run_id=RUN, ts=T0, message=NOT_STARTED))
    view.apply_event(RunWarning(run_id=RUN, ts=T0, message=NOT_STARTED))  # once, however often told
    assert view.warnings.text() == WARNING_MARK + NOT_STARTED
    view.reset()
    assert view.warnings.isHidden() and view.model.warnings == []


def test_the_model_folds_warnings_once():
    model = RunModel()
    model.apply(started())
    assert model.apply(RunWarning(run_id=RUN, message="x")) == {Change.WARNINGS}
    assert model.apply(RunWarning(run_id=RUN, message="x")) == set()
    assert model.warnings == ["x"]
