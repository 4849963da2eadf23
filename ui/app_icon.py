"""Troupe's window icon, from the PNGs rendered by scripts/render_icons.py."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from resources import RESOURCES_DIR

DESKTOP_FILE_NAME = "troupe"
"""resources/troupe.desktop without ".desktop": Wayland matches windows to the entry
by it. On X11 the entry's StartupWMClass matches the window class, which Qt takes
from the application name ("Troupe")."""


def app_icon() -> QIcon:
    """Every rendered size, so Qt picks a sharp one for the title bar, the task
    switcher and the dock (PNGs: no SVG icon engine plugin needed)."""
    icon = QIcon()
    for png in sorted((RESOURCES_DIR / "icons" / "hicolor").glob("*/apps/troupe.png")):
        icon.addFile(str(png))
    return icon
