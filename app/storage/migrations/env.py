"""Alembic environment for Troupe's history database.

Troupe runs migrations in code (app.storage.db.upgrade_database) and hands
the connection over in `config.attributes["connection"]`; no alembic.ini is
needed. For development, `alembic_config(path)` from app.storage.db gives a
Config usable with `alembic.command.revision(..., autogenerate=True)`.
"""

from __future__ import annotations

from alembic import context

from app.storage.models import Base, is_fts_table

config = context.config
target_metadata = Base.metadata


def include_name(name, type_, parent_names):  # noqa: ANN001 - alembic hook signature
    """Hide the FTS5 table and its shadow tables from autogenerate."""
    return not (type_ == "table" and name is not None and is_fts_table(name))


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        render_as_batch=True,  # SQLite can only ALTER a little; batch mode copies tables
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from app.storage.db import make_engine  # only for developer use without a connection

    path = config.get_main_option("troupe.db_path")
    if not path:
        raise SystemExit("pass a connection, or build the Config with alembic_config(db_path)")
    engine = make_engine(path)
    with engine.begin() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Troupe's migrations run online only")
run_migrations_online()
