"""Settings › Tools: the code sandbox and network switches, who may run each tool (per
project and role), and the MCP servers.

The rules table (ui/settings/tool_rules.py) edits tool_policies.json for the
scope its two combo boxes pick. MCP servers are shown by name, transport and
command or URL; their env and header values (often API keys) are never
shown, only their names. List tools starts the selected server as a run
would (on the dialog's loop, never blocking the window) and adds its tools to
the rules table. Add MCP server and Edit open ui/settings/mcp_form.py; Import
reads another app's `mcpServers` file; nothing is written before OK, which
saves both files (`ToolsTab.install` hooks that to the dialog's `accepted`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from agents.tools import sandbox
from agents.tools.builtin import builtin_tools
from agents.tools.mcp_client import McpConfigError, McpServerConfig
from app.settings import Settings
from app.tools.mcp_config import load_servers, read_servers_file, save_servers
from app.tools.mcp_probe import Probe, probe_server
from app.tools.settings import ToolPolicies, load_policies, project_names, save_policies
from ui import theme
from ui.settings.jobs import Jobs
from ui.settings.mcp_form import McpServerForm, saved_line, servers_table, with_server
from ui.settings.tool_rules import ToolRules
from ui.settings.widgets import hint_label, padded, row, say, section

if TYPE_CHECKING:
    from PySide6.QtWidgets import QComboBox

    from agents.tools.base import Tool

log = logging.getLogger(__name__)


class ToolsTab(QWidget):
    """Tool rules for a chosen scope, and the configured MCP servers with List tools."""

    def __init__(self, parent: QWidget | None = None, *, policies_path: Path | None = None,
                 servers_path: Path | None = None, history_path: Path | None = None,
                 roles: Callable[[], Iterable[str]] = tuple, jobs: Jobs | None = None,
                 settings: Settings | None = None) -> None:
        super().__init__(parent)
        settings = settings or Settings()
        self.code_network = QCheckBox("Let run_python and run_shell use the &network")
        self.code_network.setChecked(settings.code_network)
        self.private_urls = QCheckBox("Let fetch_url reach this computer and the local &network")
        self.private_urls.setChecked(settings.allow_private_urls)
        self.sandbox_label = hint_label()
        self.sandbox_label.setObjectName("sandbox")
        self.code_network.toggled.connect(self._show_sandbox)
        self._show_sandbox()
        self._policies_path, self._servers_path = policies_path, servers_path
        self._policies: ToolPolicies = load_policies(policies_path)
        self._roles = roles
        self.jobs = jobs or Jobs(self)
        self.rules = ToolRules(self._policies, builtin_tools(), project_names(self._policies, history_path),
                               roles())
        self.servers_error = hint_label()
        try:
            self._servers: list[McpServerConfig] = load_servers(servers_path)
            self._servers_readable = True
        except McpConfigError as exc:
            self._servers, self._servers_readable = [], False
            say(self.servers_error, "mcp_servers.json could not be read (it is left as it is): "
                + "; ".join(exc.problems), theme.FAILED_COLOUR)
        self._saved_servers = list(self._servers)
        self._listing: set[str] = set()
        """Servers whose tools are being listed."""
        self.servers_table = servers_table()
        self.form: McpServerForm | None = None  # the Add / Edit MCP server form last opened
        self.add_button = QPushButton("&Add MCP server…")
        self.edit_button = QPushButton("&Edit…")
        self.import_button = QPushButton("&Import mcpServers JSON…")
        self.import_button.setToolTip("Add the servers of a Claude Desktop, Cursor or similar config file")
        self.remove_button = QPushButton("Re&move")
        self.list_button = QPushButton("&List tools")
        self.list_button.setToolTip("Start the selected server and show its tools, so you can set their rules")
        self.import_button.clicked.connect(self._on_import_clicked)
        self.add_button.clicked.connect(lambda: self.open_form())
        self.edit_button.clicked.connect(self.edit_selected)
        self.servers_table.itemDoubleClicked.connect(lambda _item: self.edit_selected())
        self.remove_button.clicked.connect(self.remove_selected)
        self.list_button.clicked.connect(self.list_selected)
        self._build()
        self._show_servers()

    @classmethod
    def install(cls, dialog: QDialog, tabs: QTabWidget, settings: Settings | None = None) -> ToolsTab:
        """Add the tab to a settings dialog; the dialog's OK (accepted) saves it."""
        agents_tab, jobs = getattr(dialog, "agents_tab", None), getattr(dialog, "jobs", None)
        tab = cls(jobs=jobs, roles=lambda: [d.name for d in agents_tab.drafts] if agents_tab else [],
                  settings=settings)
        tabs.addTab(padded(tab), "Tools")
        dialog.accepted.connect(tab.save_or_warn)
        return tab

    @property
    def combos(self) -> dict[str, QComboBox]:
        """Each tool's Rule box, for the scope shown."""
        return self.rules.boxes

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        self.rules.set_roles(self._roles())  # roles added on the Agents tab meanwhile
        super().showEvent(event)

    # --- construction --------------------------------------------------------------

    def _build(self) -> None:
        self.servers_table.itemSelectionChanged.connect(self._update_buttons)
        layout = QVBoxLayout(self)
        layout.setSpacing(6)
        layout.addWidget(section("Code and network"))
        layout.addWidget(self.sandbox_label)
        layout.addWidget(row(self.code_network, self.private_urls))
        layout.addSpacing(8)
        layout.addWidget(section("Tool rules"))
        layout.addWidget(hint_label("What happens when an agent calls a tool: ask you first, allow it, or deny it. "
                                    "A role's rule beats a project's, a project's beats the one for all projects."))
        layout.addWidget(self.rules, 4)
        layout.addSpacing(8)
        layout.addWidget(section("MCP servers"))
        layout.addWidget(hint_label("Their tools ask first unless a rule says otherwise. "
                                    "Environment values stay in the keychain and are never shown."))
        layout.addWidget(self.servers_table, 1)
        layout.addWidget(self.servers_error)
        layout.addWidget(row(self.add_button, self.import_button, self.edit_button, self.remove_button,
                             self.list_button, stretch=None))

    def _show_sandbox(self) -> None:
        found = sandbox.detect()
        text = found.describe(sandbox.CodeLimits(network=self.code_network.isChecked()))
        say(self.sandbox_label, text, None if found.available else theme.FAILED_COLOUR)

    def values(self) -> dict[str, bool]:
        """The settings.json fields this tab edits."""
        return {"code_network": self.code_network.isChecked(),
                "allow_private_urls": self.private_urls.isChecked()}

    # --- servers ----------------------------------------------------------------------

    def servers(self) -> list[McpServerConfig]:
        return list(self._servers)

    def import_file(self, source: Path) -> bool:
        """Add the servers of an `mcpServers` file (same name: replaced); False with a message if bad."""
        try:
            found, skipped = read_servers_file(source)
        except McpConfigError as exc:
            say(self.servers_error, "Nothing imported: " + "; ".join(exc.problems), theme.FAILED_COLOUR)
            return False
        imported = {s.name: s for s in found}
        left_out = "".join(f"\nSkipped {why}" for why in skipped)
        if not imported:
            say(self.servers_error, f"Nothing imported: {source.name} lists no servers it can use."
                + left_out, theme.FAILED_COLOUR)
            return False
        self._servers = [s for s in self._servers if s.name not in imported] + list(imported.values())
        self._servers_readable = True
        say(self.servers_error, f"Imported {', '.join(sorted(imported))}; OK saves them." + left_out)
        self._show_servers()
        return True

    def open_form(self, server: McpServerConfig | None = None) -> McpServerForm:
        """Add MCP server (Edit: filled in with `server`); its Save adds or replaces the server."""
        def saved(new: McpServerConfig, tools: list[Tool]) -> None:
            self._servers, self._servers_readable = with_server(self._servers, new, server), True
            self.rules.add_tools(tools)  # the ones its Test listed
            say(self.servers_error, saved_line(new, server))
            self._show_servers()
            self.servers_table.selectRow(self._servers.index(new))

        self.form = McpServerForm([s.name for s in self._servers], server, parent=self,
                                  stored=server is not None and server in self._saved_servers)
        self.form.saved.connect(saved)
        self.form.open()
        return self.form

    def edit_selected(self) -> None:
        if len(rows := self._selected_rows()) == 1:
            self.open_form(self._servers[rows[0]])

    def remove_selected(self) -> None:
        rows = set(self._selected_rows())
        self._servers = [s for i, s in enumerate(self._servers) if i not in rows]
        self._show_servers()

    def _on_import_clicked(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import MCP servers", str(Path.home()),
                                              "JSON files (*.json);;All files (*)")
        if name:
            self.import_file(Path(name))

    def _show_servers(self) -> None:
        table = self.servers_table
        table.setRowCount(len(self._servers))
        for i, server in enumerate(self._servers):
            where = (" ".join((server.command, *server.args)) if server.transport == "stdio" else server.url)
            names = sorted({*server.env, *server.headers})
            cells = (server.name, server.transport, where, ", ".join(names) if names else "—")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                table.setItem(i, column, item)
        self._update_buttons()

    def _update_buttons(self) -> None:
        rows = self._selected_rows()
        self.remove_button.setEnabled(bool(rows))
        self.edit_button.setEnabled(len(rows) == 1)
        chosen = self._servers[rows[0]].name if len(rows) == 1 else None
        self.list_button.setEnabled(chosen is not None and chosen not in self._listing)

    def _selected_rows(self) -> list[int]:
        return sorted(index.row() for index in self.servers_table.selectionModel().selectedRows())

    # --- List tools ------------------------------------------------------------------

    def list_selected(self) -> None:
        """Start the selected server off the window's critical path; its tools join the rules table."""
        rows = self._selected_rows()
        if len(rows) != 1:
            return
        server = self._servers[rows[0]]
        self._listing.add(server.name)
        say(self.servers_error, f"Starting {server.name} to list its tools…")
        self._update_buttons()
        name = server.name

        def failed(exc: BaseException) -> None:
            self._on_listed(Probe(name, error=str(exc)))

        self.jobs.start(probe_server(server), self._on_listed, failed)

    def _on_listed(self, probe: Probe) -> None:
        self._listing.discard(probe.server)
        self._update_buttons()
        if probe.server not in {s.name for s in self._servers}:
            return  # removed meanwhile
        if probe.error:
            say(self.servers_error, f"Could not list the tools of {probe.server}: {probe.error}",
                theme.FAILED_COLOUR)
            return
        self.rules.add_tools(probe.tools)
        names = ", ".join(t.name.removeprefix(f"mcp__{probe.server}__") for t in probe.tools)
        unusable = "".join(f"\nLeft out {name}: {why}." for name, why in probe.left_out.items())
        say(self.servers_error, f"{probe.server}: {len(probe.tools)} tools ({names or 'none'}); "
            "they are in the table above, where you can set their rules." + unusable)

    # --- saving ------------------------------------------------------------------------

    def policies(self) -> ToolPolicies:
        """The rules as edited, in every scope."""
        return self.rules.policies()

    def save(self) -> None:
        """Write tool_policies.json and mcp_servers.json when they changed (raises OSError, McpConfigError)."""
        policies = self.policies()
        if policies != self._policies:
            save_policies(policies, self._policies_path)
            self._policies = policies
        if self._servers_readable and self._servers != self._saved_servers:
            save_servers(self._servers, self._servers_path)
            self._saved_servers = list(self._servers)

    def save_or_warn(self) -> None:
        try:
            self.save()
        except (OSError, McpConfigError) as exc:
            log.warning("could not save the tool settings: %s", exc)
            QMessageBox.warning(self.window(), "Tools not saved", f"Could not save the tool settings: {exc}")
