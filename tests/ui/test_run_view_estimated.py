"""The run view's token total says "≈" when Troupe counted some of the tokens itself."""

from __future__ import annotations

from agents.events import LLMCallFinished, RunStarted
from ui.run_view import RunView


def _call(estimated: bool) -> LLMCallFinished:
    return LLMCallFinished(run_id="r", task_id="a", purpose="task", model="llm/smol", prompt_tokens=1000,
                           completion_tokens=234, cost=0.0, cost_known=True, latency_ms=5,
                           tokens_estimated=estimated)


def test_estimated_tokens_show_as_about(qtbot) -> None:
    view = RunView(clock=lambda: 1000.0)
    qtbot.addWidget(view)
    view.apply_event(RunStarted(run_id="r", ts=1000.0, goal="g",
                                plan={"goal": "g", "tasks": [{"id": "a", "title": "A", "agent": "writer"}]}))
    view.apply_events([_call(False)])
    qtbot.waitUntil(lambda: view.totals.texts()["tokens"] == "1,234", timeout=2000)
    view.apply_events([_call(True)])
    qtbot.waitUntil(lambda: view.totals.texts()["tokens"] == "≈2,468", timeout=2000)
    assert "counted by Troupe" in view.totals.tokens.toolTip()
