"""History storage: SQLite via SQLAlchemy, migrated by Alembic.

Typical use: `store = open_database(paths.db_path())` (migrates to head), then
`store.mark_interrupted()` at startup; `writer = EventWriter(store)` is the
EventSink a run emits to; at the end `await writer.aflush()`; on exit
`writer.close()` then `store.close()`.

The names below are imported on first use (PEP 562): importing this package,
or app.storage.records for a record type, must not import SQLAlchemy (~0.3 s),
so the window can paint before the database is opened.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.storage.records import (
        ApprovalRow,
        FinishedTask,
        LLMCallRow,
        PlanVersionRow,
        RunDetail,
        RunSummary,
        TaskRow,
        ToolCallRow,
        WriteError,
    )
    from app.storage.repository import Store, check_settings, open_database
    from app.storage.writer import EventWriter

_MODULE_OF = {
    "ApprovalRow": "records", "FinishedTask": "records", "LLMCallRow": "records",
    "PlanVersionRow": "records", "RunDetail": "records", "RunSummary": "records",
    "TaskRow": "records", "ToolCallRow": "records", "WriteError": "records",
    "Store": "repository", "check_settings": "repository", "open_database": "repository",
    "EventWriter": "writer",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


__all__ = [
    "ApprovalRow",
    "EventWriter",
    "FinishedTask",
    "LLMCallRow",
    "PlanVersionRow",
    "RunDetail",
    "RunSummary",
    "Store",
    "TaskRow",
    "ToolCallRow",
    "WriteError",
    "check_settings",
    "open_database",
]
