"""Alembic migrations: the schema they build, and upgrades that keep every row.

Adding a migration? Add a case to MIGRATION_CASES: a seed function that
inserts rows with raw SQL as the schema was at the *previous* revision, and the
test checks that upgrading to head loses none of them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from app.storage import open_database
from app.storage.db import (
    MIGRATIONS_DIR,
    current_revision,
    head_revision,
    make_engine,
    upgrade_database,
)
from app.storage.models import Base, is_fts_table

TABLES = [
    "projects",
    "runs",
    "plan_versions",
    "tasks",
    "events",
    "llm_calls",
    "approvals",
    "search_docs",
]
TABLES_0002 = [*TABLES, "tool_calls"]


def seed_0001(db: sqlite3.Connection) -> None:
    """Rows in every table of revision 0001."""
    db.execute("INSERT INTO projects (id, name, created) VALUES (1, 'Old', 1.0)")
    db.execute(
        "INSERT INTO runs (id, project_id, goal, status, created, updated, settings, "
        "deliverable, prompt_tokens, completion_tokens, cost) "
        "VALUES ('r1', 1, 'an old goal', 'completed', 1.0, 2.0, '{\"model\": \"m\"}', "
        "'old deliverable', 3, 4, 0.5)"
    )
    db.execute(
        "INSERT INTO plan_versions (run_id, version, source, plan, created) "
        "VALUES ('r1', 1, 'proposed', '{\"goal\": \"g\", \"tasks\": []}', 1.0)"
    )
    db.execute(
        "INSERT INTO tasks (run_id, task_id, parent_id, position, title, agent, instructions, "
        "depends_on, requires_approval, status, attempts, output, prompt_tokens, "
        "completion_tokens, cost) VALUES ('r1', 'a', NULL, 0, 'A', 'writer', '', '[]', 0, "
        "'completed', 1, 'an old output about otters', 3, 4, 0.5)"
    )
    db.execute(
        "INSERT INTO events (run_id, seq, type, ts, data) "
        "VALUES ('r1', 1, 'TaskStarted', 1.5, '{}')"
    )
    db.execute(
        "INSERT INTO llm_calls (run_id, task_id, purpose, model, prompt_tokens, "
        "completion_tokens, cost, cost_known, latency_ms, ok, error, ts) "
        "VALUES ('r1', 'a', 'task', 'm', 3, 4, 0.5, 1, 10.0, 1, '', 1.6)"
    )
    db.execute(
        "INSERT INTO approvals (run_id, request_id, task_id, subject, title, details, "
        "requested_at) VALUES ('r1', 'q1', 'a', 'task', 'A', 'd', 1.2)"
    )


def seed_0002(db: sqlite3.Connection) -> None:
    """Rows in every table of revision 0002 (0001's and a tool call)."""
    seed_0001(db)
    db.execute(
        "INSERT INTO tool_calls (run_id, key, task_id, tool, arguments_hash, arguments, status, "
        "result, error, started_at, finished_at) VALUES ('r1', 'r1:a:1:0', 'a', 'write_file', "
        "'h', '{}', 'finished', 'wrote 1 characters', 0, 1.7, 1.8)"
    )


def seed_0003(db: sqlite3.Connection) -> None:
    """Rows in every table of revision 0003 (0002's; runs.partial is new there)."""
    seed_0002(db)
    db.execute(
        "INSERT INTO runs (id, project_id, goal, status, created, updated, settings, "
        "prompt_tokens, completion_tokens, cost, partial) "
        "VALUES ('r2', 1, 'a partial goal', 'completed', 3.0, 4.0, '{}', 0, 0, 0.0, 1)"
    )


# (revision to start from, rows to put in at that revision). One case per revision.
MIGRATION_CASES: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("0001", seed_0001),
    ("0002", seed_0002),
    ("0003", seed_0003),
]


def _counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES_0002 if t in tables}


@pytest.mark.parametrize(("revision", "seed"), MIGRATION_CASES, ids=[c[0] for c in MIGRATION_CASES])
def test_upgrade_keeps_every_row(
    tmp_path: Path, revision: str, seed: Callable[[sqlite3.Connection], None]
) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(path)
    upgrade_database(engine, revision)
    assert current_revision(engine) == revision
    engine.dispose()
    with sqlite3.connect(path) as db:
        seed(db)
    before = _counts(path)
    assert all(before[t] > 0 for t in before), before

    store = open_database(path)
    assert current_revision(store.engine) == head_revision()
    after = _counts(path)
    assert {t: after[t] for t in before} == before
    run = store.get_run("r1")
    assert (run.goal, run.deliverable, run.task("a").output) == (
        "an old goal",
        "old deliverable",
        "an old output about otters",
    )
    assert [r.id for r in store.search_runs("otters")] == ["r1"]
    if "tool_calls" in before:
        assert [(c.key, c.result) for c in store.tool_calls("r1")] == [("r1:a:1:0", "wrote 1 characters")]
    # runs from before 0003 were not partial; a later one keeps its flag
    assert not run.partial and not store.list_runs(search="old goal")[0].partial
    if revision >= "0003":
        assert store.get_run("r2").partial
    store.close()


def test_upgrading_from_0002_adds_partial_false_and_keeps_runs_in_place(tmp_path: Path) -> None:
    # a plain ADD COLUMN: runs is not recreated, its search triggers stay
    path = tmp_path / "old.db"
    engine = make_engine(path)
    upgrade_database(engine, "0002")
    engine.dispose()
    with sqlite3.connect(path) as db:
        seed_0002(db)
        triggers = sorted(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
        runs_before = db.execute("SELECT * FROM runs").fetchall()
    open_database(path).close()
    with sqlite3.connect(path) as db:
        assert sorted(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")) == triggers
        # 0003 adds partial (false); 0004 adds budget_usd, deadline and estimate (none)
        assert db.execute("SELECT * FROM runs").fetchall() == [(*r, 0, None, None, None) for r in runs_before]


def test_upgrading_from_0003_adds_costs_and_limits_as_none(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(path)
    upgrade_database(engine, "0003")
    engine.dispose()
    with sqlite3.connect(path) as db:
        seed_0003(db)
    open_database(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT budget_usd, deadline, estimate FROM runs").fetchall() == [(None,) * 3] * 2
        assert db.execute("SELECT monthly_budget_usd FROM projects").fetchall() == [(None,)]
        assert {r[0] for r in db.execute("SELECT tokens_estimated FROM llm_calls")} <= {0}


def test_upgrading_to_0004_makes_earlier_approval_edits_searchable(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(path)
    upgrade_database(engine, "0003")
    engine.dispose()
    with sqlite3.connect(path) as db:
        seed_0003(db)
        db.execute("INSERT INTO approvals (run_id, request_id, task_id, subject, title, details, requested_at, "
                   "action, text) VALUES ('r1', 'q2', 'a', 'task', 'A', 'd', 1.3, 'edit', 'mention the walruses')")
    store = open_database(path)
    assert [r.id for r in store.search_runs("walruses")] == ["r1"]
    store.close()


def test_fresh_database_schema_and_connection_settings(tmp_path: Path) -> None:
    store = open_database(tmp_path / "new.db")
    assert current_revision(store.engine) == head_revision() == "0004"
    with store.engine.connect() as conn:
        names = set(conn.execute(text("SELECT name FROM sqlite_master")).scalars())
        assert set(TABLES_0002) | {"search_fts", "alembic_version"} <= names
        assert {"ix_runs_created", "ux_events_run_seq", "ux_tasks_run_task"} <= names
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    store.close()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    store = open_database(tmp_path / "fk.db")
    with pytest.raises(Exception, match="FOREIGN KEY"), store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (run_id, seq, type, ts, data) VALUES ('nope', 1, 'X', 0, '{}')"
        )
    store.close()


def test_models_match_the_migrations(tmp_path: Path) -> None:
    store = open_database(tmp_path / "cmp.db")

    def include_name(name: str | None, type_: str, parents: object) -> bool:
        return not (type_ == "table" and name is not None and is_fts_table(name))

    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": include_name, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []
    store.close()


def test_reopening_at_head_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "again.db"
    store = open_database(path)
    run_id = store.create_run("P", "keep me")
    store.close()
    store = open_database(path)
    assert store.get_run(run_id).goal == "keep me"
    store.close()


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    from alembic import command

    from app.storage.db import alembic_config, writer_engine

    engine = make_engine(tmp_path / "down.db")
    upgrade_database(engine)
    with writer_engine(engine).begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert current_revision(engine) is None
    upgrade_database(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0002_tool_calls.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0003_run_partial.py").is_file()
    assert not (MIGRATIONS_DIR / "alembic.ini").exists()  # configured in code
