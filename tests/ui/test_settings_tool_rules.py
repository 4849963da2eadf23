"""Settings › Tools: rules per project and role, and List tools on an MCP server."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor

from agents.plan.roster import load_roster
from agents.tools.base import Permission
from agents.tools.builtin import builtin_registry
from app.settings import Settings
from app.storage import open_database
from app.tools.settings import load_policies, save_policies
from tests.support.settings_ui import click, click_ok, qasync_loop, wait_for
from ui import theme
from ui.settings import SettingsDialog
from ui.settings.tools_tab import ToolsTab

ROOT = Path(__file__).resolve().parents[2]
SHOTS = os.environ.get("TROUPE_SHOTS")


def echo_server(**extra: object) -> dict:
    return {"command": sys.executable, "args": ["-m", "tests.support.mcp_echo_server"],
            "env": {"PYTHONPATH": str(ROOT)}, **extra}


def python_server(code: str, **extra: object) -> dict:
    return {"command": sys.executable, "args": ["-c", code], **extra}


@pytest.fixture
def qloop(qapp):
    with qasync_loop(qapp) as loop:
        yield loop


@pytest.fixture
def open_dialog(qtbot, memory_keyring):
    def open_() -> SettingsDialog:
        dialog = SettingsDialog(Settings(), load_roster())
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.tabs.setCurrentIndex(dialog.tabs.indexOf(dialog.tools_tab.parentWidget()))
        qtbot.waitExposed(dialog)
        return dialog
    return open_


def items(box) -> list[str]:
    return [box.itemText(i) for i in range(box.count())]


def import_servers(tab: ToolsTab, tmp_path: Path, servers: dict) -> None:
    source = tmp_path / "mcp.json"
    source.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    assert tab.import_file(source)


# --- rules per scope -------------------------------------------------------------------


def test_projects_come_from_the_history_and_the_rules_file(open_dialog, troupe_home):
    store = open_database(troupe_home / "troupe.db")
    store.create_project("Essay")
    store.close()
    save_policies(load_policies().set("fetch_url", Permission.ALLOW, project="Notes")
                  .set("write_file", Permission.DENY, role="retired-role"))
    dialog = open_dialog()
    rules = dialog.tools_tab.rules
    assert items(rules.project_box) == ["All projects", "Essay", "Notes"]
    roles = items(rules.role_box)
    assert roles[0] == "Every role" and {"coder", "writer", "researcher"} <= set(roles)
    assert roles[-1] == "retired-role"  # a role with rules but no longer in the roster stays reachable


def test_a_scope_shows_what_it_inherits_and_from_where(open_dialog):
    save_policies(load_policies().set("write_file", Permission.DENY)
                  .set("fetch_url", Permission.ALLOW, project="Essay")
                  .set("run_shell", Permission.ASK, role="coder")
                  .set("run_shell", Permission.ALLOW, project="Essay"))
    dialog = open_dialog()
    tab = dialog.tools_tab
    tab.rules.set_scope("Essay", "coder")
    boxes = tab.combos
    assert tab.rules.scope_hint.text().startswith("Rules for role coder in project Essay.")
    assert boxes["write_file"].currentText() == "deny · inherited from all projects"
    assert boxes["fetch_url"].currentText() == "allow · inherited from project Essay"
    # the role's rule for all projects beats the project-wide one, as in a run
    assert boxes["run_shell"].currentText() == "ask · inherited from role coder in all projects"
    assert boxes["read_file"].currentText() == "allow · inherited from the default"
    assert all(b.currentData() is None for b in boxes.values())
    assert boxes["write_file"].font().italic()
    assert QColor(theme.dim_text_colour()).name() in boxes["write_file"].styleSheet()

    tab.rules.set_scope("Essay", None)
    assert boxes["fetch_url"].currentText() == "allow" and not boxes["fetch_url"].font().italic()
    assert boxes["run_shell"].currentText() == "allow"
    assert boxes["write_file"].currentText() == "deny · inherited from all projects"


def test_rules_set_and_cleared_in_several_scopes_are_saved_on_ok(qtbot, open_dialog):
    save_policies(load_policies().set("write_file", Permission.DENY).set("list_files", Permission.DENY))
    dialog = open_dialog()
    tab = dialog.tools_tab
    tab.rules.set_scope("Essay", None)  # a project not in the history yet: typed in as a scope
    tab.combos["fetch_url"].setCurrentIndex(2)  # allow
    tab.rules.set_scope("Essay", "coder")
    assert tab.combos["fetch_url"].currentText() == "allow · inherited from project Essay"
    tab.combos["write_file"].setCurrentIndex(2)  # allow, for the coder in Essay only
    assert not tab.combos["write_file"].font().italic()
    tab.rules.set_scope(None, None)
    tab.combos["list_files"].setCurrentIndex(0)  # back to inherit: the rule goes
    assert tab.combos["list_files"].currentText() == "allow · inherited from the default"
    assert tab.combos["write_file"].currentText() == "deny"  # edits of other scopes did not leak here
    click_ok(qtbot, dialog)

    stored = load_policies()
    assert dict(stored.everywhere.rules) == {"write_file": Permission.DENY}
    assert stored.projects["Essay"].rules == {"fetch_url": Permission.ALLOW}
    assert stored.projects["Essay"].roles == {"coder": {"write_file": Permission.ALLOW}}
    tools = builtin_registry()
    policy = stored.policy("Essay")
    assert policy.permission(tools.get("write_file"), "coder") is Permission.ALLOW
    assert policy.permission(tools.get("write_file"), "writer") is Permission.DENY
    assert stored.policy("Other").permission(tools.get("fetch_url"), "coder") is Permission.ASK


def test_clear_rules_here_empties_only_the_chosen_scope(qtbot, open_dialog):
    save_policies(load_policies().set("write_file", Permission.DENY)
                  .set("fetch_url", Permission.ALLOW, role="researcher")
                  .set("run_shell", Permission.DENY, role="researcher"))
    dialog = open_dialog()
    tab = dialog.tools_tab
    tab.rules.set_scope(None, "researcher")
    click(qtbot, tab.rules.clear_button)
    assert all(b.currentData() is None for b in tab.combos.values())
    click_ok(qtbot, dialog)
    stored = load_policies()
    assert stored.everywhere.roles == {} and dict(stored.everywhere.rules) == {"write_file": Permission.DENY}


def test_roles_added_on_the_agents_tab_can_be_chosen(qtbot, open_dialog):
    dialog = open_dialog()
    dialog.tabs.setCurrentIndex(2)
    dialog.agents_tab.add_button.click()
    name = dialog.agents_tab.drafts[-1].name
    assert name not in items(dialog.tools_tab.rules.role_box)
    dialog.tabs.setCurrentIndex(dialog.tabs.indexOf(dialog.tools_tab.parentWidget()))
    assert name in items(dialog.tools_tab.rules.role_box)


# --- List tools ------------------------------------------------------------------------


def test_list_tools_starts_the_server_without_blocking_and_adds_its_tools(qtbot, qloop, open_dialog, tmp_path):
    dialog = open_dialog()
    tab = dialog.tools_tab
    import_servers(tab, tmp_path, {"echo": echo_server()})
    assert not tab.list_button.isEnabled()  # nothing selected
    tab.servers_table.selectRow(0)
    click(qtbot, tab.list_button)
    # the click returned at once: the server starts on the loop, after this line
    assert tab.servers_error.text() == "Starting echo to list its tools…"
    assert not tab.list_button.isEnabled() and "mcp__echo__add" not in tab.combos
    wait_for(qloop, lambda: "mcp__echo__add" in tab.combos, seconds=30)

    assert tab.servers_error.text().startswith("echo: 4 tools (add, echo, crash, hang)")
    rows = {tab.rules.table.item(r, 0).text(): tab.rules.table.item(r, 3).text()
            for r in range(tab.rules.table.rowCount())}
    assert rows["mcp__echo__add"] == "[MCP server echo] Add two integers."
    assert rows["mcp__echo__hang"] == "[MCP server echo] Never answer."
    assert tab.combos["mcp__echo__add"].currentText() == "ask · inherited from the default"
    assert tab.list_button.isEnabled()
    tab.combos["mcp__echo__add"].setCurrentIndex(2)  # allow, for all projects
    click_ok(qtbot, dialog)
    assert load_policies().everywhere.rules == {"mcp__echo__add": Permission.ALLOW}


def test_a_rule_for_an_unlisted_mcp_tool_is_shown_and_replaced_once_listed(qtbot, qloop, open_dialog, tmp_path):
    save_policies(load_policies().set("mcp__echo__echo", Permission.DENY))
    dialog = open_dialog()
    tab = dialog.tools_tab
    rows = [tab.rules.table.item(r, 0).text() for r in range(tab.rules.table.rowCount())]
    assert rows[-1] == "mcp__echo__echo" and tab.combos["mcp__echo__echo"].currentText() == "deny"
    import_servers(tab, tmp_path, {"echo": echo_server()})
    tab.servers_table.selectRow(0)
    click(qtbot, tab.list_button)
    wait_for(qloop, lambda: "mcp__echo__add" in tab.combos, seconds=30)
    rows = [tab.rules.table.item(r, 0).text() for r in range(tab.rules.table.rowCount())]
    assert rows.count("mcp__echo__echo") == 1 and tab.combos["mcp__echo__echo"].currentText() == "deny"


@pytest.mark.parametrize(("server", "words"), [
    (python_server("import sys; print('no token given', file=sys.stderr); sys.exit(3)"),
     ["Could not list the tools of broken: MCP server 'broken' did not start", "no token given"]),
    (python_server("import time; time.sleep(60)", startTimeout=1),
     ["Could not list the tools of broken: MCP server 'broken' did not start within 1 s"]),
    ({"command": "/nonexistent/troupe-mcp-server"},
     ["Could not list the tools of broken: MCP server 'broken' did not start"]),
], ids=["exits", "hangs", "missing"])
def test_a_server_that_cannot_list_its_tools_says_why(qtbot, qloop, open_dialog, tmp_path, server, words):
    dialog = open_dialog()
    tab = dialog.tools_tab
    import_servers(tab, tmp_path, {"broken": server})
    tab.servers_table.selectRow(0)
    click(qtbot, tab.list_button)
    wait_for(qloop, lambda: tab.list_button.isEnabled(), seconds=30)
    text = tab.servers_error.text()
    assert all(w in text for w in words), text
    assert QColor(theme.FAILED_COLOUR).name() in tab.servers_error.styleSheet().lower()
    assert not any(name.startswith("mcp__") for name in tab.combos)
    if "no token given" in text:
        dialog.grab().save(os.path.join(SHOTS or str(tmp_path), "tools_tab_list_failed.png"))


def test_screenshot_tool_rules_and_listed_tools(qtbot, qloop, open_dialog, tmp_path):
    save_policies(load_policies().set("write_file", Permission.DENY).set("fetch_url", Permission.ALLOW,
                                                                         project="Essay"))
    dialog = open_dialog()
    tab = dialog.tools_tab
    import_servers(tab, tmp_path, {"echo": echo_server()})
    tab.servers_table.selectRow(0)
    click(qtbot, tab.list_button)
    wait_for(qloop, lambda: "mcp__echo__add" in tab.combos, seconds=30)
    tab.rules.set_scope("Essay", "coder")
    tab.combos["run_shell"].setCurrentIndex(2)
    qtbot.wait(20)
    dialog.grab().save(os.path.join(SHOTS or str(tmp_path), "tools_tab_rules.png"))


def test_closing_the_dialog_while_listing_stops_the_server(qtbot, qloop, open_dialog, tmp_path):
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    dialog = open_dialog()
    tab = dialog.tools_tab
    import_servers(tab, tmp_path, {"slow": python_server(code)})
    tab.servers_table.selectRow(0)
    click(qtbot, tab.list_button)
    wait_for(qloop, lambda: pid_file.exists() and pid_file.read_text())
    pid = int(pid_file.read_text())
    dialog.reject()  # cancels the listing: the server must not outlive it
    wait_for(qloop, lambda: not _alive(pid) and not dialog.jobs.busy(), seconds=15)
    assert tab.servers_error.text() == "Starting slow to list its tools…"  # no late answer reached the tab


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) counts as gone
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


# --- the code sandbox and the network switches ------------------------------------------


def test_the_tab_says_whether_code_is_sandboxed_and_saves_the_network_switches(qtbot, open_dialog):
    from agents.tools.sandbox import detect
    from app.settings import load_settings, save_settings

    dialog = open_dialog()
    tab = dialog.tools_tab
    shown = tab.sandbox_label.text()
    found = detect()
    assert shown.startswith("Sandboxed (" if found.available else "No sandbox on this system (")
    if found.available:
        assert "has no network" in shown
        tab.code_network.setChecked(True)
        assert "may use the network" in tab.sandbox_label.text()
    else:
        tab.code_network.setChecked(True)
    tab.private_urls.setChecked(True)
    click_ok(qtbot, dialog)
    save_settings(dialog.result_settings())
    stored = load_settings()
    assert stored.code_network and stored.allow_private_urls
