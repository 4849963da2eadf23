"""Colours and fonts shared by the widgets: agent roles, task statuses, dark mode.

Role colours are mid-tone so that they read on a light and on a dark window;
in dark mode they are lifted a little. A role the palette does not know gets
a colour picked from its name with a stable hash (the same every run, unlike
Python's salted `hash`).
"""

from __future__ import annotations

import zlib

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget

ROLE_COLOURS: dict[str, str] = {
    "orchestrator": "#7e57c2",  # violet
    "researcher": "#1e88e5",  # blue
    "analyst": "#00897b",  # teal
    "coder": "#f4511e",  # deep orange
    "writer": "#d81b60",  # pink
    "reviewer": "#43a047",  # green
}
"""The default roster's roles."""

EXTRA_COLOURS: tuple[str, ...] = (
    "#3949ab",  # indigo
    "#00acc1",  # cyan
    "#fb8c00",  # orange
    "#8e24aa",  # purple
    "#7cb342",  # light green
    "#6d4c41",  # brown
    "#546e7a",  # blue grey
    "#c0a000",  # dark yellow
    "#ec407a",  # light pink
    "#26a69a",  # light teal
)
"""Colours for roles outside the default roster, chosen by a hash of the name."""

STATUS_COLOURS: dict[str, str] = {
    "pending": "#9e9e9e",
    "waiting_approval": "#f9a825",
    "running": "#1e88e5",
    "completed": "#43a047",
    "failed": "#e53935",
    "blocked": "#fb8c00",
    "skipped": "#90a4ae",
    "cancelled": "#757575",
    "retrying": "#8e24aa",
}
"""One colour per agents.run.state.TaskStatus value, plus the display-only "retrying"."""

STATUS_LABELS: dict[str, str] = {
    "pending": "Pending",
    "waiting_approval": "Waiting for approval",
    "running": "Running",
    "completed": "Done",
    "failed": "Failed",
    "blocked": "Blocked",
    "skipped": "Skipped",
    "cancelled": "Cancelled",
}

FAILED_COLOUR = STATUS_COLOURS["failed"]


_SYSTEM_PALETTE: QPalette | None = None
"""The desktop's palette, as the application started with it (for theme "system")."""


def dark_palette() -> QPalette:
    """A dark scheme for desktops (and offscreen runs) that do not provide one."""
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f1f1f", QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#2f7de1",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#353535",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8a8a",
        QPalette.ColorRole.Mid: "#444444", QPalette.ColorRole.Light: "#505050",
        QPalette.ColorRole.Dark: "#1a1a1a", QPalette.ColorRole.Link: "#6aa8ff",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6a6a6a"))
    return palette


_DARK_INDICATORS = (
    "QCheckBox::indicator:unchecked, QAbstractItemView::indicator:unchecked {"
    " border: 1px solid #8a8a8a; border-radius: 2px; background: #1f1f1f; width: 12px; height: 12px; }"
)


def apply_theme(choice: str) -> None:
    """Switch the application's colours: "system", "light" or "dark". Widgets that
    cache colours follow on their next rebuild (the window reopens the open run)."""
    global _SYSTEM_PALETTE
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return
    if _SYSTEM_PALETTE is None:
        _SYSTEM_PALETTE = QPalette(QGuiApplication.palette())
    if isinstance(app, QApplication):
        # Fusion outlines an empty check box in a darker shade of the window: invisible on
        # a dark one; a light frame for the unchecked box only (checked ones are drawn as usual)
        app.setStyleSheet(_DARK_INDICATORS if choice == "dark" else "")
    if choice == "dark":
        QGuiApplication.setPalette(dark_palette())
    elif choice == "light":
        light = _SYSTEM_PALETTE
        if light.color(QPalette.ColorRole.Window).lightnessF() < 0.5:  # a dark desktop: Fusion's light one
            style = QStyleFactory.create("Fusion") if isinstance(app, QApplication) else None
            light = style.standardPalette() if style is not None else light
        QGuiApplication.setPalette(light)
    else:
        QGuiApplication.setPalette(_SYSTEM_PALETTE)


def is_dark_mode() -> bool:
    """True when the application shows a dark colour scheme.

    Asks QStyleHints.colorScheme(); when the platform does not say (offscreen,
    some Linux desktops), judges by the window colour of the palette.
    """
    app = QGuiApplication.instance()
    if app is None:
        return False
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.5


def role_colour(role: str, dark: bool | None = None) -> QColor:
    """The colour of an agent role, stable across runs."""
    key = role.strip().lower()
    name = ROLE_COLOURS.get(key)
    if name is None:
        name = EXTRA_COLOURS[zlib.crc32(key.encode("utf-8")) % len(EXTRA_COLOURS)]
    colour = QColor(name)
    if dark if dark is not None else is_dark_mode():
        colour = colour.lighter(125)
    return colour


def status_colour(status: str) -> QColor:
    """The colour of a task status ("running", "failed", ...)."""
    return QColor(STATUS_COLOURS.get(str(status), STATUS_COLOURS["pending"]))


def status_label(status: str) -> str:
    return STATUS_LABELS.get(str(status), str(status).replace("_", " ").capitalize())


def contrasting_text(background: QColor) -> QColor:
    """Black or white, whichever reads better on `background`."""
    r, g, b = background.redF(), background.greenF(), background.blueF()
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return QColor("#000000") if luminance > 0.55 else QColor("#ffffff")


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """`a` blended towards `b` by t in [0, 1]."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        1.0,
    )


def palette_colour(role: QPalette.ColorRole) -> QColor:
    return QGuiApplication.palette().color(role)


def subtle_background(t: float = 0.06) -> QColor:
    """The window colour nudged towards the text colour: for cards and bubbles."""
    return mix(palette_colour(QPalette.ColorRole.Base), palette_colour(QPalette.ColorRole.Text), t)


def monospace_font(point_delta: int = 0) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if point_delta and font.pointSize() > 0:
        font.setPointSize(max(6, font.pointSize() + point_delta))
    return font


def tint(colour: str, amount: float = 0.16) -> str:
    """`colour` faded into the base colour: a banner's background, as CSS."""
    return css(mix(palette_colour(QPalette.ColorRole.Base), QColor(colour), amount))


def css(colour: QColor) -> str:
    """A colour as CSS (#rrggbb)."""
    return colour.name(QColor.NameFormat.HexRgb)


def dim_text_colour() -> QColor:
    """Secondary text: the text colour halfway towards the window colour."""
    return mix(palette_colour(QPalette.ColorRole.WindowText), palette_colour(QPalette.ColorRole.Window), 0.45)


def dim(widget: QWidget) -> None:
    """Show a widget's text in the secondary text colour."""
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.WindowText, dim_text_colour())
    palette.setColor(QPalette.ColorRole.Text, dim_text_colour())
    widget.setPalette(palette)
