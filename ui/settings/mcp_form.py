"""Settings › Tools › Add MCP server: one server typed in, tried and added (or edited).

The form asks for a name, how the server is reached (a command and its
arguments, or the URL of a streamable-HTTP or SSE server) and its environment
variables (request headers for a URL) as NAME = value rows. Values are kept in
memory until the Settings dialog's OK, which writes them to the keychain
(app/tools/mcp_config.py); a value already stored is never shown again, its row
says so, and left empty it is kept. Test starts the server as a run would and
lists its tools on the dialog's loop (the window never waits for it).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from agents.tools.mcp_client import McpServerConfig
from app.tools.mcp_probe import Probe, probe_server
from ui import theme
from ui.settings.jobs import Jobs
from ui.settings.widgets import OK_COLOUR, Problem, hint_label, row, say, section

TRANSPORTS = (("stdio", "Command (stdio)"), ("http", "URL (streamable HTTP)"), ("sse", "URL (SSE, older servers)"))
"""The transport box's choices: McpServerConfig.transport, and what the person reads."""

STORED = "stored in the keychain"
"""What a row whose value is already in the keychain shows instead of the value."""
KEPT = "kept; goes to the keychain on OK"
"""The same for a value typed or imported in this dialog and not yet saved."""

SERVER_COLUMNS = ("Name", "Transport", "Command / URL", "Environment")
"""The Tools tab's table of servers: what each shows (never an env or header value)."""

_SERVER_NAME = re.compile(r"[A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def servers_table() -> QTableWidget:
    """The Tools tab's table of configured servers, one row each, read-only."""
    table = QTableWidget(0, len(SERVER_COLUMNS))
    table.setHorizontalHeaderLabels(list(SERVER_COLUMNS))
    table.setAccessibleName("MCP servers")
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def with_server(servers: list[McpServerConfig], server: McpServerConfig,
                old: McpServerConfig | None) -> list[McpServerConfig]:
    """`servers` with `old` replaced by `server` in its place, or `server` added at the end."""
    if old is not None and old in servers:
        return [server if s == old else s for s in servers]
    return [*servers, server]


def saved_line(server: McpServerConfig, old: McpServerConfig | None) -> str:
    """What the Tools tab says once the form is saved."""
    values = " (its values go to the keychain)" if server.env or server.headers else ""
    return f"{'Changed' if old else 'Added'} {server.name}; OK saves it{values}."


class SecretRow(QWidget):
    """One NAME = value row; a value the form was given is never shown, only said to be kept."""

    def __init__(self, name: str = "", kept: str | None = None, note: str = STORED) -> None:
        super().__init__()
        self.kept = kept
        """The value the row had before (None for a new row): used when the value is left empty."""
        self.name = QLineEdit(name, placeholderText="NAME")
        self.name.setMaximumWidth(200)
        self.value = QLineEdit(placeholderText=note if kept is not None else "value")
        self.value.setEchoMode(QLineEdit.EchoMode.Password)  # often a key: never on screen, as in Providers
        self.value.setAccessibleName(f"Value of {name}" if name else "Value")
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this row")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        for widget in (self.name, QLabel("="), self.value, self.remove):
            layout.addWidget(widget, 1 if widget is self.value else 0)

    def entry(self) -> tuple[str, str]:
        """(name, value): the value typed, else the one kept."""
        return self.name.text().strip(), self.value.text() or (self.kept or "")

    def is_blank(self) -> bool:
        return not self.name.text().strip() and not self.value.text() and self.kept is None


class McpServerForm(QDialog):
    """Add (or edit) one MCP server: name, command or URL, secret variables, Test."""

    saved = Signal(object, list)
    """Save pressed on a complete form: the server (McpServerConfig) and the tools its Test listed."""

    def __init__(self, taken: Iterable[str], server: McpServerConfig | None = None, *, stored: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit MCP server {server.name}" if server else "Add MCP server")
        self._taken = set(taken) - ({server.name} if server else set())
        self._original = server
        self._note = STORED if stored else KEPT
        self.jobs = Jobs(self)
        self.finished.connect(self.deleteLater)
        self.probe: TestedProbe | None = None
        """The last Test that listed tools, with the server it started."""
        self.name = QLineEdit(placeholderText="e.g. github")
        self.transport = QComboBox()
        for value, label in TRANSPORTS:
            self.transport.addItem(label, value)
        self.command = QLineEdit(placeholderText="e.g. npx, uvx, or the path of a program")
        self.arguments = QLineEdit(placeholderText="e.g. -y @modelcontextprotocol/server-github")
        self.arguments.setToolTip("Separated by spaces; quote an argument that has spaces in it, as in a shell")
        self.url = QLineEdit(placeholderText="e.g. http://127.0.0.1:8000/mcp")
        self.rows: list[SecretRow] = []
        self._rows_box = QVBoxLayout()
        self._rows_box.setSpacing(4)
        self.secrets_title = section("Environment variables")
        self.add_row_button = QPushButton("+ Add &variable")
        self.test_button = QPushButton("&Test")
        self.test_button.setToolTip("Start the server as a run would and list its tools")
        self.tested = hint_label()
        self.tested.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel()
        self.message.setAccessibleName("Problem")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self._build()
        self._fill(server)
        self.transport.currentIndexChanged.connect(self._on_transport_changed)
        self.add_row_button.clicked.connect(lambda: self.add_row())
        self.test_button.clicked.connect(self.test)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self._on_transport_changed()

    def _build(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("&Name", self.name)
        form.addRow("T&ransport", self.transport)
        form.addRow("&Command", self.command)
        form.addRow("&Arguments", self.arguments)
        form.addRow("&URL", self.url)
        self._form = form
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addSpacing(6)
        layout.addWidget(self.secrets_title)
        layout.addWidget(hint_label("Values go to the keychain when you press OK in Settings, never to "
                                    "mcp_servers.json or the log; a stored value is not shown again "
                                    "(leave it empty to keep it)."))
        layout.addLayout(self._rows_box)
        layout.addWidget(row(self.add_row_button, stretch=None))
        layout.addSpacing(6)
        layout.addWidget(row(self.test_button, self.tested, stretch=1))
        layout.addStretch(1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)

    def _fill(self, server: McpServerConfig | None) -> None:
        if server is None:
            self.add_row()
            return
        self.name.setText(server.name)
        self.transport.setCurrentIndex(max(0, self.transport.findData(server.transport)))
        self.command.setText(server.command)
        self.arguments.setText(shlex.join(server.args))
        self.url.setText(server.url)
        values = server.env if server.transport == "stdio" else server.headers
        for name, value in values.items():
            self.add_row(name, kept=value)
        if not values:
            self.add_row()

    def add_row(self, name: str = "", kept: str | None = None) -> SecretRow:
        """A NAME = value row; `kept` is a value already given (never shown)."""
        secret = SecretRow(name, kept, self._note)
        secret.remove.clicked.connect(lambda: self._remove_row(secret))
        self.rows.append(secret)
        self._rows_box.addWidget(secret)
        return secret

    def _remove_row(self, secret: SecretRow) -> None:
        self.rows.remove(secret)
        self._rows_box.removeWidget(secret)
        secret.deleteLater()

    def _on_transport_changed(self) -> None:
        stdio = self.transport.currentData() == "stdio"
        for field in (self.command, self.arguments):
            self._form.setRowVisible(field, stdio)
        self._form.setRowVisible(self.url, not stdio)
        self.secrets_title.setText("Environment variables" if stdio else "Request headers")
        self.add_row_button.setText("+ Add &variable" if stdio else "+ Add &header")

    # --- checking and building ----------------------------------------------------------

    def problem(self) -> Problem | None:
        """The first thing that keeps the form from making a server, as one line."""
        name = self.name.text().strip()
        if not name:
            return Problem("Give the server a name.", self.name.setFocus)
        if not _SERVER_NAME.fullmatch(name):
            return Problem("Use only letters, digits, - and _ in the name (it becomes part of its tools' names).",
                           self.name.setFocus)
        if name in self._taken:
            return Problem(f"There is already a server named {name}.", self.name.setFocus)
        return self._place_problem() or self._rows_problem()

    def _place_problem(self) -> Problem | None:
        if self.transport.currentData() == "stdio":
            if not self.command.text().strip():
                return Problem("Enter the command that starts the server.", self.command.setFocus)
            try:
                shlex.split(self.arguments.text())
            except ValueError:
                return Problem("The arguments have a quote that is not closed.", self.arguments.setFocus)
            return None
        url = self.url.text().strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            return Problem("Enter a URL that starts with http:// or https://, such as http://127.0.0.1:8000/mcp.",
                           self.url.setFocus)
        return None

    def _rows_problem(self) -> Problem | None:
        stdio = self.transport.currentData() == "stdio"
        pattern, kind = (_ENV_NAME, "variable") if stdio else (_HEADER_NAME, "header")
        seen: set[str] = set()
        for secret in self.rows:
            name, value = secret.entry()
            if secret.is_blank():
                continue
            if not name:
                return Problem(f"Give every {kind} a name.", secret.name.setFocus)
            if not pattern.fullmatch(name):
                words = "letters, digits and _, not starting with a digit" if stdio else "no spaces or colons"
                return Problem(f"{name} is not a {kind} name ({words}).", secret.name.setFocus)
            if name in seen:
                return Problem(f"{name} is given twice.", secret.name.setFocus)
            if not value:
                return Problem(f"Give {name} a value.", secret.value.setFocus)
            seen.add(name)
        return None

    def config(self) -> McpServerConfig:
        """The server as the form describes it (check `problem()` first)."""
        values = {name: value for name, value in (r.entry() for r in self.rows) if name}
        base = self._original or McpServerConfig(name="")
        if self.transport.currentData() == "stdio":
            return replace(base, name=self.name.text().strip(), transport="stdio",
                           command=self.command.text().strip(), args=tuple(shlex.split(self.arguments.text())),
                           env=values, url="", headers={})
        return replace(base, name=self.name.text().strip(), transport=self.transport.currentData(),
                       url=self.url.text().strip(), headers=values, command="", args=(), env={})

    def _refuse(self, found: Problem) -> None:
        say(self.message, found.message, theme.FAILED_COLOUR)
        found.focus()

    # --- Save and Test ------------------------------------------------------------------

    def save(self) -> None:
        """Close with the server when the form is complete; else say what is missing."""
        found = self.problem()
        if found is not None:
            self._refuse(found)
            return
        tested = self.probe is not None and self.probe.config == self.config()
        self.accept()
        self.saved.emit(self.config(), self.probe.probe.tools if self.probe and tested else [])

    def test(self) -> None:
        """Start the server off the window's critical path and list its tools."""
        found = self.problem()
        if found is not None:
            self._refuse(found)
            return
        say(self.message, "")
        config = self.config()
        self.test_button.setEnabled(False)
        say(self.tested, f"Starting {config.name}…")

        def failed(exc: BaseException) -> None:
            self._on_tested(TestedProbe(Probe(config.name, error=str(exc)), config))

        async def probe() -> TestedProbe:
            return TestedProbe(await probe_server(config), config)

        self.jobs.start(probe(), self._on_tested, failed)

    def _on_tested(self, tested: TestedProbe) -> None:
        self.test_button.setEnabled(True)
        found = tested.probe
        if found.error:
            self.probe = None
            say(self.tested, f"Could not start it: {found.error}", theme.FAILED_COLOUR)
            return
        self.probe = tested
        names = ", ".join(t.name.removeprefix(f"mcp__{found.server}__") for t in found.tools)
        left_out = f" ({len(found.left_out)} left out: they cannot run)" if found.left_out else ""
        say(self.tested, f"Works: {len(found.tools)} tools: {names or 'none'}{left_out}", OK_COLOUR)

    def done(self, result: int) -> None:  # noqa: D102 - Qt's close, accept and reject all end here
        self.jobs.cancel_all()  # a Test still starting the server stops it
        super().done(result)


@dataclass(frozen=True)
class TestedProbe:
    """A Test's answer and the server it started (to tell whether it still matches the form)."""

    probe: Probe
    """What listing the tools found."""
    config: McpServerConfig
    """The server as the form described it when Test was pressed."""
