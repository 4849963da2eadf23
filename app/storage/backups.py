"""Dated copies of the history database, taken before a schema upgrade.

`troupe.db` at revision 0001 upgraded on 22 November 2026 at 03:15:00 UTC
leaves `troupe.db.backup-2026-11-22T031500Z-rev0001` next to it. The copy is
made with SQLite's online backup API, WAL content included, while the
upgrading connection holds the write lock: no one can commit in between, so
the copy is exactly what the upgrade starts from. (The backup cannot read
through the upgrading connection itself: SQLite refuses to back up from a
connection in a write transaction.) Only the newest KEEP backups are kept.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from pathlib import Path

KEEP = 5
"""How many backups of one database are kept (older ones are deleted)."""

BUSY_TIMEOUT_S = 5.0
_STAMP = "%Y-%m-%dT%H%M%SZ"


def backup_pattern(db: Path) -> re.Pattern[str]:
    """File names of `db`'s backups (and nothing else in its folder)."""
    return re.compile(
        re.escape(db.name) + r"\.backup-\d{4}-\d\d-\d\dT\d{6}Z-rev[0-9A-Za-z_]+(-\d+)?"
    )


def backups_of(db: Path) -> list[Path]:
    """`db`'s backups, oldest first."""
    if not db.parent.is_dir():
        return []
    pattern = backup_pattern(db)
    found = [p for p in db.parent.iterdir() if pattern.fullmatch(p.name)]
    return sorted(found, key=_sort_key)


def back_up(db: Path, revision: str, now: float | None = None) -> Path:
    """Copy the committed content of database `db` (at `revision`) to a new dated backup.

    Written under a temporary name and renamed when complete, so a crash or a
    full disk never leaves a partial file that looks like a backup.
    """
    target = _free_name(db, revision, time.time() if now is None else now)
    partial = target.with_name(target.name + ".partial")
    try:
        with (
            contextlib.closing(sqlite3.connect(db, timeout=BUSY_TIMEOUT_S)) as source,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            source.backup(copy)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def prune(db: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest `keep` backups of `db`; returns those deleted."""
    old = backups_of(db)[:-keep] if keep > 0 else backups_of(db)
    for path in old:
        path.unlink(missing_ok=True)
    return old


def _free_name(db: Path, revision: str, now: float) -> Path:
    base = f"{db.name}.backup-{time.strftime(_STAMP, time.gmtime(now))}-rev{revision}"
    target, n = db.with_name(base), 1
    while target.exists():  # two upgrades within one second
        n += 1
        target = db.with_name(f"{base}-{n}")
    return target


def _sort_key(path: Path) -> tuple[str, int]:
    # the stamp sorts as text; a "-2" suffix comes after the unsuffixed name
    stamp = path.name.split(".backup-", 1)[1][:18]
    suffix = re.search(r"-rev[0-9A-Za-z_]+-(\d+)$", path.name)
    return stamp, int(suffix.group(1)) if suffix else 1
