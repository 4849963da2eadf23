"""Add or edit one provider: its kind, name, base URL and models.

Opened with open() (not exec(): no nested event loop under qasync); the
caller reads `provider()` once it is accepted. The name and kind of an
existing provider are fixed: the keychain entry and every model reference
use the name.
"""

from __future__ import annotations

import html
import re

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.providers.registry import KINDS, LOCAL, Kind, Provider, ProviderError, check
from ui import theme
from ui.settings.widgets import banner, hint_label, unique_name

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")



def addable(taken: list[str]) -> list[Kind]:
    """Kinds offered by Add: the embedded model's only if its entry was removed."""
    return [kind for kind in KINDS.values() if kind.id != LOCAL or LOCAL not in taken]


def kind_hint(kind: Kind) -> str:
    if kind.base_required:
        return "Any server that speaks the OpenAI API (vLLM, llama.cpp, LocalAI…)."
    if kind.on_this_machine:
        return f"Runs on this computer: free, private, no key. Start {kind.label} first."
    return f"A cloud provider: needs an API key from your {kind.label} account."


class ProviderEditor(QDialog):
    """A small form for one provider; `existing` is None to add one."""

    def __init__(self, taken: list[str], existing: Provider | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit provider" if existing else "Add provider")
        self._taken = [n for n in taken if existing is None or n != existing.name]
        self._result: Provider | None = None
        self.kind = QComboBox()
        for kind in addable(taken) if existing is None else [existing.info]:
            self.kind.addItem(kind.label, kind.id)
        self.name = QLineEdit()
        self.api_base = QLineEdit()
        self.api_base.setClearButtonEnabled(True)
        self.models = QLineEdit()
        self.models.setClearButtonEnabled(True)
        self.hint = hint_label()
        self.errors = banner(theme.FAILED_COLOUR)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self._form = QFormLayout()
        self._build()
        self._name_edited = existing is not None
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.name.textEdited.connect(lambda _t: setattr(self, "_name_edited", True))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._show(existing)
        self.setMinimumWidth(560)

    def _build(self) -> None:
        form = self._form
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Kind:", self.kind)
        form.addRow("", self.hint)
        form.addRow("&Name:", self.name)
        form.addRow("&Base URL:", self.api_base)
        form.addRow("&Models:", self.models)
        form.setVerticalSpacing(8)
        column = QVBoxLayout(self)
        column.setContentsMargins(16, 16, 16, 12)
        column.addLayout(form)
        column.addWidget(self.errors)
        column.addStretch(1)
        column.addWidget(self.buttons)

    def _show(self, existing: Provider | None) -> None:
        if existing is None:
            self._on_kind_changed()
            return
        self.kind.setCurrentIndex(max(0, self.kind.findData(existing.kind)))
        self.kind.setEnabled(False)
        self.name.setText(existing.name)
        self.name.setReadOnly(True)
        self.name.setToolTip("Model references and the keychain use this name; "
                             "remove the provider and add it again to rename it.")
        self.api_base.setText(existing.api_base or "")
        self.models.setText(", ".join(existing.models))
        self._on_kind_changed()

    def current_kind(self) -> Kind:
        return KINDS[str(self.kind.currentData())]

    def _on_kind_changed(self) -> None:
        kind = self.current_kind()
        if not self._name_edited:
            self.name.setText(unique_name(kind.id.replace("_", "-"), self._taken))
        self.hint.setText(kind_hint(kind))
        uses_base = kind.base_required or kind.default_base is not None
        self._form.setRowVisible(self.api_base, uses_base)
        self.api_base.setPlaceholderText(kind.default_base or "http://127.0.0.1:8000/v1")
        suggested = ", ".join(kind.suggested)
        self.models.setPlaceholderText(
            f"Suggested: {suggested}" if suggested else "Empty: listed from the server with Refresh models")
        self.name.setPlaceholderText("One word, used in model references: name/model")
        self.adjustSize()  # the rows shown and the hint's length change with the kind

    def provider(self) -> Provider:
        """The provider as entered; only after accept."""
        if self._result is None:
            raise RuntimeError("provider() is only available after the editor was accepted")
        return self._result

    def accept(self) -> None:
        try:
            provider = self._entered()
        except ProviderError as exc:
            self.errors.setText(html.escape(str(exc)))
            self.errors.show()
            return
        self._result = provider
        super().accept()

    def _entered(self) -> Provider:
        name = self.name.text().strip()
        if not NAME.match(name):
            raise ProviderError("The name must be one word: letters, digits, “-”, “_” or “.”.")
        if name in self._taken:
            raise ProviderError(f"There is already a provider named “{name}”.")
        kind = self.current_kind()
        base = self.api_base.text().strip().rstrip("/") if self._form.isRowVisible(self.api_base) else ""
        models = tuple(dict.fromkeys(m.strip() for m in self.models.text().split(",") if m.strip()))
        if any(" " in m for m in models):
            raise ProviderError("Separate models with commas; a model name has no spaces.")
        provider = Provider(name, kind.id, api_base=None if base == kind.default_base else base or None,
                            models=models)
        check(provider)
        return provider
