"""Helpers for driving the Settings dialog's real widgets as a person would."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import qasync
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget

from app.providers import secrets

FAKE_KEY = "sk-test-NEVERINSETTINGS0123456789"


def click(qtbot: Any, button: QWidget) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def click_ok(qtbot: Any, dialog: Any) -> None:
    click(qtbot, dialog.buttons.button(QDialogButtonBox.StandardButton.Ok))


def type_into(qtbot: Any, widget: Any, text: str) -> None:
    """Replace a line edit's (or editable combo box's) text as a person would."""
    edit = widget.lineEdit() if hasattr(widget, "lineEdit") else widget
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def click_check_box(qtbot: Any, box: Any) -> None:
    """Click on the box itself (the widget may be wider than box and text)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


async def until(predicate: Callable[[], object]) -> None:
    # the caller's asyncio.wait_for bounds the wait
    while not predicate():  # noqa: ASYNC110 - polling widgets, which change state without events
        await asyncio.sleep(0.01)


def wait_for(loop: asyncio.AbstractEventLoop, predicate: Callable[[], object], seconds: float = 20) -> None:
    """Run the qasync loop until `predicate()` holds (the dialog's jobs run meanwhile)."""
    loop.run_until_complete(asyncio.wait_for(until(predicate), seconds))


@contextmanager
def qasync_loop(app: QApplication) -> Iterator[qasync.QEventLoop]:
    """The app's loop, as in ui/gui.py, for the length of a test.

    Earlier tests' widgets are deleted and their garbage collected here, on
    the main thread: otherwise a collection can run in a worker thread (the
    litellm import) and free Qt objects there, which crashes.
    """
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()
        loop.close()
        asyncio.set_event_loop(None)


def forget_session_keys() -> None:
    """Session keys live in the process: no test may leave one for the next."""
    for name in list(secrets._session_keys):
        secrets.forget_for_session(name)
