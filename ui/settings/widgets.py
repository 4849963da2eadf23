"""Small pieces the settings tabs share: model pickers, hints, banners, form rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.providers.registry import Provider
from ui import theme

SpinBox = TypeVar("SpinBox", QSpinBox, QDoubleSpinBox)

OK_COLOUR = theme.STATUS_COLOURS["completed"]
WARN_COLOUR = theme.STATUS_COLOURS["waiting_approval"]


@dataclass(frozen=True)
class Problem:
    """One reason OK was refused, and how to show the person where it is."""

    message: str
    focus: Callable[[], None]


def model_box(choices: Iterable[str], current: str | None, placeholder: str) -> QComboBox:
    """An editable combo box of model references that keeps exactly what is typed."""
    box = QComboBox()
    box.setEditable(True)
    box.addItems(list(choices))
    box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    box.setMinimumContentsLength(28)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    completer = box.completer()
    assert completer is not None  # an editable combo box has one
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)  # no inline guesses
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    editor(box).setPlaceholderText(placeholder)
    editor(box).setClearButtonEnabled(True)
    box.setCurrentText(current or "")
    return box


def editor(box: QComboBox) -> QLineEdit:
    """The line edit of an editable combo box (such as a model_box)."""
    line = box.lineEdit()
    if line is None:
        raise ValueError("the combo box is not editable")
    return line


def set_choices(box: QComboBox, choices: Iterable[str]) -> None:
    """Offer `choices` in an editable combo box without touching what it shows."""
    text = box.currentText()
    was = box.blockSignals(True)  # the text is put back as it was: no edit to report
    try:
        box.clear()
        box.addItems(list(dict.fromkeys(choices)))
        box.setCurrentText(text)
    finally:
        box.blockSignals(was)


def model_problem(text: str) -> str | None:
    if any(c.isspace() for c in text):
        return f"“{text}” is not a model reference: it contains a space."
    return None


def hint_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    theme.dim(label)
    return label


def say(label: QLabel, text: str, colour: str | None = None) -> None:
    """Show `text` in `label`, in `colour` (the dim text colour by default)."""
    label.setText(text)
    label.setStyleSheet(f"color: {colour or theme.css(theme.dim_text_colour())};")


def banner(colour: str) -> QLabel:
    """A hidden, word-wrapped message strip tinted with `colour`."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet(
        f"QLabel {{ background: {theme.tint(colour)}; border: 1px solid {colour}; "
        "border-radius: 4px; padding: 8px; }"
    )
    label.hide()
    return label


def spin_box(box: SpinBox, low: float, high: float, value: float) -> SpinBox:
    """`box` with its range set before its value (so the value is not clamped)."""
    box.setRange(low, high)  # type: ignore[arg-type]
    box.setValue(value)  # type: ignore[arg-type]
    box.setMinimumWidth(120)
    return box


def section(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def spacer(height: int) -> QWidget:
    widget = QWidget()
    widget.setFixedHeight(height)
    return widget


def above(widget: QWidget, hint: QLabel, *, bottom: int = 6, spacing: int = 3) -> QWidget:
    """A field with a dim explanation under it, as one form row."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, bottom)
    layout.setSpacing(spacing)
    layout.addWidget(widget)
    layout.addWidget(hint)
    return box


def left(widget: QWidget, note: str = "") -> QWidget:
    """A fixed-size field on the left of its row, with a dim note after it."""
    return row(widget, hint_label(note) if note else None)


def row(*widgets: QWidget | None, stretch: int | None = -1) -> QWidget:
    """Widgets side by side; widgets[stretch] takes the spare width (a spacer if None)."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(8)
    shown = [w for w in widgets if w is not None]
    grower = shown[stretch] if stretch is not None and len(shown) > 1 else None
    for widget in shown:
        layout.addWidget(widget, 1 if widget is grower else 0)
    if grower is None:
        layout.addStretch(1)
    return box


def padded(widget: QWidget) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(14, 14, 14, 10)
    layout.addWidget(widget)
    return page


class KeyEdit(QLineEdit):
    """A password field whose Enter saves the key instead of closing the dialog."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.setClearButtonEnabled(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()  # QLineEdit ignores it, and the dialog would take it as OK



def unique_name(base: str, taken: list[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def provider_title(provider: Provider) -> str:
    """"OpenAI" for a provider named after its kind, else "“work” (OpenAI-compatible server)"."""
    label = provider.info.label
    return label if provider.name == provider.kind else f"“{provider.name}” ({label})"


class Roomy(QStyledItemDelegate):
    """Rows with some air: item views are cramped by default."""

    def __init__(self, height: int = 8, width: int = 14, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._extra = QSize(width, height)

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt's name
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        return super().sizeHint(option, index) + self._extra
