"""History storage: SQLite via SQLAlchemy, migrated by Alembic.

Typical use: `store = open_database(paths.db_path())` (migrates to head), then
`store.mark_interrupted()` at startup; `writer = EventWriter(store)` is the
EventSink a run emits to; at the end `await writer.aflush()`; on exit
`writer.close()` then `store.close()`.
"""

from app.storage.records import (
    ApprovalRow,
    FinishedTask,
    LLMCallRow,
    PlanVersionRow,
    RunDetail,
    RunSummary,
    TaskRow,
    WriteError,
)
from app.storage.repository import Store, check_settings, open_database
from app.storage.writer import EventWriter

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
    "WriteError",
    "check_settings",
    "open_database",
]
