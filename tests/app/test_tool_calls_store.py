"""Tool calls on record in SQLite: what the StoreLedger gives the core."""

from __future__ import annotations

import pytest

from agents.ports import LedgerEntry
from app.storage import Store
from app.tools.ledger import StoreLedger


async def test_begin_is_committed_and_finish_completes_it(store: Store, db_file) -> None:
    run_id = store.create_run("P", "goal")
    ledger = StoreLedger(store, run_id)
    key = f"{run_id}:task-1:2:0"
    assert await ledger.prior(key) is None
    await ledger.begin(key, "write_file", "h1", '{"path": "a"}')
    # another connection (another process, after a crash) sees it at once
    from app.storage import open_database

    other = open_database(db_file)
    [row] = other.tool_calls(run_id)
    assert (row.key, row.task_id, row.status, row.result) == (key, "task-1", "started", None)
    other.close()
    assert await ledger.prior(key) == LedgerEntry("write_file", "h1", '{"path": "a"}', finished=False)

    await ledger.finish(key, "wrote 1 characters", False)
    assert await ledger.prior(key) == LedgerEntry(
        "write_file", "h1", '{"path": "a"}', finished=True, result="wrote 1 characters")
    assert store.tool_call(key).finished_at is not None


async def test_a_new_call_under_the_same_key_replaces_the_old(store: Store) -> None:
    run_id = store.create_run("P", "goal")
    ledger = StoreLedger(store, run_id)
    key = f"{run_id}:t:1:0"
    await ledger.begin(key, "write_file", "h1", "{}")
    await ledger.finish(key, "old", True)
    await ledger.begin(key, "run_shell", "h2", '{"cmd": "ls"}')
    entry = await ledger.prior(key)
    assert (entry.tool, entry.arguments_hash, entry.finished, entry.result, entry.error) == (
        "run_shell", "h2", False, "", False)
    assert len(store.tool_calls(run_id)) == 1


def test_finish_without_begin_and_deleting_the_run(store: Store) -> None:
    with pytest.raises(KeyError):
        store.finish_tool_call("nope", "x", False)
    run_id = store.create_run("P", "goal")
    store.begin_tool_call(run_id, f"{run_id}:t:1:0", "t", "x", "h", "{}")
    store.delete_run(run_id)
    assert store.tool_calls(run_id) == []
