"""Tool calls in the UI: inline in the live output, their approval cards, the Tools settings tab."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtGui import QColor

from agents.events import RunStarted, TaskStarted, TokenDelta, ToolCallFinished, ToolCallRequested
from ui import theme
from ui.run_view import LiveOutputPane, RunView

RUN = "r1"
T0 = 1_700_000_000.0
SHOTS = os.environ.get("TROUPE_SHOTS")  # a folder: save screenshots there


def requested(call: str, tool: str = "write_file", args: dict | str | None = None, task: str = "a") -> ToolCallRequested:
    text = args if isinstance(args, str) else json.dumps(args if args is not None else {"path": "notes/a.txt"})
    return ToolCallRequested(run_id=RUN, ts=T0, task_id=task, call_id=call, tool=tool, arguments=text)


def finished(call: str, tool: str = "write_file", result: str = "wrote 12 bytes", error: bool = False,
             ms: float = 12.0, permission: str = "allow", task: str = "a") -> ToolCallFinished:
    return ToolCallFinished(run_id=RUN, ts=T0, task_id=task, call_id=call, tool=tool, result=result,
                            error=error, duration_ms=ms, permission=permission)


@pytest.fixture
def view(qtbot) -> RunView:
    widget = RunView(clock=lambda: T0 + 5)
    qtbot.addWidget(widget)
    widget.resize(1000, 640)
    widget.show()
    qtbot.waitExposed(widget)
    plan = {"goal": "g", "tasks": [{"id": "a", "title": "Write the notes", "agent": "writer"}]}
    widget.apply_event(RunStarted(run_id=RUN, ts=T0, goal="g", plan=plan))
    widget.apply_event(TaskStarted(run_id=RUN, ts=T0, task_id="a", agent="writer", attempt=1))
    return widget


def line_colour(pane: LiveOutputPane, starts: str) -> QColor:
    block = pane.editor.document().firstBlock()
    while block.isValid():
        if block.text().startswith(starts):
            ranges = block.layout().formats()
            assert ranges, f"no format on {block.text()!r}"
            return ranges[0].format.foreground().color()
        block = block.next()
    raise AssertionError(f"no line starts with {starts!r}")


# --- 1. live output ----------------------------------------------------------------------


def test_tool_calls_show_inline_with_outcome_and_result(view: RunView):
    view.apply_event(TokenDelta(run_id=RUN, ts=T0, task_id="a", text="Let me save that."))
    view.apply_event(requested("a:1:0", args={"path": "notes/a.txt", "content": "hello\nworld"}))
    view.apply_event(finished("a:1:0", result="wrote 12 bytes\nto notes/a.txt\nline3\nline4\n"))
    view.apply_event(TokenDelta(run_id=RUN, ts=T0, task_id="a", text="Done."))
    view.output.flush()
    assert view.output.displayed_text() == (
        "Let me save that.\n"
        '⚙ write_file {path: "notes/a.txt", content: "hello\\nworld"} → ok, 12 ms\n'
        "  │ wrote 12 bytes\n"
        "  │ to notes/a.txt\n"
        "  │ line3\n"
        "  │ … 1 more line\n"
        "Done."
    )
    assert line_colour(view.output, "⚙") == theme.dim_text_colour()


def test_the_line_shows_the_call_while_it_runs(view: RunView):
    view.apply_event(requested("a:1:0", tool="run_command", args={"command": "pytest -q"}))
    view.output.flush()
    assert view.output.displayed_text() == '⚙ run_command {command: "pytest -q"}'
    view.apply_event(finished("a:1:0", tool="run_command", result="3 passed", ms=1534))
    view.output.flush()
    assert view.output.displayed_text() == '⚙ run_command {command: "pytest -q"} → ok, 1.5 s\n  │ 3 passed\n'


def test_errors_are_in_the_failure_colour(view: RunView):
    view.apply_event(requested("a:1:0", tool="delete_file", args={"path": "x"}))
    view.apply_event(finished("a:1:0", tool="delete_file", result="denied by policy", error=True,
                              ms=0, permission="deny"))
    view.apply_event(requested("a:1:1", tool="read_file", args={"path": "missing"}))
    view.apply_event(finished("a:1:1", tool="read_file", result="error: no such file", error=True, ms=3))
    view.output.flush()
    text = view.output.displayed_text()
    assert '⚙ delete_file {path: "x"} → denied by policy\n⚙ read_file' in text
    assert '⚙ read_file {path: "missing"} → error, 3 ms\n  │ error: no such file\n' in text
    failed = QColor(theme.FAILED_COLOUR)
    assert line_colour(view.output, "⚙ delete_file") == failed
    assert line_colour(view.output, "  │ error: no such") == failed


def test_replayed_and_in_doubt_calls_are_marked(view: RunView):
    view.apply_events([
        requested("a:1:0", args={"path": "a"}), finished("a:1:0", ms=0, permission="replayed"),
        requested("a:1:1", args={"path": "b"}), finished("a:1:1", ms=8, permission="in_doubt_rerun"),
        requested("a:1:2", args={"path": "c"}),
        finished("a:1:2", result="skipped: in doubt", error=True, ms=0, permission="in_doubt_skipped"),
    ])
    view.output.flush()
    text = view.output.displayed_text()
    assert '{path: "a"} → ok · replayed from before a restart\n' in text
    assert '{path: "b"} → ok, 8 ms · in doubt, re-run\n' in text
    assert '{path: "c"} → skipped · in doubt, skipped\n' in text


def test_parallel_calls_and_output_in_between_restate_the_call(view: RunView):
    view.apply_events([
        requested("a:1:0", tool="read_file", args={"path": "a"}),
        requested("a:1:1", tool="read_file", args={"path": "b"}),
        finished("a:1:0", tool="read_file", result="A", ms=1),
        finished("a:1:1", tool="read_file", result="B", ms=2),
    ])
    view.output.flush()
    assert view.output.displayed_text() == (
        '⚙ read_file {path: "a"}\n'
        '⚙ read_file {path: "b"}\n'
        '⚙ read_file {path: "a"} → ok, 1 ms\n  │ A\n'
        '⚙ read_file {path: "b"} → ok, 2 ms\n  │ B\n'
    )


def test_long_and_odd_arguments_are_shortened(view: RunView):
    view.apply_event(requested("a:1:0", args={"content": "x" * 500, "n": 3}))
    view.apply_event(requested("a:1:1", tool="odd", args="not json {"))
    view.output.flush()
    first, second = view.output.displayed_text().split("\n")[:2]
    assert first.startswith('⚙ write_file {content: "xxx') and len(first) < 130 and "…" in first
    assert second == "⚙ odd not json {"


def test_tool_lines_are_coalesced_like_deltas(view: RunView):
    before = view.output.flushes
    for i in range(200):
        view.apply_event(requested(f"a:{i}:0", args={"path": f"f{i}"}))
        view.apply_event(finished(f"a:{i}:0"))
    assert view.output.displayed_text() == ""  # nothing written before the flush timer
    view.output.flush()
    assert view.output.flushes == before + 1
    assert view.output.displayed_text().count("→ ok, 12 ms") == 200


def test_screenshot_live_output(view: RunView, tmp_path):
    view.apply_events([
        TokenDelta(run_id=RUN, ts=T0, task_id="a", text="I'll write the notes file first.\n"),
        requested("a:1:0", args={"path": "notes/a.txt", "content": "# Notes\n..."}),
        finished("a:1:0", result="wrote 12 bytes to notes/a.txt"),
        requested("a:1:1", tool="run_command", args={"command": "rm -rf build"}),
        finished("a:1:1", tool="run_command", result="denied by policy", error=True, ms=0, permission="deny"),
        requested("a:1:2", tool="fetch_url", args={"url": "https://example.com"}),
        finished("a:1:2", tool="fetch_url", result="<html>\n<head>\n<title>Example</title>\n</head>",
                 ms=240, permission="replayed"),
        TokenDelta(run_id=RUN, ts=T0, task_id="a", text="The notes are saved."),
    ])
    view.output.flush()
    view.grab().save(os.path.join(SHOTS or str(tmp_path), "tool_live_output.png"))


# --- 2. approval cards for tool calls ------------------------------------------------------

from agents.approvals import AskedCall, Subject, ToolQuestion  # noqa: E402
from agents.ports import Action, ApprovalRequest, Decision  # noqa: E402
from app.approval_text import IN_DOUBT_NOTE, INSTEAD_NOTE  # noqa: E402
from ui.approvals import ApprovalCard  # noqa: E402

ARGS = json.dumps({"path": "notes/a.txt", "content": "hello"}, indent=2)


def tool_request(tool: str = "write_file", arguments: str = ARGS, in_doubt: bool = False,
                 instead: AskedCall | None = None) -> ApprovalRequest:
    question = ToolQuestion(tool, arguments, in_doubt=in_doubt, instead=instead, risk="write")
    return ApprovalRequest(request_id="req-1", run_id=RUN, task_id="a", subject=Subject.TOOL, title=tool,
                           tool=question)


@pytest.fixture
def make_card(qtbot):
    def make(request: ApprovalRequest) -> tuple[ApprovalCard, list[Decision]]:
        card = ApprovalCard(request)
        qtbot.addWidget(card)
        card.resize(620, card.sizeHint().height())
        card.show()
        qtbot.waitExposed(card)
        decisions: list[Decision] = []
        card.decided.connect(decisions.append)
        return card, decisions
    return make


def test_tool_card_shows_heading_and_arguments_in_monospace(make_card):
    card, _ = make_card(tool_request())
    assert card.kicker.text() == "TOOL CALL NEEDS YOUR APPROVAL"
    assert card.title_label.text() == "write_file"
    assert card.details.toPlainText() == ARGS  # exactly the request's arguments, nothing else
    assert "write" in card.facts_label.text()  # the tool's risk
    assert not card.doubt_label.isVisible() and not card.instead_box.isVisible()
    assert card.details.font().fixedPitch() or card.details.font() == theme.monospace_font(-1)
    assert card.approve_button.text() == "&Approve" and card.reject_button.text() == "&Reject"


def test_edit_prefills_the_arguments_and_refuses_invalid_json(make_card):
    card, decisions = make_card(tool_request())
    card.edit_button.click()
    assert card.editing is Action.EDIT
    assert card.editor.toPlainText() == ARGS == card.request.edit_text
    card.editor.setPlainText('{"path": "b.txt",}')
    card.confirm_button.click()
    assert decisions == [] and not card.resolved
    assert card.editor_error.isVisible() and "Not valid JSON (line 1" in card.editor_error.text()
    card.editor.setPlainText('["a list"]')
    assert not card.editor_error.isVisible()  # typing clears the message
    card.confirm_button.click()
    assert decisions == [] and "must be a JSON object" in card.editor_error.text()
    card.editor.setPlainText('{"path": "b.txt"}')
    card.confirm_button.click()
    assert decisions == [Decision(Action.EDIT, '{"path": "b.txt"}')]
    assert "Approved with your arguments" in card.resolved_label.text()


def test_override_text_is_the_tools_result(make_card):
    card, decisions = make_card(tool_request())
    card.override_button.click()
    assert card.editor.toPlainText() == "" and "result" in card.editor_label.text()
    card.editor.setPlainText("not json at all, and that is fine")
    card.confirm_button.click()
    assert decisions == [Decision(Action.OVERRIDE, "not json at all, and that is fine")]


def test_in_doubt_card_asks_to_rerun_and_edits_only_the_arguments(make_card):
    card, decisions = make_card(tool_request(in_doubt=True))  # the flag, not a title prefix, says so
    assert card.kicker.text() == "TOOL CALL IN DOUBT: RE-RUN IT?"
    assert card.title_label.text() == "write_file"
    assert card.approve_button.text() == "&Re-run" and card.reject_button.text() == "&Skip"
    assert card.doubt_label.isVisible() and card.doubt_label.text() == IN_DOUBT_NOTE
    assert card.details.toPlainText() == ARGS
    card.edit_button.click()
    assert card.editor.toPlainText() == ARGS
    card.close_editor()
    card.reject_button.click()
    assert decisions == [Decision(Action.REJECT)]
    assert "Skipped" in card.resolved_label.text()


def test_in_doubt_card_shows_the_call_asked_for_instead_and_titles_are_not_parsed(make_card):
    asked = AskedCall("read_file", '{"path": "notes/a.txt"}')
    card, _ = make_card(tool_request(in_doubt=True, instead=asked))
    assert card.instead_label.text() == INSTEAD_NOTE and card.instead_label.isVisible()
    assert card.instead_box.toPlainText() == 'read_file {"path": "notes/a.txt"}' and card.instead_box.isVisible()
    card.edit_button.click()
    assert card.editor.toPlainText() == ARGS  # the call in doubt, never the other one
    # a tool whose name looks like the old prefix is just a tool
    odd, _ = make_card(tool_request("In doubt: write_file"))
    assert odd.kicker.text() == "TOOL CALL NEEDS YOUR APPROVAL" and odd.approve_button.text() == "&Approve"
    assert odd.title_label.text() == "In doubt: write_file"


def test_screenshot_tool_cards(qtbot, make_card, tmp_path):
    folder = SHOTS or str(tmp_path)
    card, _ = make_card(tool_request())
    qtbot.wait(20)  # scroll bars settle after the first layout
    card.grab().save(os.path.join(folder, "tool_card.png"))
    other, _ = make_card(tool_request(in_doubt=True, instead=AskedCall("read_file", '{\n  "path": "notes/a.txt"\n}')))
    qtbot.wait(20)
    other.grab().save(os.path.join(folder, "tool_card_in_doubt_instead.png"))
    doubt, _ = make_card(tool_request(in_doubt=True))
    doubt.edit_button.click()
    doubt.editor.setPlainText('{"path": "b.txt",}')
    doubt.confirm_button.click()
    doubt.resize(620, doubt.sizeHint().height())
    qtbot.wait(20)
    doubt.grab().save(os.path.join(folder, "tool_card_in_doubt_edit.png"))


# --- 3. Settings › Tools -------------------------------------------------------------------

from agents.plan.roster import load_roster  # noqa: E402
from agents.tools.base import Permission  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tools.mcp_config import load_servers  # noqa: E402
from app.tools.settings import load_policies, save_policies  # noqa: E402
from tests.support.settings_ui import click_ok  # noqa: E402
from ui.settings import SettingsDialog  # noqa: E402
from ui.settings.tools_tab import ToolsTab  # noqa: E402

SECRET = "sk-very-secret-value"
MCP_JSON = {"mcpServers": {
    "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
               "env": {"GITHUB_TOKEN": SECRET}},
    "docs": {"url": "https://mcp.example.com/mcp"},
}}


@pytest.fixture
def settings_dialog(qtbot, memory_keyring):
    def open_() -> SettingsDialog:
        dialog = SettingsDialog(Settings(), load_roster())
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        return dialog
    return open_


def tab_titles(dialog: SettingsDialog) -> list[str]:
    return [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]


def table_texts(table) -> list[list[str]]:
    return [[table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_tools_tab_lists_builtin_tools_with_their_permission(settings_dialog, troupe_home):
    save_policies(load_policies().set("write_file", Permission.DENY))
    dialog = settings_dialog()
    assert "Tools" in tab_titles(dialog)
    tab = dialog.tools_tab
    rows = {r[0]: r[1] for r in table_texts(tab.rules.table)}
    assert all(r[3] for r in table_texts(tab.rules.table))  # a description each
    assert rows["read_file"] == "read" and rows["write_file"] == "write"
    assert tab.combos["write_file"].currentData() == "deny"
    assert tab.combos["read_file"].currentData() is None  # no rule: the default applies
    assert tab.combos["read_file"].currentText() == "allow · inherited from the default"
    assert tab.combos["write_file"].itemText(0) == "ask · inherited from the default"
    assert [tab.combos["read_file"].itemData(i) for i in range(4)] == [None, "ask", "allow", "deny"]


def test_tools_tab_round_trip(qtbot, settings_dialog, troupe_home, tmp_path):
    save_policies(load_policies().set("fetch_url", Permission.ALLOW, project="Essay"))
    source = tmp_path / "claude_desktop_config.json"
    source.write_text(json.dumps(MCP_JSON), encoding="utf-8")
    dialog = settings_dialog()
    tab = dialog.tools_tab
    tab.combos["write_file"].setCurrentIndex(2)  # allow
    tab.combos["fetch_url"].setCurrentIndex(3)  # deny
    assert tab.import_file(source)
    rows = table_texts(tab.servers_table)
    assert rows == [["github", "stdio", "npx -y @modelcontextprotocol/server-github", "GITHUB_TOKEN"],
                    ["docs", "http", "https://mcp.example.com/mcp", "—"]]
    assert SECRET not in str(rows)
    assert not (troupe_home / "mcp_servers.json").exists()  # nothing before OK
    tab.servers_table.selectRow(1)
    tab.remove_button.click()
    assert [s.name for s in tab.servers()] == ["github"]
    click_ok(qtbot, dialog)

    policies = load_policies()
    assert dict(policies.everywhere.rules) == {"write_file": Permission.ALLOW, "fetch_url": Permission.DENY}
    assert policies.projects["Essay"].rules == {"fetch_url": Permission.ALLOW}  # other scopes kept
    stored = (troupe_home / "mcp_servers.json").read_text(encoding="utf-8")
    assert SECRET not in stored
    servers = load_servers()
    assert [s.name for s in servers] == ["github"] and servers[0].env == {"GITHUB_TOKEN": SECRET}

    again = settings_dialog()
    assert again.tools_tab.combos["write_file"].currentData() == "allow"
    assert table_texts(again.tools_tab.servers_table)[0][0] == "github"


def test_cancel_and_bad_files_write_nothing(qtbot, settings_dialog, troupe_home, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"mcpServers": {"x": {}}}', encoding="utf-8")
    dialog = settings_dialog()
    tab = dialog.tools_tab
    assert not tab.import_file(bad)
    assert "Nothing imported" in tab.servers_error.text() and tab.servers() == []
    tab.combos["write_file"].setCurrentIndex(3)
    dialog.reject()
    assert not (troupe_home / "tool_policies.json").exists()
    assert not (troupe_home / "mcp_servers.json").exists()


def test_ok_without_changes_writes_no_files(qtbot, settings_dialog, troupe_home):
    click_ok(qtbot, settings_dialog())
    assert not (troupe_home / "tool_policies.json").exists()
    assert not (troupe_home / "mcp_servers.json").exists()


def test_tools_tab_stays_small():
    assert len(Path(ToolsTab.__module__.replace(".", "/") + ".py").read_text().splitlines()) <= 300


def test_screenshot_tools_tab(qtbot, settings_dialog, tmp_path):
    source = tmp_path / "mcp.json"
    source.write_text(json.dumps(MCP_JSON), encoding="utf-8")
    dialog = settings_dialog()
    dialog.tabs.setCurrentIndex(tab_titles(dialog).index("Tools"))
    dialog.tools_tab.import_file(source)
    qtbot.wait(20)
    dialog.grab().save(os.path.join(SHOTS or str(tmp_path), "tools_tab.png"))


def test_a_code_tool_card_says_what_confines_the_call(make_card):
    sandboxed = "Sandboxed (bubblewrap 0.11.0): code can write only the project's workspace, ..."
    card, _ = make_card(ApprovalRequest("req-2", RUN, "a", Subject.TOOL, "run_shell", tool=ToolQuestion(
        "run_shell", '{"command": "ls"}', risk="execute", confinement=sandboxed)))
    assert card.confinement_label.isVisible() and card.confinement_label.text() == sandboxed
    bare = "No sandbox on this system (bwrap cannot make a sandbox here): code runs with your permissions"
    card, _ = make_card(ApprovalRequest("req-3", RUN, "a", Subject.TOOL, "run_shell", tool=ToolQuestion(
        "run_shell", '{"command": "ls"}', risk="execute", confinement=bare)))
    assert card.confinement_label.text() == bare
    assert theme.FAILED_COLOUR in card.confinement_label.styleSheet()  # a warning, not a note
    card, _ = make_card(tool_request())  # a file tool: nothing said
    assert not card.confinement_label.isVisible()
