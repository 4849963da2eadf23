"""A provider's prices on Settings › Providers: what the person says a model costs,
for models with no known price (their calls otherwise show "price unknown").

A model, dollars per million tokens in and out, Set price and Clear. Under them,
where the chosen model's price comes from. An edit is the provider with new
`prices` (saved to providers.json on OK), which then beats "free" and litellm's map.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from agents.llm.prices import Price
from app.providers.registry import Provider, Providers, price_per_million
from ui.settings.widgets import hint_label, model_box, set_choices

MOST_USD = 10_000.0
"""The highest price per million tokens offered (no model costs more)."""


def _usd_box(label: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, MOST_USD)
    box.setDecimals(4)
    box.setPrefix("$")
    box.setSuffix(f" {label}")
    box.setAccessibleName(f"Price: US dollars per million tokens {label}")
    box.setToolTip(f"US dollars per million tokens {'sent' if label == 'in' else 'received'}")
    return box


def per_mtok(price: Price) -> str:
    """"$0.15 in, $0.6 out per million tokens"."""
    return f"${price.input_per_token * 1e6:g} in, ${price.output_per_token * 1e6:g} out per million tokens"


class PricesBox(QWidget):
    """The person's price for one model of one provider at a time."""

    pricesChanged = Signal(object)  # noqa: N815 - Qt signal naming
    """The provider with its new prices (a Provider)."""

    def __init__(self, provider: Provider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.provider = provider
        self.model = model_box((), "", "model")
        self.model.setMinimumContentsLength(16)
        self.input = _usd_box("in")
        self.output = _usd_box("out")
        self.set_button = QPushButton("Set price")
        self.set_button.setToolTip("Price this model's calls at what you say (per million tokens)")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Forget your price for this model")
        self.note = hint_label()
        self._build()
        self.set_provider(provider)
        self.model.currentTextChanged.connect(self._on_model_changed)
        self.set_button.clicked.connect(self._on_set)
        self.clear_button.clicked.connect(self._on_clear)

    def _build(self) -> None:
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        for widget in (self.model, self.input, self.output, self.set_button, self.clear_button):
            line.addWidget(widget)
        line.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addLayout(line)
        column.addWidget(self.note)

    def set_provider(self, provider: Provider) -> None:
        """Show `provider`'s models (those with a price of yours first)."""
        self.provider = provider
        current = self.model.currentText().strip()
        choices = list(dict.fromkeys([*provider.prices, *(provider.models or provider.info.suggested)]))
        was = self.model.blockSignals(True)
        set_choices(self.model, choices)
        self.model.setCurrentText(current or (choices[0] if choices else ""))
        self.model.blockSignals(was)
        self._on_model_changed(self.model.currentText())

    def chosen(self) -> str:
        return self.model.currentText().strip()

    def _on_model_changed(self, _text: str) -> None:
        model = self.chosen()
        mine = self.provider.price_of(model) if model else None
        self.input.setValue(mine.input_per_token * 1e6 if mine else 0.0)
        self.output.setValue(mine.output_per_token * 1e6 if mine else 0.0)
        self.set_button.setEnabled(bool(model))
        self.clear_button.setEnabled(mine is not None)
        self.note.setText(self._where_from(model))

    def _where_from(self, model: str) -> str:
        """Where `model`'s price comes from now, in words."""
        if not model:
            return "Choose or type a model to set its price."
        mine = self.provider.price_of(model)
        if mine is not None:
            return f"Yours: {per_mtok(mine)}. It is used for this model's calls and estimates."
        if self.provider.info.on_this_machine:
            return "Free: it runs on this computer. Set a price only to count it anyway."
        if "litellm" not in sys.modules:  # its price list takes seconds to load: not for a label
            return ("Models without a price in litellm's list show as “price unknown”; set one "
                    "here to count their calls.")
        from app.providers.prices import price_for  # noqa: PLC0415

        known = price_for(f"{self.provider.name}/{model}", Providers((self.provider,)))
        if known is None:
            return "No known price: its calls show as “price unknown”. Set one here to count them."
        return f"From litellm's price list: {per_mtok(known)}. Yours would win over it."

    def _on_set(self) -> None:
        price = price_per_million(self.input.value(), self.output.value())
        self._emit(self.provider.with_price(self.chosen(), price))

    def _on_clear(self) -> None:
        self._emit(self.provider.with_price(self.chosen(), None))

    def _emit(self, provider: Provider) -> None:
        self.provider = provider
        self._on_model_changed(self.chosen())
        self.pricesChanged.emit(provider)


__all__ = ["PricesBox", "per_mtok"]
