"""A provider's rate limits on Settings › Providers: calls at once, requests and tokens
per minute (agents/llm/limiter.py keeps every call of every run to them).

Each is a spin box where 0 means "no limit"; "Defaults" goes back to the kind's.
An edit is the provider with new `limits` (saved to providers.json on OK).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSpinBox, QVBoxLayout, QWidget

from agents.ports import Limits
from app.providers.registry import Provider
from ui.settings.widgets import hint_label

FIELDS = (("concurrent", "at once", 1_000), ("rpm", "requests/min", 1_000_000),
          ("tpm", "tokens/min", 100_000_000))  # fmt: skip
"""Each limit's Limits field, its label and the highest value offered."""


class LimitsBox(QWidget):
    """Three spin boxes (0: no limit) and a Defaults button for one provider's limits."""

    limitsChanged = Signal(object)  # noqa: N815 - Qt signal naming
    """The new Limits, or None for the kind's defaults."""

    def __init__(self, provider: Provider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.provider = provider
        self.spins: dict[str, QSpinBox] = {}
        for name, label, most in FIELDS:
            spin = QSpinBox()
            spin.setRange(0, most)
            spin.setSpecialValueText("no limit")
            spin.setSuffix(f" {label}")
            spin.setAccessibleName(f"Rate limit: {label}")
            self.spins[name] = spin
        self.defaults_button = QPushButton("Defaults")
        self.defaults_button.setToolTip("Go back to the limits Troupe uses for this kind of provider.")
        self.note = hint_label()
        self._build()
        self.set_provider(provider)
        for spin in self.spins.values():
            spin.valueChanged.connect(self._on_value_changed)
        self.defaults_button.clicked.connect(self._on_defaults)

    def _build(self) -> None:
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        for spin in self.spins.values():
            line.addWidget(spin)
        line.addWidget(self.defaults_button)
        line.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addLayout(line)
        column.addWidget(self.note)

    def limits(self) -> Limits:
        """What the boxes say."""
        return Limits(**{name: spin.value() or None for name, spin in self.spins.items()})

    def set_provider(self, provider: Provider) -> None:
        """Show `provider`'s limits (its own, or its kind's defaults)."""
        self.provider = provider
        shown = provider.effective_limits
        for name, spin in self.spins.items():
            was = spin.blockSignals(True)  # showing is not an edit
            spin.setValue(getattr(shown, name) or 0)
            spin.blockSignals(was)
        self._show_note()

    def _show_note(self) -> None:
        defaults = self.provider.info.limits.describe()
        whose = "Troupe's defaults for" if self.provider.limits is None else "Yours; the defaults for"
        self.note.setText(f"{whose} {self.provider.info.label}: {defaults}. Every run's calls to this "
                          "provider share these; a 429 lowers how many go at once, for a while.")
        self.defaults_button.setEnabled(self.provider.limits is not None)

    def _on_value_changed(self, _value: int) -> None:
        limits = self.limits()
        self.provider = replace(self.provider, limits=limits)
        self._show_note()
        self.limitsChanged.emit(limits)

    def _on_defaults(self) -> None:
        self.set_provider(replace(self.provider, limits=None))
        self.limitsChanged.emit(None)
