"""The core's ToolLedger over the history database: tool calls on record, exactly once.

Each write is its own committed transaction, not an event on the writer's
queue: `begin` must be on disk before the tool runs, so a kill -9 during the
call still finds it. The writes run in a worker thread so a busy database
never stalls the event loop (and with it the window).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agents.ports import LedgerEntry

if TYPE_CHECKING:
    from app.storage import Store


class StoreLedger:
    """Tool calls of one run, recorded in the Store's `tool_calls` table."""

    def __init__(self, store: Store, run_id: str) -> None:
        self._store = store
        self._run_id = run_id

    async def begin(self, key: str, tool: str, arguments_hash: str, arguments: str) -> None:
        await asyncio.to_thread(self._store.begin_tool_call, self._run_id, key, self._task_of(key),
                                tool, arguments_hash, arguments)

    async def finish(self, key: str, result: str, error: bool) -> None:
        await asyncio.to_thread(self._store.finish_tool_call, key, result, error)

    async def prior(self, key: str) -> LedgerEntry | None:
        row = await asyncio.to_thread(self._store.tool_call, key)
        if row is None:
            return None
        return LedgerEntry(row.tool, row.arguments_hash, row.arguments, finished=row.status == "finished",
                           result=row.result or "", error=row.error)

    def _task_of(self, key: str) -> str:
        """The task id inside "<run>:<task>:<step>:<index>"."""
        return key.removeprefix(f"{self._run_id}:").rsplit(":", 2)[0]
