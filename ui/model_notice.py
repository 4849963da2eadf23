"""The strip above the conversation that says which kind of model is in use
when that matters: the tiny embedded one, and what first-run setup found."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ui import theme

EMBEDDED_TEXT = (
    "<b>Trying Troupe offline.</b> The model in use, {model}, is a tiny one that runs "
    "on this computer with no account: good for seeing how Troupe works, weak at real "
    "work. Connect a stronger model in Settings › Providers (OpenAI, Anthropic, Gemini, "
    "Ollama, LM Studio and others)."
)


class ModelNotice(QFrame):
    """Hidden unless there is something to say; 'Open Settings' and a close button."""

    settingsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelNotice")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.open_settings = QPushButton("Open Settings")
        self.open_settings.clicked.connect(self.settingsRequested.emit)
        self.close_button = QPushButton("Dismiss")
        self.close_button.clicked.connect(self._dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 8, 10, 8)
        row.addWidget(self.text, 1)
        row.addWidget(self.open_settings, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self._dismissed_for: str | None = None
        self._model = ""
        self._tint("#2f7de1")
        self.hide()

    def show_for_model(self, model: str) -> None:
        """Explain the embedded model while it is the one in use (unless dismissed for it)."""
        self._model = model
        if not model.startswith("local/") or self._dismissed_for == model:
            self.hide()
            return
        self.text.setText(EMBEDDED_TEXT.format(model=f"<i>{model}</i>"))
        self.show()

    def _dismiss(self) -> None:
        self._dismissed_for = self._model
        self.hide()

    def _tint(self, colour: str) -> None:
        self.setStyleSheet(f"QFrame#modelNotice {{ background: {theme.tint(colour, 0.14)}; "
                           f"border: 1px solid {colour}; border-radius: 4px; }}")
