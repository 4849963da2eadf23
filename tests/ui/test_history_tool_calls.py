"""A past run opened from the history shows its tool calls in the run view, as they were."""

from __future__ import annotations

import json

from agents.events import (
    RunFinished,
    RunStarted,
    TaskFinished,
    TaskStarted,
    ToolCallFinished,
    ToolCallRequested,
)
from app.storage import EventWriter, open_database
from tests.ui.test_main_window import open_window, qloop  # noqa: F401 - qloop is a fixture

PLAN = {"goal": "g", "tasks": [
    {"id": "r", "title": "Research", "instructions": "Find facts.", "agent": "researcher"},
    {"id": "w", "title": "Write", "instructions": "Write it.", "agent": "writer", "depends_on": ["r"]},
]}
T0 = 1_700_000_000.0


def test_opening_a_past_run_replays_its_tool_calls(qloop, llm_server, tmp_path, monkeypatch):  # noqa: F811
    db = tmp_path / "troupe.db"
    store = open_database(db)
    run_id = store.create_run("Default", "Penguins", {"model": "openai/test-model"})
    store.add_plan_version(run_id, PLAN | {"goal": "Penguins"}, "file")
    with EventWriter(store) as writer:
        for event in (
            RunStarted(run_id=run_id, ts=T0, goal="Penguins", plan=PLAN),
            TaskStarted(run_id=run_id, ts=T0, task_id="r", agent="researcher", attempt=1),
            ToolCallRequested(run_id=run_id, ts=T0, task_id="r", call_id="r:1:0", tool="fetch_url",
                              arguments=json.dumps({"url": "https://example.com/penguins"})),
            ToolCallFinished(run_id=run_id, ts=T0, task_id="r", call_id="r:1:0", tool="fetch_url",
                             result="Emperor penguins huddle", duration_ms=240, permission="allow"),
            ToolCallRequested(run_id=run_id, ts=T0, task_id="r", call_id="r:1:1", tool="run_shell",
                              arguments=json.dumps({"command": "rm -rf /"})),
            ToolCallFinished(run_id=run_id, ts=T0, task_id="r", call_id="r:1:1", tool="run_shell",
                             result="denied by policy", error=True, permission="deny"),
            TaskFinished(run_id=run_id, ts=T0, task_id="r", output="FACTS", attempts=1, prompt_tokens=1,
                         completion_tokens=1, cost=0, started=T0, finished=T0 + 1),
            TaskStarted(run_id=run_id, ts=T0, task_id="w", agent="writer", attempt=1),
            TaskFinished(run_id=run_id, ts=T0, task_id="w", output="Draft", attempts=1, prompt_tokens=1,
                         completion_tokens=1, cost=0, started=T0, finished=T0 + 1),
            RunFinished(run_id=run_id, ts=T0, status="completed", prompt_tokens=2, completion_tokens=2, cost=0),
        ):
            writer.emit(event)
    store.close()

    window = open_window(db, llm_server)
    window.session.open_run(run_id)
    output = window.run_view.output
    output.show_task("r")
    output.flush()
    shown = output.displayed_text()
    assert '⚙ fetch_url {url: "https://example.com/penguins"} → ok, 240 ms\n  │ Emperor penguins huddle\n' in shown
    assert '⚙ run_shell {command: "rm -rf /"} → denied by policy' in shown
    assert "⚙" not in output.text("w")  # each call under its own task

    # the window's Markdown export of the run lists them too
    exported = tmp_path / "run.md"
    window._on_export_requested("md")
    window.export_dialog.fileSelected.emit(str(exported))  # as if the person saved there
    assert '- `run_shell {command: "rm -rf /"}` → denied by policy' in exported.read_text(encoding="utf-8")
    window.close()
    window.service.close()
