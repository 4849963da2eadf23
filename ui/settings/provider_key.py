"""One provider's API key: a password field with Save / Remove, or, on a
machine without a keychain, "Use for this session only".

Keys go to the system keychain (app.providers.secrets) the moment Save is pressed and
are never shown again; without a keychain they can be kept in memory until
Troupe quits. Nothing here ever writes a key to a file.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from app.providers import keys, secrets
from app.providers.registry import Provider
from ui import theme
from ui.settings.widgets import (
    OK_COLOUR,
    WARN_COLOUR,
    KeyEdit,
    Problem,
    hint_label,
    provider_title,
    say,
)

log = logging.getLogger(__name__)

SESSION_BUTTON = "Use for this session only"


def key_chip(provider: Provider, status: str) -> tuple[str, str]:
    """What to show for where a provider's key comes from, and in which colour."""
    grey = theme.STATUS_COLOURS["pending"]
    if status == keys.NONE:
        return ("○  Not set", grey) if provider.info.needs_key else ("○  Not needed", grey)
    return {
        keys.KEYCHAIN: ("●  In keychain", OK_COLOUR),
        keys.SESSION: ("●  This session only", WARN_COLOUR),
        keys.ENVIRONMENT: (f"●  {keys.env_var(provider.kind)}", theme.STATUS_COLOURS["running"]),
    }[status]


class KeyBox(QWidget):
    """The key field of one provider; `problem` is why there is no keychain (or None)."""

    keyChanged = Signal()  # noqa: N815 - Qt signal naming
    """A key was stored, kept for the session, or removed."""

    def __init__(self, provider: Provider, problem: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.provider = provider
        self.problem = problem
        self.state = keys.NONE
        """Where the key is now (keys.SESSION / KEYCHAIN / ENVIRONMENT / NONE), as last read."""
        self.edit = KeyEdit()
        self.edit.setMinimumWidth(220)
        self.status = QLabel()
        self.save = QPushButton("Save")
        self.session = QPushButton(SESSION_BUTTON)
        self.session.setToolTip("Keep the key in memory until Troupe quits; it is never written anywhere.")
        self.remove = QPushButton("Remove")
        self.message = hint_label()
        self.message.hide()
        self._build()
        self.edit.textChanged.connect(self._update_buttons)
        self.edit.returnPressed.connect(self._on_enter)
        self.save.clicked.connect(self._on_save)
        self.session.clicked.connect(self._on_session)
        self.remove.clicked.connect(self._on_remove)
        self.refresh()

    @property
    def available(self) -> bool:
        return self.problem is None

    @property
    def title(self) -> str:
        return provider_title(self.provider)

    def _build(self) -> None:
        line = QHBoxLayout()
        line.setSpacing(8)
        line.addWidget(self.edit, 1)
        line.addWidget(self.status)
        line.addWidget(self.save)
        line.addWidget(self.session)
        line.addWidget(self.remove)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addLayout(line)
        column.addWidget(self.message)
        self.save.setVisible(self.available)
        self.session.setVisible(not self.available)

    def refresh(self) -> None:
        """Read where the key is now (the keychain is asked here, not on every keystroke)."""
        self.state = status = keys.key_status(self.provider.name, self.provider.kind)
        text, colour = key_chip(self.provider, status)
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {colour};")
        self.edit.setPlaceholderText(self._placeholder(status))
        self._update_buttons()

    def _placeholder(self, status: str) -> str:
        var = keys.env_var(self.provider.kind)
        if status == keys.KEYCHAIN:
            return "•••• stored in keychain (type a new key to replace it)"
        if status == keys.SESSION:
            return "•••• kept until Troupe quits (type a new key to replace it)"
        if status == keys.ENVIRONMENT:
            return f"Using {var} (type a key to store one)"
        if not self.provider.info.needs_key:
            return "Optional: only if your server asks for one"
        return f"Paste your {self.provider.info.label} API key"

    def _update_buttons(self) -> None:
        typed = bool(self.edit.text().strip())
        self.save.setEnabled(self.available and typed)
        self.session.setEnabled(typed)
        self.remove.setEnabled(self.state == keys.SESSION
                               or (self.available and self.state == keys.KEYCHAIN))

    def _say(self, text: str, error: bool = False) -> None:
        say(self.message, text, theme.FAILED_COLOUR if error else None)
        self.message.show()

    # --- actions ----------------------------------------------------------------------

    def _on_enter(self) -> None:
        (self._on_save if self.available else self._on_session)()

    def _on_save(self) -> bool:
        """Store the typed key; False (and a message) if the keychain refused it."""
        key = self.edit.text().strip()
        if not key or not self.available:
            return True
        try:
            secrets.set_api_key(self.provider.name, key)
        except Exception as exc:  # noqa: BLE001 - any keyring backend failure is shown, not raised
            self._say(f"Could not store the {self.title} key: {exc}", error=True)
            saved = False
        else:
            secrets.forget_for_session(self.provider.name)  # the stored key now wins
            self.edit.clear()
            self._say(f"{self.title} key saved to the keychain.")
            saved = True
        self._changed()
        return saved

    def _on_session(self) -> None:
        key = self.edit.text().strip()
        if not key:
            return
        secrets.remember_for_session(self.provider.name, key)
        self.edit.clear()
        self._say(f"{self.title} key kept for this session; it is forgotten when Troupe quits.")
        self._changed()

    def _on_remove(self) -> None:
        if self.state == keys.SESSION:
            secrets.forget_for_session(self.provider.name)
            self._say(f"{self.title} key forgotten.")
        elif self._confirm_remove():
            try:
                keys.delete_api_key(self.provider.name)
            except Exception as exc:  # noqa: BLE001 - as in _on_save
                self._say(f"Could not remove the {self.title} key: {exc}", error=True)
            else:
                self._say(f"{self.title} key removed from the keychain.")
        self._changed()

    def _confirm_remove(self) -> bool:
        answer = QMessageBox.question(
            self, "Remove API key", f"Remove the {self.title} key from the keychain?\n\n"
            "Troupe will use the environment variable instead, if it is set.")
        return answer == QMessageBox.StandardButton.Yes

    def _changed(self) -> None:
        self.refresh()
        self.keyChanged.emit()

    def save_typed(self) -> Problem | None:
        """On OK: keep a key that was typed but not saved; a problem if it cannot be."""
        if not self.edit.text().strip():
            return None
        if not self.available:
            return Problem(f"The {self.title} key you typed is not kept: press “{SESSION_BUTTON}”, "
                           "or clear the field.", self.edit.setFocus)
        if self._on_save():
            return None
        return Problem(self.message.text(), self.edit.setFocus)

