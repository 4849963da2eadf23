"""Settings: models, providers (with their keys) and the agent roster, on three tabs.

    dialog = SettingsDialog(settings, roster, parent)
    dialog.accepted.connect(lambda: (save_settings(dialog.result_settings()),
                                     save_user_roster(dialog.result_roster())))
    dialog.open()

The dialog never changes what it was given: OK validates everything and
keeps the results, Cancel throws the edits away. Two exceptions: API keys
(Save / Remove act on the keychain at once, and OK stores a key that was
typed but not saved yet), and providers.json, which OK writes itself (the
caller reads `result_providers()` to use them without reading it back).
Keys never reach any file.
"""

from __future__ import annotations

import html
import logging
from dataclasses import fields, replace
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QVBoxLayout, QWidget

from agents.plan.roster import Roster
from app.providers import keys, secrets
from app.providers.registry import LOCAL, Providers, load_providers, save_providers, split_ref
from app.settings import Settings
from ui import theme
from ui.settings.agents_tab import AgentsTab
from ui.settings.general_tab import GeneralTab
from ui.settings.jobs import Jobs
from ui.settings.models_tab import ModelsTab
from ui.settings.providers_tab import ProvidersTab
from ui.settings.tools_tab import ToolsTab
from ui.settings.widgets import Problem, banner, padded

log = logging.getLogger(__name__)

SETTINGS_FIELDS = frozenset(f.name for f in fields(Settings))
MODELS, PROVIDERS, AGENTS = range(3)
"""Tab indexes."""


class SettingsDialog(QDialog):
    """Models, providers and agents. Read the results after accept()."""

    def __init__(self, settings: Settings, roster: Roster, parent: QWidget | None = None,
                 *, providers: Providers | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self._providers = providers if providers is not None else load_providers()
        self._result_settings: Settings | None = None
        self._result_roster: Roster | None = None
        self._result_providers: Providers | None = None
        self.jobs = Jobs(self)
        self.providers_tab = ProvidersTab(self._providers, self.jobs)
        shown = self.providers_tab.providers()  # with the local models found on disk
        self.models_tab = ModelsTab(settings, shown, jobs=self.jobs)  # closing Settings pauses a download
        self.agents_tab = AgentsTab(roster, shown.model_refs())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(padded(self.models_tab), "Models")
        self.tabs.addTab(padded(self.providers_tab), "Providers")
        self.tabs.addTab(padded(self.agents_tab), "Agents")
        self.tools_tab = ToolsTab.install(self, self.tabs, settings)  # OK (accepted) saves its two files
        self.general_tab = GeneralTab(settings)
        self.tabs.addTab(padded(self.general_tab), "General")
        self.errors = banner(theme.FAILED_COLOUR)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.errors)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.providers_tab.keysChanged.connect(self.models_tab.refresh_key_hint)
        self.providers_tab.providersChanged.connect(self._on_providers_changed)
        self.models_tab.modelDownloaded.connect(self._on_model_downloaded)
        self.resize(920, 680)

    def _on_providers_changed(self) -> None:
        providers = self.providers_tab.providers()
        self.models_tab.set_providers(providers)
        self.agents_tab.set_model_refs(providers.model_refs())

    def _on_model_downloaded(self, model: str) -> None:
        """A model from the catalog: every picker (the Agents tab's too) offers it at once."""
        provider, name = split_ref(model)
        if provider == LOCAL:
            self.providers_tab.add_local_model(name)

    # --- OK and Cancel ---------------------------------------------------------------

    def accept(self) -> None:
        """Validate; show the problems inline, or keep the results and close."""
        tabs = ((self.models_tab, MODELS), (self.agents_tab, AGENTS))
        problems = [(index, p) for tab, index in tabs for p in tab.problems()]
        problems = problems or [(PROVIDERS, p) for p in self.providers_tab.save_typed_keys()]
        problems = problems or [(PROVIDERS, p) for p in self._save_providers()]
        if problems:
            self._show_problems(problems)
            return
        values = self.models_tab.values()
        changes: dict[str, Any] = {k: v for k, v in values.items() if k in SETTINGS_FIELDS}
        changes.update(self.tools_tab.values())
        changes.update(self.general_tab.values())
        self._result_settings = replace(self._settings, **changes)
        self._result_roster = self.agents_tab.roster()
        self.errors.hide()
        super().accept()

    def _save_providers(self) -> list[Problem]:
        """Write providers.json if it changed; forget the keys of removed providers."""
        providers = self.providers_tab.providers()
        if providers != self._providers:
            try:
                save_providers(providers)
            except OSError as exc:
                return [Problem(f"Could not save the providers: {exc}", self.providers_tab.setFocus)]
            for name in self.providers_tab.removed():
                forget_key(name)
        self._result_providers = providers
        return []

    def done(self, result: int) -> None:
        self.jobs.cancel_all()  # a late test result must not reach closed widgets
        if result != QDialog.DialogCode.Accepted:
            self.general_tab.revert()  # the theme was tried on: back to the saved one
        super().done(result)

    def _show_problems(self, problems: list[tuple[int, Problem]]) -> None:
        lines = [p.message for _, p in problems[:6]]
        if len(problems) > 6:
            lines.append(f"… and {len(problems) - 6} more.")
        self.errors.setText("<b>Please fix:</b><br>" + "<br>".join(f"•&nbsp;{html.escape(m)}" for m in lines))
        self.errors.show()
        index, first = problems[0]
        self.tabs.setCurrentIndex(index)
        first.focus()

    # --- results -----------------------------------------------------------------------

    def result_settings(self) -> Settings:
        """The edited settings (API keys are never among them); only after accept."""
        if self._result_settings is None:
            raise RuntimeError("result_settings() is only available after the dialog was accepted")
        return self._result_settings

    def result_roster(self) -> Roster:
        """The edited, validated roster; only after accept."""
        if self._result_roster is None:
            raise RuntimeError("result_roster() is only available after the dialog was accepted")
        return self._result_roster

    def result_providers(self) -> Providers:
        """The providers as saved to providers.json; only after accept."""
        if self._result_providers is None:
            raise RuntimeError("result_providers() is only available after the dialog was accepted")
        return self._result_providers

    def result_budget_usd(self) -> float:
        """Budget per run in US dollars, 0 for none (also in result_settings)."""
        return self.result_settings().budget_usd


def forget_key(name: str) -> None:
    """A removed provider's key goes too (as `troupe providers remove` does); failures are logged."""
    secrets.forget_for_session(name)
    try:
        keys.delete_api_key(name)
    except Exception as exc:  # noqa: BLE001 - no keychain, or it refused: the provider is gone anyway
        log.warning("could not remove the %s key from the keychain: %s", name, exc)
