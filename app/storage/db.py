"""The SQLite engine and the migrations that bring a database file up to date.

Every connection gets WAL, foreign keys and a busy timeout (5 s; the
TROUPE_BUSY_TIMEOUT variable, in seconds, changes it). Transactions are
explicit: the pysqlite driver's own implicit transactions are switched off and
SQLAlchemy's "begin" emits BEGIN (or BEGIN IMMEDIATE on `writer_engine`), so
DDL in migrations is transactional and a write transaction takes the write
lock up front instead of failing with SQLITE_BUSY when it upgrades.

SQLite's errors that are no bug of ours (a lock held past the busy timeout, a
full disk, a read-only folder, a damaged file) reach callers as the typed
errors of errors.py: from every engine made here (its handle_error hook) and
from the plain sqlite3 reads below.

Why a sync engine and not sqlalchemy[aiosqlite]: reads (CLI, UI queries) are
short, and the event writer runs in its own thread (writer.py). A background
thread with the sync driver keeps the asyncio loop free without aiosqlite's
per-statement hop to its own thread, and batches naturally.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from app.storage import backups
from app.storage.errors import (
    DatabaseTooNew,
    DatabaseUpgradeFailed,
    NotATroupeDatabase,
    StorageError,
    storage_error,
)

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and Mako, Pygments, the postgres dialect it pulls in) costs ~0.2 s
# to import: only pay for it when the database is not at HEAD already.
HEAD = "0004"
"""The newest migration's revision id (tests/app/test_migrations.py checks it)."""

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for another connection's lock before it fails."""
BUSY_TIMEOUT_ENV = "TROUPE_BUSY_TIMEOUT"
"""Seconds to wait instead (tests set it short)."""
_IMMEDIATE = "troupe_immediate"

log = logging.getLogger(__name__)


def busy_timeout_ms() -> int:
    """BUSY_TIMEOUT_MS, or TROUPE_BUSY_TIMEOUT's seconds when it is set."""
    try:
        return max(0, int(float(os.environ[BUSY_TIMEOUT_ENV]) * 1000))
    except (KeyError, ValueError):
        return BUSY_TIMEOUT_MS


def make_engine(path: str | Path) -> Engine:
    """A sync engine on the SQLite file at `path` (created if missing)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if (typed := storage_error(exc, path)) is None:
            raise
        raise typed from exc
    engine = create_engine(URL.create("sqlite", database=str(path)))
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "handle_error", _typed_error)
    return engine


def writer_engine(engine: Engine) -> Engine:
    """The same engine (and pool), but transactions start with BEGIN IMMEDIATE."""
    return engine.execution_options(**{_IMMEDIATE: True})


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see _on_begin
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; survives kill -9
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms()}")
    finally:
        cursor.close()


def _typed_error(context: Any) -> None:
    """SQLAlchemy's handle_error hook: raise SQLite's lock, full-disk, read-only and
    damaged-file errors as errors.py's types (the rest stay as they are)."""
    engine = context.engine
    if engine is None or not engine.url.database:
        return
    typed = storage_error(context.original_exception, Path(engine.url.database))
    if typed is not None:
        raise typed from context.original_exception


def _on_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# --- migrations -------------------------------------------------------------------


def alembic_config(path: str | Path | None = None) -> Config:
    """An Alembic Config built in code (no alembic.ini) for the migrations dir.

    `path` is only used when no connection is passed in `attributes`
    (e.g. `command.revision(alembic_config(db), autogenerate=True)`).
    """
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if path is not None:
        config.set_main_option("troupe.db_path", str(path).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty file)."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# --- upgrading a database file ------------------------------------------------------
#
# An upgrade runs on one connection, in one write transaction (BEGIN IMMEDIATE):
# read the revision, refuse an unknown (newer) one, copy the file to a dated
# backup, run every pending migration, check foreign keys, commit. SQLite DDL is
# transactional and Alembic joins the transaction it is handed (it opens none
# of its own), so any failure rolls back all of it: the file stays at the old
# revision with every row, and other processes never see a half-migrated
# schema. Crashes are covered by SQLite's journal the same way. Foreign keys
# are off meanwhile, as SQLite's ALTER TABLE guide prescribes: Alembic's batch
# mode recreates a table, and dropping the old copy of, say, `runs` with
# foreign keys on would cascade-delete every task and event of every run.

SQLITE_NOTADB = 26


@dataclass
class _Upgrade:
    """One attempt to bring `path` to `target`, for the error message if it fails."""

    path: Path
    start: str | None
    """The revision found (None: a new, empty database)."""
    target: str
    backup: Path | None = None

    def failed(self, exc: BaseException) -> DatabaseUpgradeFailed:
        start = self.start or "none (new database)"
        return DatabaseUpgradeFailed(self.path, start, self.target, self.backup, _cause(exc))


def database_path(engine: Engine) -> Path:
    """The file `engine` is on."""
    assert engine.url.database, "an in-memory database has nothing to upgrade"
    return Path(engine.url.database)


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to `revision`, atomically, after backing it up.

    A new database is migrated without a backup; one at `revision` already is
    left alone. Raises a StorageError (see errors.py): NotATroupeDatabase,
    DatabaseTooNew, or DatabaseUpgradeFailed with the file unchanged.
    """
    path = database_path(engine)
    seen = _versions_or_refuse(path)
    if revision in ("head", HEAD) and seen == [HEAD]:
        return  # the common case: no Alembic import at all
    attempt = _Upgrade(path, _one(seen), revision)
    try:
        _upgrade(engine, attempt)
    except StorageError:
        raise
    except Exception as exc:
        log.exception("upgrading %s from %s to %s failed", path, attempt.start, attempt.target)
        raise attempt.failed(exc) from exc
    if attempt.backup is not None:
        backups.prune(path)


def _upgrade(engine: Engine, attempt: _Upgrade) -> None:
    from alembic import command  # noqa: PLC0415

    with writer_engine(engine).connect() as conn, _foreign_keys_off(conn), conn.begin():
        attempt.start = _one(_versions(conn))  # again, under the write lock
        attempt.target = _resolve(attempt.target, attempt.start, attempt.path)
        if attempt.start == attempt.target:
            return  # another process upgraded it meanwhile
        if attempt.start is not None:
            attempt.backup = backups.back_up(attempt.path, attempt.start)
            log.info("backed up %s to %s before upgrading it", attempt.path, attempt.backup)
        dangling = _dangling_references(conn)
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, attempt.target)
        if _dangling_references(conn) > dangling:
            raise RuntimeError("the migration left rows pointing to missing rows (foreign keys)")


def _resolve(target: str, start: str | None, path: Path) -> str:
    """`target` as a revision id; DatabaseTooNew if `start` is not a known revision."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    script = ScriptDirectory.from_config(alembic_config())
    known = [s.revision for s in script.walk_revisions()]
    head = script.get_current_head()
    assert head is not None
    if start is not None and start not in known:
        raise DatabaseTooNew(path, start, head)
    return head if target == "head" else target


def _versions_or_refuse(path: Path) -> list[str] | None:
    """The revision rows, read without the engine and before any lock.

    The engine's connections switch the file to WAL, which rewrites its
    header: a file that is not ours is recognised first, and left as it was.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        with closing(sqlite3.connect(path, timeout=busy_timeout_ms() / 1000)) as conn:
            return _versions_of_file(conn, path)
    except sqlite3.DatabaseError as exc:
        if typed := storage_error(exc, path):
            raise typed from exc
        if exc.sqlite_errorcode == SQLITE_NOTADB:
            raise NotATroupeDatabase(path, "it is not a SQLite database") from exc
        raise


def _versions_of_file(conn: sqlite3.Connection, path: Path) -> list[str] | None:
    tables = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )}
    if "alembic_version" in tables:
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
    if tables:
        raise NotATroupeDatabase(path, "it has tables but no Troupe schema revision")
    return None


def _at_head(engine: Engine) -> bool:
    """True when the database is already at HEAD (no Alembic needed)."""
    with engine.connect() as conn:
        return _versions(conn) == [HEAD]


def _versions(conn: Connection) -> list[str] | None:
    """The rows of alembic_version; None when the table does not exist."""
    exists = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).first()
    if not exists:
        return None
    return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]


def _one(versions: list[str] | None) -> str | None:
    """The single revision (None for none); Troupe's migrations never branch."""
    return ",".join(versions) if versions else None


@contextmanager
def _foreign_keys_off(conn: Connection) -> Iterator[None]:
    # A pragma SQLite ignores inside a transaction: set it on the driver's
    # connection before BEGIN, and restore it before the pool reuses it.
    driver = _driver(conn)
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _dangling_references(conn: Connection) -> int:
    return len(conn.exec_driver_sql("PRAGMA foreign_key_check").all())


def _driver(conn: Connection) -> sqlite3.Connection:
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


def _cause(exc: BaseException) -> str:
    """The error in one short line (without SQLAlchemy's SQL and links)."""
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(original).strip().splitlines()
    line = lines[0] if lines else type(original).__name__
    return line if len(line) <= 200 else line[:199] + "…"
