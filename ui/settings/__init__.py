"""The Settings dialog: models, providers and their keys, the agent roster."""

from ui.settings.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
