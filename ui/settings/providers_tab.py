"""Settings › Providers: where the models live, their keys, and Test connection.

The list is what providers.json will hold once OK is pressed (the dialog
saves it); Add / Edit / Remove change only this draft. Keys are different:
Save, Use for this session only and Remove act at once (see provider_key.py).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.providers import keys
from app.providers.checks import ConnectionReport, keys_problem_hint
from app.providers.registry import LOCAL, Provider, Providers
from ui import theme
from ui.settings.jobs import Jobs
from ui.settings.local_models_box import with_local_models
from ui.settings.provider_editor import ProviderEditor
from ui.settings.provider_key import key_chip
from ui.settings.provider_panel import ProviderPanel
from ui.settings.widgets import OK_COLOUR, WARN_COLOUR, Problem, Roomy, banner, hint_label

COLUMNS = ("Provider", "Kind", "Base URL", "API key", "Models", "Last test")

SHORT_REASONS = {
    "no_key": "No key", "bad_key": "Bad key", "unreachable": "Unreachable",
    "model_not_found": "No such model", "rate_limited": "Rate limited", "error": "Failed",
}


class ProvidersTab(QWidget):
    """The configured providers, and the selected one's key, models and test."""

    providersChanged = Signal()  # noqa: N815 - Qt signal naming
    """A provider was added, edited, removed or its models refreshed."""
    keysChanged = Signal()  # noqa: N815
    """A key was stored, kept for the session or removed."""

    def __init__(self, providers: Providers, jobs: Jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._original = providers
        self.entries: list[Provider] = [with_local_models(p) for p in providers.entries]
        self.jobs = jobs
        self.problem = keys.keychain_problem()
        self.panels: dict[str, ProviderPanel] = {}
        self.reports: dict[str, ConnectionReport] = {}
        self.editor: ProviderEditor | None = None
        """The Add / Edit form while it is open."""
        self.unavailable = banner(WARN_COLOUR)
        self.table = QTreeWidget()
        self.add_button = QPushButton("Add…")
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the provider; when you press OK its stored key is removed too.")
        self.stack = QStackedWidget()
        self.empty = hint_label("Add a provider to choose its models and enter its key.")
        self._build()
        self._connect()
        for provider in self.entries:
            self._add_panel(provider)
        self._fill_table()
        self._select_row(0)
        self._on_selected()

    # --- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        intro = QLabel("Providers are where your models run: cloud services, Ollama or LM Studio on "
                       "this computer, or any OpenAI-compatible server. API keys go to your system "
                       "keychain, never into Troupe's files.")
        intro.setWordWrap(True)
        hint = keys_problem_hint()
        if hint is not None:
            self.unavailable.setText(f"<b>No keychain.</b> {html.escape(hint)}")
            self.unavailable.show()
        self._build_table()
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.empty)
        column = QVBoxLayout(self)
        column.setSpacing(8)
        column.addWidget(intro)
        column.addWidget(self.unavailable)
        column.addWidget(self.table, 1)
        column.addLayout(buttons)
        column.addSpacing(4)
        column.addWidget(self.stack)

    def _build_table(self) -> None:
        table = self.table
        table.setColumnCount(len(COLUMNS))
        table.setHeaderLabels(list(COLUMNS))
        table.setRootIsDecorated(False)
        table.setUniformRowHeights(True)
        table.setAlternatingRowColors(True)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setMinimumHeight(120)
        table.setItemDelegate(Roomy(parent=table))
        table.headerItem().setTextAlignment(4, Qt.AlignmentFlag.AlignCenter)
        header = table.header()
        header.setStretchLastSection(False)
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def _connect(self) -> None:
        self.table.currentItemChanged.connect(lambda *_: self._on_selected())
        self.table.itemDoubleClicked.connect(lambda *_: self._on_edit())
        self.add_button.clicked.connect(self._on_add)
        self.edit_button.clicked.connect(self._on_edit)
        self.remove_button.clicked.connect(self._on_remove)

    # --- the list --------------------------------------------------------------------

    def providers(self) -> Providers:
        """The providers as edited (what OK saves)."""
        return replace(self._original, entries=tuple(self.entries))

    def removed(self) -> list[str]:
        """Names of providers there were when the dialog opened and are gone now."""
        kept = {p.name for p in self.entries}
        return [p.name for p in self._original.entries if p.name not in kept]

    def current(self) -> Provider | None:
        item = self.table.currentItem()
        name = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        return next((p for p in self.entries if p.name == name), None)

    def select(self, name: str) -> None:
        names = [p.name for p in self.entries]
        if name in names:
            self._select_row(names.index(name))

    def _select_row(self, row: int) -> None:
        item = self.table.topLevelItem(row)
        if item is not None:
            self.table.setCurrentItem(item)

    def _fill_table(self) -> None:
        selected = self.current()
        blocked = self.table.blockSignals(True)  # the selection is put back as it was
        try:
            self.table.clear()
            for provider in self.entries:
                self.table.addTopLevelItem(self._item(provider))
            if selected is not None:
                self.select(selected.name)
        finally:
            self.table.blockSignals(blocked)

    def _item(self, provider: Provider) -> QTreeWidgetItem:
        chip, colour = key_chip(provider, keys.key_status(provider.name, provider.kind)) \
            if provider.kind != LOCAL else ("—", theme.STATUS_COLOURS["pending"])
        count = str(len(provider.models)) if provider.models else "—"
        item = QTreeWidgetItem([provider.name, provider.info.label, provider.base or "—", chip, count, ""])
        item.setData(0, Qt.ItemDataRole.UserRole, provider.name)
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        item.setForeground(3, QColor(colour))
        item.setTextAlignment(4, Qt.AlignmentFlag.AlignCenter)
        item.setToolTip(2, provider.base or "The provider's own endpoint")
        if provider.base is None:
            item.setForeground(2, theme.dim_text_colour())
        self._show_report(item, self.reports.get(provider.name))
        return item

    @staticmethod
    def _show_report(item: QTreeWidgetItem, report: ConnectionReport | None) -> None:
        if report is None:
            return
        if report.ok:
            item.setText(5, f"✓ {report.latency_ms:.0f} ms")
            item.setForeground(5, QColor(OK_COLOUR))
        else:
            item.setText(5, f"✗ {SHORT_REASONS.get(report.reason, 'Failed')}")
            item.setForeground(5, QColor(theme.FAILED_COLOUR))
        item.setToolTip(5, report.message)

    def refresh_keys(self) -> None:
        """Re-read where every key comes from (after a Save or Remove)."""
        self._fill_table()
        self.keysChanged.emit()

    def _on_selected(self) -> None:
        provider = self.current()
        self.stack.setCurrentWidget(self.panels[provider.name] if provider else self.empty)
        self.edit_button.setEnabled(provider is not None)
        self.remove_button.setEnabled(provider is not None)

    # --- panels ----------------------------------------------------------------------

    def _add_panel(self, provider: Provider) -> ProviderPanel:
        panel = ProviderPanel(provider, self.problem, self.jobs)
        panel.keyChanged.connect(self.refresh_keys)
        panel.providerChanged.connect(self._replace)
        panel.tested.connect(lambda report, name=provider.name: self._on_tested(name, report))
        self.panels[provider.name] = panel
        self.stack.addWidget(panel)
        return panel

    def _on_tested(self, name: str, report: ConnectionReport) -> None:
        self.reports[name] = report
        self._fill_table()

    def _replace(self, provider: Provider) -> None:
        """Put an edited or refreshed provider in place of the entry of the same name."""
        self.entries = [provider if p.name == provider.name else p for p in self.entries]
        self.panels[provider.name].set_provider(provider)
        self._fill_table()
        self.providersChanged.emit()

    def add_local_model(self, name: str) -> None:
        """Offer a local model added elsewhere (the model catalog) on the embedded provider."""
        for provider in self.entries:
            if provider.kind == LOCAL and name not in provider.models:
                self._replace(replace(provider, models=(*provider.models, name)))

    # --- Add / Edit / Remove ---------------------------------------------------------

    def _on_add(self) -> None:
        self._open_editor(None)

    def _on_edit(self) -> None:
        if (provider := self.current()) is not None:
            self._open_editor(provider)

    def _open_editor(self, existing: Provider | None) -> None:
        editor = ProviderEditor([p.name for p in self.entries], existing, self)
        editor.accepted.connect(lambda: self._on_editor_accepted(editor, existing))
        editor.finished.connect(lambda _r: self._editor_closed(editor))
        self.editor = editor
        editor.open()  # not exec(): no nested event loop under qasync

    def _editor_closed(self, editor: ProviderEditor) -> None:
        if self.editor is editor:
            self.editor = None
        editor.deleteLater()

    def _on_editor_accepted(self, editor: ProviderEditor, existing: Provider | None) -> None:
        provider = editor.provider()
        if existing is not None:
            # the editor has the URL and models; what the panel set (prices, ...) stays
            current = next(p for p in self.entries if p.name == existing.name)
            self._replace(replace(current, api_base=provider.api_base, models=provider.models))
            return
        self.entries.append(provider)
        self._add_panel(provider)
        self._fill_table()
        self.select(provider.name)
        self.providersChanged.emit()

    def _on_remove(self) -> None:
        provider = self.current()
        if provider is None:
            return
        row = self.entries.index(provider)
        self.table.setCurrentIndex(QModelIndex())  # no current item while the row goes
        del self.entries[row]
        panel = self.panels.pop(provider.name)
        self.stack.removeWidget(panel)
        panel.deleteLater()
        self.reports.pop(provider.name, None)
        self._fill_table()
        if self.entries:
            self._select_row(min(row, len(self.entries) - 1))
        self._on_selected()
        self.providersChanged.emit()

    # --- OK ----------------------------------------------------------------------------

    def save_typed_keys(self) -> list[Problem]:
        """On OK: keep keys that were typed but not saved; a problem per refusal."""
        found = []
        for name, panel in self.panels.items():
            if panel.key is not None and (problem := panel.key.save_typed()) is not None:
                found.append(Problem(problem.message, self._show_key(name, problem.focus)))
        return found

    def _show_key(self, name: str, focus: Callable[[], None]) -> Callable[[], None]:
        def show() -> None:
            self.select(name)
            focus()
        return show
