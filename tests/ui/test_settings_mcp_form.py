"""Settings › Tools › Add MCP server: a server typed in, tested against a real stdio MCP
server, saved with its environment values in the keychain (never in the file), checked
with one-line messages, and edited again with the same form."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit

from agents.plan.roster import load_roster
from app.settings import Settings
from app.tools.mcp_config import IN_KEYCHAIN, load_servers, servers_path
from tests.support.settings_ui import click, click_ok, qasync_loop, type_into, wait_for
from ui import theme
from ui.settings import SettingsDialog
from ui.settings.mcp_form import STORED, McpServerForm
from ui.settings.tools_tab import ToolsTab

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "tests" / "support" / "mcp_echo_server.py"
SHOTS = os.environ.get("TROUPE_SHOTS")  # a folder: save screenshots there
TOKEN = "s3cret-token-value-0123456789"
NEEDS_TOKEN = ("import hashlib, os, runpy, sys; sys.exit('no ECHO_TOKEN given') "
               "if hashlib.sha256(os.environ.get('ECHO_TOKEN', '').encode()).hexdigest() != "
               f"{hashlib.sha256(TOKEN.encode()).hexdigest()!r} else runpy.run_path({str(ECHO)!r}, run_name='__main__')")
"""The echo server, started only when its environment has the right token (the code holds only its hash)."""


@pytest.fixture
def qloop(qapp):
    with qasync_loop(qapp) as loop:
        yield loop


@pytest.fixture
def open_tab(qtbot, memory_keyring, troupe_home):
    def open_() -> tuple[SettingsDialog, ToolsTab]:
        dialog = SettingsDialog(Settings(), load_roster())
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.tabs.setCurrentIndex(dialog.tabs.indexOf(dialog.tools_tab.parentWidget()))
        qtbot.waitExposed(dialog)
        return dialog, dialog.tools_tab
    return open_


def fill_echo(qtbot, form: McpServerForm, name: str = "echo") -> None:
    """The token-guarded echo server, typed in as a person would."""
    type_into(qtbot, form.name, name)
    type_into(qtbot, form.command, sys.executable)
    form.arguments.setText(shlex.join(["-c", NEEDS_TOKEN]))
    type_into(qtbot, form.rows[0].name, "ECHO_TOKEN")
    type_into(qtbot, form.rows[0].value, TOKEN)


def save(qtbot, form: McpServerForm) -> None:
    click(qtbot, form.buttons.button(QDialogButtonBox.StandardButton.Save))


def shown_text(form: McpServerForm) -> str:
    """Every text the form shows or holds in a field."""
    return "\n".join(w.text() for w in form.findChildren(QLineEdit)) + form.tested.text() + form.message.text()


def test_a_stdio_server_is_added_tested_and_saved_with_its_value_in_the_keychain(
        qtbot, qloop, open_tab, memory_keyring) -> None:
    dialog, tab = open_tab()
    click(qtbot, tab.add_button)
    form = tab.form
    assert form is not None and form.isVisible() and form.windowTitle() == "Add MCP server"
    fill_echo(qtbot, form)
    click(qtbot, form.test_button)
    assert form.tested.text() == "Starting echo…" and not form.test_button.isEnabled()  # the click returned
    wait_for(qloop, lambda: form.test_button.isEnabled(), seconds=30)
    assert form.tested.text() == "Works: 4 tools: add, echo, crash, hang", form.tested.text()
    save(qtbot, form)
    assert not form.isVisible()
    assert [s.name for s in tab.servers()] == ["echo"]
    assert tab.servers_error.text() == "Added echo; OK saves it (its values go to the keychain)."
    assert tab.servers_table.item(0, 3).text() == "ECHO_TOKEN"
    assert "mcp__echo__add" in tab.combos  # the tools Test listed are in the rules table
    assert memory_keyring.passwords == {}  # nothing is written before OK

    click_ok(qtbot, dialog)
    text = servers_path().read_text(encoding="utf-8")
    assert TOKEN not in text
    assert json.loads(text)["mcpServers"]["echo"]["env"] == {"ECHO_TOKEN": IN_KEYCHAIN}
    assert memory_keyring.passwords == {("troupe", "mcp:echo:env:ECHO_TOKEN"): TOKEN}
    [server] = load_servers()
    assert (server.command, server.args, dict(server.env)) == (sys.executable, ("-c", NEEDS_TOKEN),
                                                               {"ECHO_TOKEN": TOKEN})


def test_a_server_that_does_not_start_says_why(qtbot, qloop, open_tab) -> None:
    _dialog, tab = open_tab()
    form = tab.open_form()
    fill_echo(qtbot, form)
    type_into(qtbot, form.rows[0].value, "wrong")
    click(qtbot, form.test_button)
    wait_for(qloop, lambda: form.test_button.isEnabled(), seconds=30)
    text = form.tested.text()
    assert text.startswith("Could not start it: MCP server 'echo' did not start") and "no ECHO_TOKEN given" in text
    assert QColor(theme.FAILED_COLOUR).name() in form.tested.styleSheet().lower()
    assert form.probe is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f.name.clear(), "Give the server a name."),
    (lambda f: f.name.setText("my server"),
     "Use only letters, digits, - and _ in the name (it becomes part of its tools' names)."),
    (lambda f: f.name.setText("taken"), "There is already a server named taken."),
    (lambda f: f.command.setText("  "), "Enter the command that starts the server."),
    (lambda f: f.arguments.setText("-c 'print(1)"), "The arguments have a quote that is not closed."),
    (lambda f: f.rows[0].name.setText("1TOKEN"),
     "1TOKEN is not a variable name (letters, digits and _, not starting with a digit)."),
    (lambda f: f.rows[0].value.clear(), "Give ECHO_TOKEN a value."),
    (lambda f: f.add_row("ECHO_TOKEN").value.setText("x"), "ECHO_TOKEN is given twice."),
    (lambda f: (f.transport.setCurrentIndex(f.transport.findData("http")), f.url.setText("localhost:8000/mcp")),
     "Enter a URL that starts with http:// or https://, such as http://127.0.0.1:8000/mcp."),
], ids=["no-name", "bad-name", "duplicate", "no-command", "quote", "env-name", "no-value", "twice", "bad-url"])
def test_what_is_missing_is_said_in_one_line(qtbot, open_tab, tmp_path, change, message) -> None:
    _dialog, tab = open_tab()
    source = tmp_path / "mcp.json"
    source.write_text(json.dumps({"mcpServers": {"taken": {"command": "true"}}}), encoding="utf-8")
    assert tab.import_file(source)
    form = tab.open_form()
    fill_echo(qtbot, form)
    change(form)
    save(qtbot, form)
    assert form.isVisible() and form.message.text() == message
    assert "\n" not in form.message.text()
    assert QColor(theme.FAILED_COLOUR).name() in form.message.styleSheet().lower()
    assert [s.name for s in tab.servers()] == ["taken"]
    click(qtbot, form.test_button)  # Test checks the same first
    assert form.message.text() == message and form.test_button.isEnabled()


def test_editing_keeps_a_stored_value_without_showing_it(qtbot, qloop, open_tab, memory_keyring) -> None:
    dialog, tab = open_tab()
    form = tab.open_form()
    fill_echo(qtbot, form)
    save(qtbot, form)
    click_ok(qtbot, dialog)

    dialog, tab = open_tab()  # Settings opened again: the server comes from the file and the keychain
    tab.servers_table.selectRow(0)
    click(qtbot, tab.edit_button)
    form = tab.form
    assert form is not None and form.windowTitle() == "Edit MCP server echo"
    assert (form.name.text(), form.command.text()) == ("echo", sys.executable)
    [token] = form.rows
    assert (token.name.text(), token.value.text(), token.value.placeholderText()) == ("ECHO_TOKEN", "", STORED)
    assert TOKEN not in shown_text(form)
    click(qtbot, form.test_button)  # the stored value reaches the server
    wait_for(qloop, lambda: form.test_button.isEnabled(), seconds=30)
    assert form.tested.text().startswith("Works: 4 tools"), form.tested.text()
    assert TOKEN not in shown_text(form)

    type_into(qtbot, form.name, "echo2")  # renamed; the value follows
    add = form.add_row()
    type_into(qtbot, add.name, "LOG_LEVEL")
    type_into(qtbot, add.value, "debug")
    save(qtbot, form)
    assert tab.servers_error.text() == "Changed echo2; OK saves it (its values go to the keychain)."
    click_ok(qtbot, dialog)
    [server] = load_servers()
    assert (server.name, dict(server.env)) == ("echo2", {"ECHO_TOKEN": TOKEN, "LOG_LEVEL": "debug"})
    assert TOKEN not in servers_path().read_text(encoding="utf-8")


def test_a_url_server_keeps_its_headers_in_the_keychain(qtbot, open_tab, memory_keyring) -> None:
    dialog, tab = open_tab()
    form = tab.open_form()
    type_into(qtbot, form.name, "remote")
    form.transport.setCurrentIndex(form.transport.findData("http"))
    assert form.command.isHidden() and not form.url.isHidden()
    assert form.secrets_title.text() == "Request headers"
    type_into(qtbot, form.url, "https://mcp.example.com/mcp")
    type_into(qtbot, form.rows[0].name, "Authorization")
    type_into(qtbot, form.rows[0].value, f"Bearer {TOKEN}")
    save(qtbot, form)
    click_ok(qtbot, dialog)
    entry = json.loads(servers_path().read_text(encoding="utf-8"))["mcpServers"]["remote"]
    assert entry == {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": IN_KEYCHAIN}}
    assert memory_keyring.passwords == {("troupe", "mcp:remote:header:Authorization"): f"Bearer {TOKEN}"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot_the_form(qtbot, qloop, open_tab, tmp_path, scheme) -> None:
    theme.apply_theme(scheme)
    folder = SHOTS or str(tmp_path)
    try:
        dialog, tab = open_tab()
        form = tab.open_form()
        fill_echo(qtbot, form)
        form.arguments.setText(shlex.quote(str(ECHO)))  # the echo server itself: a readable line
        form.arguments.setCursorPosition(0)
        click(qtbot, form.test_button)
        wait_for(qloop, lambda: form.test_button.isEnabled(), seconds=30)
        extra = form.add_row()
        extra.name.setText("LOG_LEVEL")
        save(qtbot, form)  # LOG_LEVEL has no value: the one-line message shows
        form.resize(640, form.sizeHint().height())
        qtbot.wait(20)
        form.grab().save(os.path.join(folder, f"mcp-server-form-{scheme}.png"))
        extra.value.setText("debug")
        save(qtbot, form)
        qtbot.wait(20)
        dialog.grab().save(os.path.join(folder, f"tools-tab-mcp-{scheme}.png"))
    finally:
        theme.apply_theme("system")
