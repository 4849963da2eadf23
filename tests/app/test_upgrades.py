"""Safe upgrades of the history database: backup first, all or nothing, refuse the unknown.

Old databases are built the way an old Troupe left them: only the old
migrations run, then rows go in with raw SQL (see test_migrations.py).
Failures are real: a test-only migration 0005 (in a copy of the migrations
directory) recreates `runs` in Alembic's batch mode and then adds a unique
index that rows seeded with a duplicate break.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from app.storage import backups, db, open_database
from app.storage.db import current_revision, make_engine, upgrade_database
from app.storage.errors import DatabaseTooNew, DatabaseUpgradeFailed, NotATroupeDatabase
from tests.app.test_migrations import seed_0001, seed_0003

Seed = Callable[[sqlite3.Connection], None]

MIGRATION_0005 = '''"""Test only: pin runs (a table recreated in batch mode), unique task positions."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("body", sa.Text()))
    op.execute("INSERT INTO notes (body) VALUES ('written before the failure')")
    # recreates runs (copy, DROP TABLE runs, rename); tasks, events, ... point at it
    with op.batch_alter_table("runs", recreate="always") as batch:
        batch.add_column(sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ux_tasks_run_position", "tasks", ["run_id", "position"], unique=True)


def downgrade() -> None:
    raise NotImplementedError
'''


def old_database(path: Path, revision: str, seed: Seed) -> Path:
    """A database an older Troupe made: migrated to `revision` only, with rows in every table."""
    engine = make_engine(path)
    upgrade_database(engine, revision)
    engine.dispose()
    with closing(sqlite3.connect(path)) as conn, conn:
        seed(conn)
    # the last connection out checkpoints: one self-contained file, as after a clean exit
    assert not Path(f"{path}-wal").exists()
    return path


def duplicate_task_position(conn: sqlite3.Connection) -> None:
    """A second task at position 0 of run r1: breaks migration 0005's unique index."""
    conn.execute(
        "INSERT INTO tasks (run_id, task_id, position, title, agent, instructions, depends_on, "
        "requires_approval, status, attempts, prompt_tokens, completion_tokens, cost) "
        "VALUES ('r1', 'b', 0, 'B', 'writer', '', '[]', 0, 'completed', 1, 0, 0, 0)"
    )


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, and the schema itself, in a stable order."""
    with closing(sqlite3.connect(path)) as conn, conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
        found["sqlite_master"] = sorted(conn.execute("SELECT * FROM sqlite_master").fetchall())
    return found


def revision_of(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]


@pytest.fixture
def with_next_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This build's migrations plus the test-only 0005, as if Troupe shipped it."""
    directory = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, directory, ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "versions" / "0005_pinned_runs.py").write_text(MIGRATION_0005)
    monkeypatch.setattr(db, "MIGRATIONS_DIR", directory)
    monkeypatch.setattr(db, "HEAD", "0005")
    return directory


# --- upgrading keeps every row, after a backup ---------------------------------------


def test_a_first_version_database_is_backed_up_then_upgraded_keeping_every_row(tmp_path: Path) -> None:
    path = old_database(tmp_path / "troupe.db", "0001", seed_0001)
    before = rows(path)

    store = open_database(path)
    assert current_revision(store.engine) == db.HEAD
    store.close()

    after = rows(path)
    # every row as it was; runs gained 0003's `partial` (false for old runs) and
    # 0004's budget_usd, deadline and estimate (none), projects 0004's monthly budget
    assert [r[-4:] for r in after["runs"]] == [(0, None, None, None)] * len(before["runs"])
    after["runs"] = [r[:-4] for r in after["runs"]]
    after["projects"] = [r[:-1] for r in after["projects"]]
    # 0004's agent and tokens_estimated
    assert [r[-2:] for r in after["llm_calls"]] == [("", 0)] * len(before["llm_calls"])
    after["llm_calls"] = [r[:-2] for r in after["llm_calls"]]
    assert {t: after[t] for t in before if t not in ("alembic_version", "sqlite_master")} == {
        t: before[t] for t in before if t not in ("alembic_version", "sqlite_master")
    }
    [backup] = backups.backups_of(path)
    assert backup.name.startswith("troupe.db.backup-") and backup.name.endswith("-rev0001")
    assert rows(backup) == before  # the old schema and rows, exactly
    assert revision_of(backup) == "0001"


def test_the_backup_holds_what_is_still_in_the_wal(tmp_path: Path) -> None:
    path = old_database(tmp_path / "troupe.db", "0001", seed_0001)
    keeper = sqlite3.connect(path, isolation_level=None)  # stays open: nothing is checkpointed
    keeper.execute("PRAGMA wal_autocheckpoint=0")
    keeper.execute("INSERT INTO projects (name, created) VALUES ('only in the WAL', 2.0)")
    assert Path(f"{path}-wal").stat().st_size > 0

    open_database(path).close()
    keeper.close()

    [backup] = backups.backups_of(path)
    with closing(sqlite3.connect(backup)) as copy:
        names = {r[0] for r in copy.execute("SELECT name FROM projects")}
    assert names == {"Old", "only in the WAL"}


def test_a_new_database_needs_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "new" / "troupe.db"
    open_database(path).close()
    open_database(path).close()
    assert backups.backups_of(path) == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["troupe.db"]


def test_an_upgraded_database_is_not_backed_up_again(tmp_path: Path) -> None:
    path = old_database(tmp_path / "troupe.db", "0001", seed_0001)
    open_database(path).close()
    open_database(path).close()
    assert len(backups.backups_of(path)) == 1


def test_recreating_a_parent_table_keeps_its_children(tmp_path: Path, with_next_migration: Path) -> None:
    # Batch mode drops the old `runs`; with foreign keys on, that would
    # cascade-delete every task, event and LLM call of every run.
    path = old_database(tmp_path / "troupe.db", "0003", seed_0003)
    before = rows(path)

    store = open_database(path)
    assert current_revision(store.engine) == "0005"
    store.close()

    after = rows(path)
    for table in ("tasks", "events", "approvals", "plan_versions", "tool_calls"):
        assert after[table] == before[table], table
    assert [r[:-2] for r in after["llm_calls"]] == before["llm_calls"]  # 0005 keeps 0004's rows
    assert [r[:3] for r in after["runs"]] == [r[:3] for r in before["runs"]]
    assert after["notes"] == [(1, "written before the failure")]


# --- a failed upgrade changes nothing --------------------------------------------------


def test_a_failed_migration_leaves_the_file_byte_for_byte_unchanged(
    tmp_path: Path, with_next_migration: Path
) -> None:
    path = old_database(tmp_path / "troupe.db", "0003", lambda c: (seed_0003(c), duplicate_task_position(c)))
    before_bytes, before_rows = path.read_bytes(), rows(path)

    with pytest.raises(DatabaseUpgradeFailed) as failure:
        open_database(path)

    assert path.read_bytes() == before_bytes
    assert rows(path) == before_rows  # no `notes`, `runs` not recreated, still 0003
    assert revision_of(path) == "0003"
    assert not Path(f"{path}-wal").exists()  # no connection left open
    [backup] = backups.backups_of(path)
    message = str(failure.value)
    assert str(path) in message and str(backup) in message
    assert "from schema revision 0003 to 0005" in message
    assert "UNIQUE constraint failed: tasks.run_id, tasks.position" in message
    assert "Nothing was changed: it is still at revision 0003" in message
    assert "\n" not in message
    assert (failure.value.revision, failure.value.backup) == ("0003", backup)


def test_a_failure_in_a_later_migration_undoes_the_earlier_ones(
    tmp_path: Path, with_next_migration: Path
) -> None:
    # 0002 (tool_calls), 0003 (runs.partial) and 0004 succeed, 0005 fails: the file must stay at 0001
    path = old_database(tmp_path / "troupe.db", "0001", lambda c: (seed_0001(c), duplicate_task_position(c)))
    before_bytes, before_rows = path.read_bytes(), rows(path)

    with pytest.raises(DatabaseUpgradeFailed, match="still at revision 0001"):
        open_database(path)

    assert path.read_bytes() == before_bytes
    assert rows(path) == before_rows
    assert "tool_calls" not in rows(path)


def test_the_upgrade_succeeds_once_the_cause_is_gone(tmp_path: Path, with_next_migration: Path) -> None:
    path = old_database(tmp_path / "troupe.db", "0003", lambda c: (seed_0003(c), duplicate_task_position(c)))
    with pytest.raises(DatabaseUpgradeFailed):
        open_database(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE tasks SET position = 1 WHERE task_id = 'b'")
    store = open_database(path)
    assert current_revision(store.engine) == "0005"
    assert [t.task_id for t in store.get_run("r1").tasks] == ["a", "b"]
    store.close()


# --- what this build does not know is left alone ---------------------------------------


def test_a_database_from_a_newer_troupe_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "troupe.db"
    open_database(path).close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
        conn.execute("CREATE TABLE from_the_future (x)")
    before = path.read_bytes()

    with pytest.raises(DatabaseTooNew) as refused:
        open_database(path)

    assert path.read_bytes() == before
    assert backups.backups_of(path) == []
    message = str(refused.value)
    assert str(path) in message and "newer version of Troupe" in message
    assert "schema revision 0099; this version knows up to 0004" in message
    assert "It was not changed" in message and "TROUPE_HOME" in message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"these are someone's notes, not a database\n" * 200, "it is not a SQLite database"),
        (None, "it has tables but no Troupe schema revision"),
    ],
    ids=["not-sqlite", "other-sqlite"],
)
def test_a_file_that_is_not_a_troupe_database_is_refused_untouched(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "troupe.db"
    if content is None:
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("CREATE TABLE recipes (name TEXT)")
            conn.execute("INSERT INTO recipes VALUES ('soup')")
    else:
        path.write_bytes(content)
    before = path.read_bytes()

    with pytest.raises(NotATroupeDatabase, match=reason) as refused:
        open_database(path)

    assert path.read_bytes() == before
    assert str(path) in str(refused.value)


# --- backups are bounded ----------------------------------------------------------------

T0 = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC, a fixed clock for names


def test_only_the_newest_backups_are_kept(tmp_path: Path) -> None:
    path = old_database(tmp_path / "troupe.db", "0001", seed_0001)
    made = [backups.back_up(path, "0001", now=T0 + 60 * i) for i in range(7)]
    unrelated = [tmp_path / "troupe.db.backup-notes.txt", tmp_path / "other.db.backup-x"]
    for other in unrelated:
        other.write_text("not ours to delete")

    deleted = backups.prune(path)

    assert deleted == made[:2]
    assert backups.backups_of(path) == made[2:]
    assert len(made[2:]) == backups.KEEP
    assert all(p.exists() for p in unrelated)


def test_an_upgrade_rotates_out_the_oldest_backup(tmp_path: Path) -> None:
    path = old_database(tmp_path / "troupe.db", "0001", seed_0001)
    older = [backups.back_up(path, "0001", now=T0 + i) for i in range(backups.KEEP)]

    open_database(path).close()

    kept = backups.backups_of(path)
    assert len(kept) == backups.KEEP
    assert kept[:-1] == older[1:]
    assert kept[-1] not in older and kept[-1].name.endswith("-rev0001")


def test_backups_in_the_same_second_get_distinct_names_in_order(tmp_path: Path) -> None:
    path = old_database(tmp_path / "troupe.db", "0001", seed_0001)
    first, second, third = (backups.back_up(path, "0001", now=T0) for _ in range(3))
    assert first.name == "troupe.db.backup-2026-11-18T110640Z-rev0001"
    assert (second.name, third.name) == (first.name + "-2", first.name + "-3")
    assert backups.backups_of(path) == [first, second, third]
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name or "journal" in p.name) == []


# --- through the command line ----------------------------------------------------------


def troupe(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `troupe` console script (the CLI, as a person runs it)."""
    script = Path(sys.executable).with_name("troupe")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]
    env = {**os.environ, "TROUPE_HOME": str(home)}
    return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=60)


def test_troupe_runs_upgrades_a_first_version_database(troupe_home: Path) -> None:
    path = old_database(troupe_home / "troupe.db", "0001", seed_0001)

    done = troupe(troupe_home, "runs", "--json")

    assert done.returncode == 0, done.stderr
    assert '"goal": "an old goal"' in done.stdout
    assert revision_of(path) == db.HEAD
    assert [b.name[-8:] for b in backups.backups_of(path)] == ["-rev0001"]


def test_troupe_runs_refuses_a_newer_database_in_one_line(troupe_home: Path) -> None:
    path = troupe_home / "troupe.db"
    open_database(path).close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    before = path.read_bytes()

    done = troupe(troupe_home, "runs")

    assert done.returncode == 1
    assert done.stderr.startswith(f"troupe: The history database {path} was made by a newer version")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert path.read_bytes() == before
