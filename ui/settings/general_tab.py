"""Settings › General: the window's theme (System / Light / Dark), applied as it is chosen."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from app.settings import THEMES, Settings
from ui import theme

THEME_NAMES = {"system": "System (follow the desktop)", "light": "Light", "dark": "Dark"}


class GeneralTab(QWidget):
    """The theme picker; the choice shows at once and is kept on OK (reverted on Cancel)."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._saved = settings.theme
        self.theme = QComboBox()
        for key in THEMES:
            self.theme.addItem(THEME_NAMES[key], key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        self.theme.currentIndexChanged.connect(lambda _i: theme.apply_theme(self.choice()))
        hint = QLabel("Applied at once; Cancel goes back to the saved theme.")
        theme.dim(hint)
        form = QFormLayout(self)
        form.addRow("&Theme:", self.theme)
        form.addRow("", hint)

    def choice(self) -> str:
        return str(self.theme.currentData())

    def values(self) -> dict[str, Any]:
        return {"theme": self.choice()}

    def revert(self) -> None:
        if self.choice() != self._saved:
            theme.apply_theme(self._saved)
