"""A run's tool calls in its history: read back from the stored events, in every export."""

from __future__ import annotations

import json

from agents import events as ev
from app.export import export_run, export_stored_run, run_to_dict, stored_tool_calls
from app.storage import EventWriter, Store
from app.storage.run_state import stored_run_state
from app.tools.history import ToolCallRecord, short_arguments, tool_calls_from_events
from tests.app.storage_events import emit_all, finished, sample_plan


def requested(run_id: str, call: str, tool: str, args: dict, task: str = "flaky") -> ev.ToolCallRequested:
    return ev.ToolCallRequested(run_id=run_id, task_id=task, call_id=call, tool=tool, arguments=json.dumps(args))


def done(run_id: str, call: str, tool: str, result: str, task: str = "flaky", **kw) -> ev.ToolCallFinished:
    return ev.ToolCallFinished(run_id=run_id, task_id=task, call_id=call, tool=tool, result=result, **kw)


def stored_run(store: Store, writer: EventWriter) -> str:
    run_id = store.create_run("Birds", "Write a report on penguins")
    emit_all(writer, [
        ev.RunStarted(run_id=run_id, goal="g", plan=sample_plan()),
        ev.TaskStarted(run_id=run_id, task_id="flaky", agent="coder", attempt=1),
        requested(run_id, "flaky:1:0", "write_file", {"path": "charts.md", "content": "x" * 300}),
        done(run_id, "flaky:1:0", "write_file", "wrote 300 characters to charts.md", duration_ms=12.4,
             permission="allow"),
        requested(run_id, "flaky:1:1", "run_shell", {"command": "rm -rf /"}),
        done(run_id, "flaky:1:1", "run_shell", "denied by policy", error=True, permission="deny"),
        requested(run_id, "flaky:2:0", "fetch_url", {"url": "https://example.com/charts"}),
        done(run_id, "flaky:2:0", "fetch_url", "error: timed out", error=True, duration_ms=1534.0,
             permission="ask"),
        requested(run_id, "flaky:2:1", "read_file", {"path": "notes.md"}),  # the run stopped here
        finished(run_id, "flaky", "Charts fetched"),
    ])
    return run_id


def test_calls_are_read_back_with_outcome_and_duration(store: Store, writer: EventWriter) -> None:
    calls = stored_tool_calls(store, stored_run(store, writer))
    assert [c.line() for c in calls] == [
        'write_file {path: "charts.md", content: "xxxxxxxxxxxxxxxxxxxxxxxxxxxx…} → ok, 12 ms',
        'run_shell {command: "rm -rf /"} → denied by policy',
        'fetch_url {url: "https://example.com/charts"} → error, 1.5 s',
        'read_file {path: "notes.md"} → no result (the run stopped during the call)',
    ]
    assert [c.task_id for c in calls] == ["flaky"] * 4
    assert calls[0].arguments == json.dumps({"path": "charts.md", "content": "x" * 300})  # kept whole


def test_a_call_replayed_on_resume_is_listed_again_and_marked() -> None:
    events = [e.to_dict() for e in (
        requested("r", "a:1:0", "write_file", {"path": "a"}),
        requested("r", "a:1:0", "write_file", {"path": "a"}),  # resumed: the same call id again
        done("r", "a:1:0", "write_file", "wrote 1", permission="replayed"),
        done("r", "b:1:0", "read_file", "A", duration_ms=2, permission="allow"),  # its request is missing
    )]
    calls = tool_calls_from_events(events)
    assert [c.outcome for c in calls] == ["no result (the run stopped during the call)",
                                          "ok · replayed from before a restart", "ok"]
    assert (calls[2].tool, calls[2].arguments, calls[2].duration_text) == ("read_file", "", "2 ms")
    approved = ToolCallRecord("a", "a:1:0", "t", "{}", finished=True, permission="ask", duration_ms=3)
    assert approved.line() == "t {} → ok · approved, 3 ms"


def test_short_arguments_odd_input() -> None:
    assert short_arguments("not json {") == "not json {"
    assert short_arguments('["a", 1]') == '["a", 1]'
    assert short_arguments("") == "{}"
    assert len(short_arguments(json.dumps({f"k{i}": i for i in range(100)}))) <= 80


def test_json_lists_each_tasks_calls(store: Store, writer: EventWriter) -> None:
    run_id = stored_run(store, writer)
    data = json.loads(export_stored_run(store, run_id, "json"))
    run = store.get_run(run_id)
    assert data == run_to_dict(run, stored_tool_calls(store, run_id), stored_run_state(store, run))
    tasks = {t["id"]: t for t in data["tasks"]}
    assert tasks["analyse"]["tool_calls"] == []
    first, denied, *_ = tasks["flaky"]["tool_calls"]
    assert first == {"task": "flaky", "call_id": "flaky:1:0", "tool": "write_file",
                     "arguments": json.dumps({"path": "charts.md", "content": "x" * 300}),
                     "outcome": "ok", "error": False, "permission": "allow", "duration_ms": 12.4,
                     "finished": True, "result": "wrote 300 characters to charts.md"}
    assert (denied["outcome"], denied["error"]) == ("denied by policy", True)


def test_markdown_and_html_show_the_calls_under_their_task(store: Store, writer: EventWriter) -> None:
    run_id = stored_run(store, writer)
    md = export_stored_run(store, run_id, "md")
    section = md[md.index("### Fetch charts"):md.index("### Write report")]
    assert "Charts fetched\n\nTool calls:\n\n- `write_file {path: " in section
    assert '- `run_shell {command: "rm -rf /"}` → denied by policy\n' in section
    assert md.count("Tool calls:") == 1  # only the task that made calls
    html = export_stored_run(store, run_id, "html")
    assert "<li><code>run_shell {command: \"rm -rf /\"}</code> → denied by policy</li>" in html


def test_backticks_in_arguments_stay_inside_the_code_span(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("Birds", "g")
    emit_all(writer, [ev.RunStarted(run_id=run_id, goal="g", plan=sample_plan()),
                      requested(run_id, "r1:1:0", "run_shell", {"command": "echo `date`"}, task="r1"),
                      done(run_id, "r1:1:0", "run_shell", "ok", task="r1", duration_ms=5, permission="allow")])
    run = store.get_run(run_id)
    html = export_run(run, "html", stored_tool_calls(store, run_id), stored_run_state(store, run))
    assert "<code>run_shell {command: \"echo `date`\"}</code> → ok, 5 ms" in html


def test_a_run_without_tool_calls_exports_as_before(store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("Birds", "g")
    emit_all(writer, [ev.RunStarted(run_id=run_id, goal="g", plan=sample_plan()),
                      finished(run_id, "r1", "Colonies")])
    assert "Tool calls" not in export_stored_run(store, run_id, "md")
    assert all(t["tool_calls"] == [] for t in json.loads(export_stored_run(store, run_id, "json"))["tasks"])
