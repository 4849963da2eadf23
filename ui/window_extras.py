"""The window's Help menu and export flow: what people expect of a desktop app.

Help › Keyboard shortcuts, About Troupe (version, data folder), Open data folder,
Open log. Export suggests the goal as the file name in the person's documents
folder (then the last folder used), never blocks the loop (`open()`, no nested
event loop under qasync), and confirms the save with Open / Show in folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from app.paths import data_dir, logs_dir

SHORTCUTS = (
    ("Ctrl+Enter", "Send the goal (in the goal box); confirm an approval editor"),
    ("Esc", "Leave an approval editor; clear the search"),
    ("Ctrl+R", "Run the plan"),
    ("Ctrl+.", "Cancel the run (asks first while tasks are working)"),
    ("Ctrl+Shift+R", "Replan"),
    ("Ctrl+F", "Search the history"),
    ("Ctrl+N", "New project"),
    ("Ctrl+Shift+S", "Spending"),
    ("Ctrl+,", "Settings"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo a plan edit (in the plan table)"),
    ("Ctrl+Q", "Quit"),
)
"""What the Keyboard shortcuts box lists (kept next to the actions that own them)."""

EXPORT_DIR_KEY = "export/last_dir"


def troupe_version() -> str:
    try:
        return version("troupe")
    except PackageNotFoundError:  # a source tree that was never installed
        return "development"


def add_help_menu(window: QMainWindow) -> dict[str, QAction]:
    """Help › Keyboard shortcuts, About Troupe, Open data folder, Open log."""
    menu = window.menuBar().addMenu("&Help")
    actions = {
        "shortcuts": QAction("&Keyboard shortcuts", window, shortcut=QKeySequence("F1")),
        "data": QAction("Open &data folder", window),
        "log": QAction("Open &log", window),
        "about": QAction("&About Troupe", window),
    }
    actions["about"].setMenuRole(QAction.MenuRole.AboutRole)
    actions["shortcuts"].triggered.connect(lambda: _show(window, "Keyboard shortcuts", _shortcuts_html()))
    actions["data"].triggered.connect(lambda: _open_folder(data_dir()))
    actions["log"].triggered.connect(lambda: _open_log(window))
    actions["about"].triggered.connect(lambda: _show(window, "About Troupe", about_html()))
    menu.addAction(actions["shortcuts"])
    menu.addSeparator()
    menu.addAction(actions["data"])
    menu.addAction(actions["log"])
    menu.addSeparator()
    menu.addAction(actions["about"])
    for action in actions.values():
        window.addAction(action)
    return actions


def about_html() -> str:
    return (f"<b>Troupe {troupe_version()}</b><br>A team of AI agents on your own machine.<br><br>"
            f"Data folder: <code>{data_dir()}</code><br>Log: <code>{logs_dir() / 'troupe.log'}</code>")


def _shortcuts_html() -> str:
    rows = "".join(f"<tr><td style='padding-right:16px'><b>{keys}</b></td><td>{what}</td></tr>"
                   for keys, what in SHORTCUTS)
    return f"<table>{rows}</table>"


def _show(parent: QWidget, title: str, html: str) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, title, html, parent=parent)
    box.setTextFormat(box.textFormat().RichText)
    box.finished.connect(box.deleteLater)
    box.open()
    return box


def _open_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _open_log(parent: QWidget) -> None:
    log = logs_dir() / "troupe.log"
    if log.exists():
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log)))
    else:
        _show(parent, "Log", f"Nothing logged yet: <code>{log}</code> does not exist.")


# --- export ----------------------------------------------------------------------------


def suggested_name(goal: str, fmt: str) -> str:
    """The goal as a file name: "Compare two laptops.md" (unsafe characters dropped)."""
    name = re.sub(r"[\\/:*?\"<>|\x00-\x1f]+", " ", goal).strip(" .")
    name = " ".join(name.split())[:80].rstrip(" .") or "Troupe deliverable"
    return f"{name}.{fmt}"


def _settings() -> QSettings:
    return QSettings(str(data_dir() / "window.ini"), QSettings.Format.IniFormat)  # as the window's own


def export_folder() -> Path:
    """The last folder exported to, else the person's documents folder, else home."""
    last = _settings().value(EXPORT_DIR_KEY)
    if last and Path(str(last)).is_dir():
        return Path(str(last))
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(documents) if documents and Path(documents).is_dir() else Path.home()


def ask_export(parent: QWidget, goal: str, fmt: str, write: Callable[[Path], None],
               on_saved: Callable[[QMessageBox], None] = lambda _box: None) -> QFileDialog:
    """A save dialog (window-modal, no nested loop); on save, write and confirm it
    (`on_saved` gets the confirmation)."""
    dialog = QFileDialog(parent, "Export", str(export_folder() / suggested_name(goal, fmt)))
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setDefaultSuffix(fmt)
    dialog.setNameFilters([f"{fmt.upper()} (*.{fmt})", "All files (*)"])

    def saved(chosen: str) -> None:
        path = Path(chosen)
        try:
            write(path)
        except OSError as exc:
            QMessageBox.warning(parent, "Export", f"Could not write {path}: {exc.strerror or exc}")
            return
        _settings().setValue(EXPORT_DIR_KEY, str(path.parent))
        on_saved(confirm_export(parent, path))

    dialog.fileSelected.connect(saved)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog


def confirm_export(parent: QWidget, path: Path) -> QMessageBox:
    """"Exported to …" with Open and Show in folder."""
    box = QMessageBox(QMessageBox.Icon.Information, "Exported", f"Exported to {path}", parent=parent)
    opened = box.addButton("Open", QMessageBox.ButtonRole.AcceptRole)
    folder = box.addButton("Show in folder", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Close)

    def chosen(_code: int) -> None:
        if box.clickedButton() is opened:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        elif box.clickedButton() is folder:
            _open_folder(path.parent)

    box.finished.connect(chosen)
    box.finished.connect(box.deleteLater)
    box.open()
    return box
