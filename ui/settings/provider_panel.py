"""The selected provider on Settings › Providers: its key, its models, Test connection.

Listing models and testing run as jobs on the app's loop (ui/settings/jobs.py);
the buttons show that they are busy and the outcome is said in words.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agents.ports import Limits
from app.providers.checks import ConnectionReport, provider_url_error
from app.providers.registry import LOCAL, Provider
from ui import theme
from ui.settings.jobs import Jobs, list_provider_models, try_connection
from ui.settings.limits_box import LimitsBox
from ui.settings.local_models_box import LocalModelsBox
from ui.settings.prices_box import PricesBox
from ui.settings.provider_key import KeyBox
from ui.settings.widgets import (
    OK_COLOUR,
    above,
    hint_label,
    model_box,
    provider_title,
    row,
    say,
    set_choices,
)

REFRESHABLE = ("ollama", "lmstudio", "openai_compatible")
"""Kinds whose models are listed from their own server."""


def models_text(provider: Provider) -> str:
    if provider.models:
        shown = ", ".join(provider.models[:4]) + ("…" if len(provider.models) > 4 else "")
        return f"{len(provider.models)} listed: {shown}"
    if provider.kind in REFRESHABLE:
        return "None listed yet: press Refresh models once the server is running."
    return f"Offered in the pickers: {', '.join(provider.info.suggested)}"


def report_text(report: ConnectionReport) -> tuple[str, str]:
    """The outcome of a test in words, and its colour."""
    if report.ok:
        return f"✓  OK, {report.latency_ms:.0f} ms", OK_COLOUR
    return f"✗  {report.message}", theme.FAILED_COLOUR


class ProviderPanel(QFrame):
    """Everything about one provider except its entry's fields (those are in the editor)."""

    keyChanged = Signal()  # noqa: N815 - Qt signal naming
    providerChanged = Signal(object)  # noqa: N815
    """The provider with a new model list (a Provider)."""
    tested = Signal(object)
    """A connection test finished (a ConnectionReport)."""

    def __init__(self, provider: Provider, keychain_problem: str | None, jobs: Jobs,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.provider = provider
        self.jobs = jobs
        self.title = QLabel()
        self.subtitle = hint_label()
        self.key = KeyBox(provider, keychain_problem) if provider.kind != LOCAL else None
        self.models = hint_label()
        self.refresh_button = QPushButton("Refresh models")
        self.refresh_button.setVisible(provider.kind in REFRESHABLE)
        self.refresh_note = hint_label()
        self.refresh_note.hide()
        self.local_box = LocalModelsBox(self.models) if provider.kind == LOCAL else None
        self.test_model = model_box((), "", "model to test")
        self.test_model.setMinimumContentsLength(20)
        self.test_button = QPushButton("Test connection")
        self.result = hint_label()
        self.result.hide()
        self.prices = PricesBox(provider)
        self.limits = LimitsBox(provider)
        self.last_report: ConnectionReport | None = None
        self._testing_now = False
        self._build()
        self._connect()
        self.set_provider(provider)

    def _build(self) -> None:
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(10)
        form.addRow("API key:", self.key or hint_label("The embedded model runs offline; it needs no key."))
        form.addRow("Models:", self.local_box or _stacked(
            row(self.models, self.refresh_button, stretch=0), self.refresh_note))
        form.addRow("Test:", _stacked(row(self.test_model, self.test_button, stretch=0), self.result))
        form.addRow("Prices:", self.prices)
        form.addRow("Rate limits:", self.limits)
        column = QVBoxLayout(self)
        column.setContentsMargins(14, 12, 14, 14)
        column.setSpacing(2)
        column.addWidget(self.title)
        column.addWidget(self.subtitle)
        column.addSpacing(10)
        column.addLayout(form)
        column.addStretch(1)  # panels share the stack's height: the spare room goes below

    def _connect(self) -> None:
        if self.key is not None:
            self.key.keyChanged.connect(self.keyChanged.emit)
        self.refresh_button.clicked.connect(self._on_refresh)
        if self.local_box is not None:
            self.local_box.added.connect(self._on_local_model_added)
        self.test_button.clicked.connect(self._on_test)
        self.test_model.currentTextChanged.connect(self._update_test_button)
        self.prices.pricesChanged.connect(self._on_prices_changed)
        self.limits.limitsChanged.connect(self._on_limits_changed)

    def set_provider(self, provider: Provider) -> None:
        """Show `provider` (after an edit or a refresh)."""
        self.provider = provider
        if self.key is not None:
            self.key.provider = provider
        self.title.setText(provider_title(provider))
        where = "runs inside Troupe, on this computer" if provider.kind == LOCAL \
            else provider.base or "the provider's own endpoint"
        self.subtitle.setText(f"Model references: {provider.name}/<model>   ·   {where}")
        self.models.setText(models_text(provider))
        self.prices.set_provider(provider)
        self.limits.set_provider(provider)
        choices = provider.models or provider.info.suggested
        set_choices(self.test_model, choices)
        if not self.test_model.currentText() and choices:
            self.test_model.setCurrentText(choices[0])
        self._update_test_button()

    def _update_test_button(self) -> None:
        self.test_button.setEnabled(not self._testing_now and bool(self.test_model.currentText().strip()))

    # --- Test connection ---------------------------------------------------------------

    def _on_test(self) -> None:
        model = self.test_model.currentText().strip()
        problem = self.key.save_typed() if self.key is not None else None
        if problem is not None:  # a typed key that could not be kept: say so instead
            self._show_result(problem.message, theme.FAILED_COLOUR)
            return
        self._testing(True)
        self._show_result(f"Calling {self.provider.name}/{model}…", None)
        self.jobs.start(try_connection(self.provider, model), self._on_tested, self._on_test_failed)

    def _testing(self, busy: bool) -> None:
        self._testing_now = busy
        self.test_button.setText("Testing…" if busy else "Test connection")
        self.test_model.setEnabled(not busy)
        self._update_test_button()

    def _on_tested(self, report: ConnectionReport) -> None:
        self._testing(False)
        self.last_report = report
        self._show_result(*report_text(report))
        self.tested.emit(report)

    def _on_test_failed(self, exc: BaseException) -> None:
        self._testing(False)
        self._show_result(f"✗  The test could not run: {type(exc).__name__}: {exc}", theme.FAILED_COLOUR)

    def _show_result(self, text: str, colour: str | None) -> None:
        say(self.result, text, colour)
        self.result.show()

    def _on_local_model_added(self, name: str) -> None:
        provider = replace(self.provider, models=(*self.provider.models, name))
        self.set_provider(provider)
        self.test_model.setCurrentText(name)
        self.providerChanged.emit(provider)

    def _on_limits_changed(self, limits: Limits | None) -> None:
        self.provider = replace(self.provider, limits=limits)
        self.providerChanged.emit(self.provider)

    def _on_prices_changed(self, priced: Provider) -> None:
        self.provider = replace(self.provider, prices=priced.prices)  # the rest as this panel has it
        self.providerChanged.emit(self.provider)

    # --- Refresh models ----------------------------------------------------------------

    def _on_refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        self.refresh_button.setText("Refreshing…")
        say(self.refresh_note, f"Asking {self.provider.base} for its models…")
        self.refresh_note.show()
        self.jobs.start(list_provider_models(self.provider), self._on_refreshed, self._on_refresh_failed)

    def _refreshing_done(self) -> None:
        self.refresh_button.setEnabled(True)
        self.refresh_button.setText("Refresh models")

    def _on_refreshed(self, provider: Provider) -> None:
        self._refreshing_done()
        count = len(provider.models)
        say(self.refresh_note, f"Found {count} model{'s' if count != 1 else ''}." if count else
            "The server is running but lists no models: load or pull one, then refresh again.")
        unlisted = [m for m in self.provider.models if m not in provider.models]
        if not unlisted:
            self._use_models(provider.models)
            return
        # models the person typed (or the server no longer has): theirs to drop, not ours
        names = ", ".join(unlisted[:5]) + (" …" if len(unlisted) > 5 else "")
        box = QMessageBox(QMessageBox.Icon.Question, "Refresh models",
                          f"{self.provider.base} does not list {len(unlisted)} of the models here: {names}.",
                          parent=self)
        box.setInformativeText("Keep them in the list (you may have typed them), or use only the listed ones?")
        keep = box.addButton("Keep them", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Use the listed ones", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(keep)
        listed = provider.models
        box.finished.connect(lambda _code: self._use_models(
            (*listed, *unlisted) if box.clickedButton() is keep else listed))
        box.finished.connect(box.deleteLater)
        self.unlisted_box = box
        box.open()

    def _use_models(self, models: tuple[str, ...]) -> None:
        updated = replace(self.provider, models=tuple(dict.fromkeys(models)))  # its limits and prices stay
        self.set_provider(updated)
        self.providerChanged.emit(updated)

    def _on_refresh_failed(self, exc: BaseException) -> None:
        self._refreshing_done()
        label = self.provider.info.label
        if isinstance(exc, OSError):
            text = (f"{label} is not answering at {self.provider.base} ({provider_url_error(exc)}). "
                    f"Is it running? Start it, then press Refresh models again.")
        else:
            text = f"{self.provider.base} answered, but not with a list of models: {exc}"
        say(self.refresh_note, text, theme.FAILED_COLOUR)


def _stacked(top: QWidget, below: QLabel) -> QWidget:
    return above(top, below, bottom=0, spacing=4)

