"""Settings › Tools: who may run each built-in tool, and the MCP servers.

The permissions here are the rules for all projects (tool_policies.json keeps
per-project and per-role rules too; they are left as they are). MCP servers
are shown by name, transport and command or URL; their env and header values
(often API keys) are never shown, only their names. Import reads another
app's `mcpServers` file; nothing is written before OK, which saves both files
(`ToolsTab.install` hooks that to the dialog's `accepted`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from agents.builtin_tools import builtin_registry
from agents.mcp_client import McpConfigError, McpServerConfig
from agents.tools import Permission, Tool, ToolPolicy
from app.mcp_config import load_servers, save_servers
from app.tool_settings import ToolPolicies, load_policies, save_policies
from ui import theme
from ui.settings.widgets import hint_label, padded, row, say, section

log = logging.getLogger(__name__)

PERMISSIONS = (Permission.ASK, Permission.ALLOW, Permission.DENY)
SERVER_COLUMNS = ("Name", "Transport", "Command / URL", "Environment")


class ToolsTab(QWidget):
    """Built-in tools with a permission each (all projects), and the configured MCP servers."""

    def __init__(self, parent: QWidget | None = None, *, policies_path: Path | None = None,
                 servers_path: Path | None = None) -> None:
        super().__init__(parent)
        self._policies_path, self._servers_path = policies_path, servers_path
        self._policies: ToolPolicies = load_policies(policies_path)
        registry = builtin_registry()
        self._tools: list[Tool] = [t for name in registry.names if (t := registry.get(name)) is not None]
        self.combos: dict[str, QComboBox] = {}
        self.servers_error = hint_label()
        try:
            self._servers: list[McpServerConfig] = load_servers(servers_path)
            self._servers_readable = True
        except McpConfigError as exc:
            self._servers, self._servers_readable = [], False
            say(self.servers_error, "mcp_servers.json could not be read (it is left as it is): "
                + "; ".join(exc.problems), theme.FAILED_COLOUR)
        self._saved_servers = list(self._servers)
        self.tools_table = self._build_tools_table()
        self.servers_table = QTableWidget(0, len(SERVER_COLUMNS))
        self.import_button = QPushButton("&Import mcpServers JSON…")
        self.import_button.setToolTip("Add the servers of a Claude Desktop, Cursor or similar config file")
        self.remove_button = QPushButton("&Remove")
        self.import_button.clicked.connect(self._on_import_clicked)
        self.remove_button.clicked.connect(self.remove_selected)
        self._build()
        self._show_servers()

    @classmethod
    def install(cls, dialog: QDialog, tabs: QTabWidget) -> ToolsTab:
        """Add the tab to a settings dialog; the dialog's OK (accepted) saves it."""
        tab = cls()
        tabs.addTab(padded(tab), "Tools")
        dialog.accepted.connect(tab.save_or_warn)
        return tab

    # --- construction --------------------------------------------------------------

    def _build_tools_table(self) -> QTableWidget:
        table = QTableWidget(len(self._tools), 4)
        table.setHorizontalHeaderLabels(["Tool", "Risk", "Permission (all projects)", "What it does"])
        table.setAccessibleName("Built-in tools")
        defaults = ToolPolicy()
        for i, tool in enumerate(self._tools):
            name = QTableWidgetItem(tool.name)
            name.setToolTip(tool.description)
            table.setItem(i, 0, name)
            table.setItem(i, 1, QTableWidgetItem(str(tool.risk)))
            about = QTableWidgetItem(tool.description)
            about.setToolTip(tool.description)
            about.setForeground(theme.dim_text_colour())
            table.setItem(i, 3, about)
            combo = QComboBox()
            default = defaults.permission(tool)
            for permission in PERMISSIONS:
                label = f"{permission.value} (default)" if permission is default else permission.value
                combo.addItem(label, permission.value)
            current = self._policies.everywhere.rule(tool.name, None) or default
            combo.setCurrentIndex(PERMISSIONS.index(current))
            combo.setAccessibleName(f"Permission for {tool.name}")
            table.setCellWidget(i, 2, combo)
            self.combos[tool.name] = combo
        self._tidy(table)
        table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        return table

    def _build(self) -> None:
        table = self.servers_table
        table.setHorizontalHeaderLabels(list(SERVER_COLUMNS))
        table.setAccessibleName("MCP servers")
        self._tidy(table)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.itemSelectionChanged.connect(self._update_buttons)
        layout = QVBoxLayout(self)
        layout.setSpacing(6)
        layout.addWidget(section("Built-in tools"))
        layout.addWidget(hint_label("What happens when an agent calls a tool: ask you first, allow it, or deny it. "
                                    "Rules for one project or role are kept in tool_policies.json."))
        layout.addWidget(self.tools_table, 3)
        layout.addSpacing(8)
        layout.addWidget(section("MCP servers"))
        layout.addWidget(hint_label("Their tools ask first unless a rule says otherwise. "
                                    "Environment values stay in the keychain and are never shown."))
        layout.addWidget(self.servers_table, 2)
        layout.addWidget(self.servers_error)
        layout.addWidget(row(self.import_button, self.remove_button, stretch=None))

    @staticmethod
    def _tidy(table: QTableWidget) -> None:
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    # --- servers ----------------------------------------------------------------------

    def servers(self) -> list[McpServerConfig]:
        return list(self._servers)

    def import_file(self, source: Path) -> bool:
        """Add the servers of an `mcpServers` file (same name: replaced); False with a message if bad."""
        try:
            imported = {s.name: s for s in load_servers(source)}
        except McpConfigError as exc:
            say(self.servers_error, "Nothing imported: " + "; ".join(exc.problems), theme.FAILED_COLOUR)
            return False
        if not imported:
            say(self.servers_error, f"Nothing imported: {source.name} lists no servers.", theme.FAILED_COLOUR)
            return False
        self._servers = [s for s in self._servers if s.name not in imported] + list(imported.values())
        self._servers_readable = True
        say(self.servers_error, f"Imported {', '.join(sorted(imported))}; OK saves them.")
        self._show_servers()
        return True

    def remove_selected(self) -> None:
        rows = {index.row() for index in self.servers_table.selectionModel().selectedRows()}
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
        self.remove_button.setEnabled(bool(self.servers_table.selectionModel().selectedRows()))

    # --- saving ------------------------------------------------------------------------

    def policies(self) -> ToolPolicies:
        """The stored rules with this tab's all-projects choices (unchanged tools keep no rule)."""
        policies = self._policies
        defaults = ToolPolicy()
        for tool in self._tools:
            chosen = Permission(self.combos[tool.name].currentData())
            stored = policies.everywhere.rule(tool.name, None)
            if chosen is not stored and not (stored is None and chosen is defaults.permission(tool)):
                policies = policies.set(tool.name, chosen)
        return policies

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
