"""The window started in the test's process as ui/gui.py starts it (the history
database opened after the first paint), for tests of what it says at start."""

from __future__ import annotations

import asyncio

import pytest
import qasync

from app.runs.service import RunService
from app.settings import Settings
from ui.main_window import MainWindow


def start_window(loop: qasync.QEventLoop, monkeypatch: pytest.MonkeyPatch) -> tuple[MainWindow, list[str]]:
    """The window and its warnings, once it warned (or offered to restore a damaged database)."""
    window = MainWindow(RunService.deferred(settings=Settings(default_model="openai/test-model")))
    warnings: list[str] = []
    monkeypatch.setattr(window, "show_warning", lambda _title, text: warnings.append(text))
    window.show()

    async def until_told() -> None:
        while not warnings and window.restore_dialog is None:  # noqa: ASYNC110 - from a Qt timer
            await asyncio.sleep(0.01)

    loop.run_until_complete(asyncio.wait_for(until_told(), 10))
    return window, warnings


def close_window(window: MainWindow, loop: qasync.QEventLoop) -> None:
    window.close()
    loop.run_until_complete(window.session.aclose())
    window.service.close()
    window.deleteLater()
