"""At start, when the history database is damaged: its one-line message, and an
offer to restore the newest backup (with none, to move the file aside and start
with an empty history). The files are handled by app.storage.backups, as
`troupe db restore` does; nothing is deleted."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.storage import backups
from app.storage.errors import DatabaseDamaged, StorageError


class RestoreDialog(QMessageBox):
    """Asks once; `restored` or `failed` says how it went."""

    restored = Signal(str)
    """What was done, in one line: the window opens the history again."""
    failed = Signal(str)
    """Why nothing was done, in one line."""

    def __init__(self, error: DatabaseDamaged, parent: QWidget | None = None) -> None:
        super().__init__(QMessageBox.Icon.Warning, "History", str(error), parent=parent)
        self.error = error
        label = "Restore the backup" if error.backup else "Start with an empty history"
        self.restore_button = self.addButton(label, QMessageBox.ButtonRole.AcceptRole)
        self.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.restore_button)
        self.restore_button.clicked.connect(self._on_restore_clicked)

    def _on_restore_clicked(self) -> None:
        path, backup = self.error.path, self.error.backup
        try:
            if backup is None:
                line = f"The damaged history was moved aside to {backups.set_aside(path).name}."
            else:
                kept = backups.restore(path, backup).kept
                line = f"Restored the history from {backup.name}" + (
                    f"; the damaged file is kept as {kept.name}." if kept else ".")
        except (StorageError, OSError) as exc:
            self.failed.emit(str(exc))
            return
        self.restored.emit(line)
