"""Fixtures for the app layer: real SQLite files in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.storage import EventWriter, Store, open_database


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "troupe.db"


@pytest.fixture
def store(db_file: Path) -> Iterator[Store]:
    store = open_database(db_file)
    yield store
    store.close()


@pytest.fixture
def writer(store: Store) -> Iterator[EventWriter]:
    writer = EventWriter(store)
    yield writer
    writer.close()
