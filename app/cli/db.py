"""`troupe db restore [BACKUP]`: put a backup of the history database back.

Backups (`troupe.db.backup-<date>-rev<N>`, beside the database in the data
folder) are made before every schema upgrade. Restoring one keeps the
database it replaces as `troupe.db.damaged-<date>`: nothing is deleted. A
database that passes SQLite's integrity check is only replaced with --force.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.paths import db_path
from app.storage.errors import RestoreFailed


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="the history database: restore a backup")
    verbs = db.add_subparsers(dest="verb", required=True, parser_class=type(db))
    restore = verbs.add_parser(
        "restore", help="replace a damaged history database with a backup made before an "
        "upgrade (the newest unless named); the damaged file is kept as troupe.db.damaged-<date>")
    restore.add_argument("backup", nargs="?", type=Path,
                         help="a troupe.db.backup-* file of the data folder (default: the newest)")
    restore.add_argument("--force", action="store_true",
                         help="replace the database even if it passes SQLite's integrity check")


def cmd_db(args: argparse.Namespace) -> int:
    from app.storage import backups  # noqa: PLC0415 - not on every command's start

    db = db_path()
    backup = _named(args.backup, db) if args.backup else None
    if db.exists() and not args.force and backups.integrity_problem(db) is None:
        raise RestoreFailed(db, f"The history database {db} is not damaged (it passes SQLite's "
                            "integrity check): nothing was changed. Pass --force to replace it "
                            "with the backup anyway (it is kept beside it).")
    done = backups.restore(db, backup)
    line = f"restored {db} from {done.backup.name}"
    if done.kept:
        line += f"; the file it replaced is kept as {done.kept.name} (runs since the backup are only in it)"
    print(line, file=sys.stderr)
    return 0


def _named(backup: Path, db: Path) -> Path:
    """A backup given by its file name alone is the data folder's."""
    return backup if backup.exists() or backup.parent != Path() else db.parent / backup
