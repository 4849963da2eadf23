"""UI tests: garbage is collected on the UI thread, as in the app (ui/gui.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from ui.main_thread_gc import MainThreadGC


@pytest.fixture(scope="session", autouse=True)
def main_thread_gc(qapp: QApplication) -> Iterator[MainThreadGC]:
    guard = MainThreadGC(qapp)
    yield guard
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # widgets the tests let go of
    qapp.processEvents()
    guard.stop()
