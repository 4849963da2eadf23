"""The embedded provider's models, and "Add GGUF file…" for the person's own.

Adding a file acts at once, like saving a key: app.providers.local_models writes
local_models.json and the model can be used straight away as local/<name>.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QDir, Signal
from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from app.providers.local_models import LocalModelsError, add_local_model, list_local_models
from app.providers.registry import Provider
from ui import theme
from ui.settings.widgets import hint_label, row, say, unique_name


def local_model_names() -> list[str]:
    """The local models there are (the embedded one first); [] if the list is unreadable."""
    try:
        return [m.name for m in list_local_models()]
    except LocalModelsError:
        return []


def with_local_models(provider: Provider) -> Provider:
    """The embedded provider with every local model in its list (others unchanged)."""
    if provider.kind != "local":
        return provider
    names = tuple(dict.fromkeys((*provider.models, *local_model_names())))
    return provider if names == provider.models else Provider(
        provider.name, provider.kind, provider.api_base, names)


def name_for(path: str, taken: list[str]) -> str:
    """A model name from a file name: "Qwen2.5-0.5B-Q4_K_M.gguf" -> "Qwen2.5-0.5B-Q4_K_M"."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(path).stem).strip("-._") or "model"
    return unique_name(stem, taken)


class LocalModelsBox(QWidget):
    """The list of local models with an Add GGUF file… button and what happened."""

    added = Signal(str)
    """A GGUF file was added under this name."""

    def __init__(self, models_label: QLabel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.add_button = QPushButton("Add GGUF file…")
        self.add_button.setToolTip("Use a llama.cpp GGUF model file on this computer, offline.")
        self.note = hint_label()
        self.note.hide()
        self.file_dialog: QFileDialog | None = None
        """The file chooser while it is open."""
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addWidget(row(models_label, self.add_button, stretch=0))
        column.addWidget(self.note)
        self.add_button.clicked.connect(self._on_add)

    def _on_add(self) -> None:
        chooser = QFileDialog(self, "Add a GGUF model", QDir.homePath(), "GGUF models (*.gguf);;All files (*)")
        chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
        chooser.fileSelected.connect(self.add_file)
        chooser.finished.connect(lambda _r: self._closed(chooser))
        self.file_dialog = chooser
        chooser.open()  # not exec(): no nested event loop under qasync

    def _closed(self, chooser: QFileDialog) -> None:
        if self.file_dialog is chooser:
            self.file_dialog = None
        chooser.deleteLater()

    def add_file(self, path: str) -> None:
        name = name_for(path, local_model_names())
        try:
            add_local_model(name, path)
        except LocalModelsError as exc:
            say(self.note, f"Could not add {Path(path).name}: {exc}", theme.FAILED_COLOUR)
        else:
            say(self.note, f"Added local/{name}: it can be used at once, offline.")
            self.added.emit(name)
        self.note.show()
