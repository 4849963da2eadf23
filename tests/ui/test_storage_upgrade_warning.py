"""The window, started on a history database it must not or could not upgrade,
stays up and shows the storage layer's own message (path, revision, what to do)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from app.storage import backups, open_database
from tests.app.test_migrations import seed_0003
from tests.app.test_upgrades import duplicate_task_position, old_database, with_next_migration  # noqa: F401
from tests.support.window_start import close_window, start_window

SCREENSHOT = Path("/tmp/troupe-storage-upgrade-warning.png")


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qapp.processEvents()
    loop.close()


def test_a_newer_database_is_explained_and_left_alone(
    qloop: qasync.QEventLoop, troupe_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = troupe_home / "troupe.db"
    open_database(path).close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    before = path.read_bytes()

    window, warnings = start_window(qloop, monkeypatch)

    assert f"The history database {path} was made by a newer version of Troupe" in warnings[0]
    assert "It was not changed" in warnings[0]
    assert window.history.empty.text() == "The history could not be opened."
    assert not window.send.isEnabled() and not window.service.ready
    assert path.read_bytes() == before
    close_window(window, qloop)


@pytest.mark.usefixtures("with_next_migration")
def test_a_failed_upgrade_names_the_backup_and_what_to_do(
    qloop: qasync.QEventLoop, troupe_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = old_database(
        troupe_home / "troupe.db", "0003", lambda c: (seed_0003(c), duplicate_task_position(c))
    )
    before = path.read_bytes()

    window, warnings = start_window(qloop, monkeypatch)

    [backup] = backups.backups_of(path)
    text = warnings[0]
    assert f"The history database {path} could not be upgraded from schema revision 0003" in text
    assert f"A copy made before the upgrade is at {backup}" in text
    assert "Nothing was changed" in text and "start Troupe again" in text
    assert path.read_bytes() == before
    assert not window.service.ready

    # what the person sees: the same text in the window's warning box
    box = QMessageBox(QMessageBox.Icon.Warning, "History", text, parent=window)
    box.show()
    QApplication.processEvents()
    assert box.grab().save(str(SCREENSHOT))
    box.close()
    close_window(window, qloop)
