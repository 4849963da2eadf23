"""The SQLite engine and the migrations that bring a database file up to date.

Every connection gets WAL, foreign keys and a busy timeout. Transactions are
explicit: the pysqlite driver's own implicit transactions are switched off and
SQLAlchemy's "begin" emits BEGIN (or BEGIN IMMEDIATE on `writer_engine`), so
DDL in migrations is transactional and a write transaction takes the write
lock up front instead of failing with SQLITE_BUSY when it upgrades.

Why a sync engine and not sqlalchemy[aiosqlite]: reads (CLI, UI queries) are
short, and the event writer runs in its own thread (writer.py). A background
thread with the sync driver keeps the asyncio loop free without aiosqlite's
per-statement hop to its own thread, and batches naturally.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and Mako, Pygments, the postgres dialect it pulls in) costs ~0.2 s
# to import: only pay for it when the database is not at HEAD already.
HEAD = "0002"
"""The newest migration's revision id (tests/app/test_migrations.py checks it)."""

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 5000
_IMMEDIATE = "troupe_immediate"


def make_engine(path: str | Path) -> Engine:
    """A sync engine on the SQLite file at `path` (created if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(URL.create("sqlite", database=str(path)))
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
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
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


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


def _at_head(engine: Engine) -> bool:
    """True when the database is already at HEAD (no Alembic needed)."""
    with engine.connect() as conn:
        exists = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).first()
        if not exists:
            return False
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    return [r[0] for r in rows] == [HEAD]


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to `revision`, in one transaction."""
    if revision in ("head", HEAD) and _at_head(engine):
        return
    from alembic import command  # noqa: PLC0415

    with writer_engine(engine).begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
