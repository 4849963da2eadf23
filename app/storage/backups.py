"""Dated copies of the history database, taken before a schema upgrade.

`troupe.db` at revision 0001 upgraded on 22 November 2026 at 03:15:00 UTC
leaves `troupe.db.backup-2026-11-22T031500Z-rev0001` next to it. The copy is
made with SQLite's online backup API, WAL content included, while the
upgrading connection holds the write lock: no one can commit in between, so
the copy is exactly what the upgrade starts from. (The backup cannot read
through the upgrading connection itself: SQLite refuses to back up from a
connection in a write transaction.) Only the newest KEEP backups are kept.

`restore()` (`troupe db restore`, the window's offer when the database is
damaged) puts a backup back: it copies it beside the database, checks the
copy's integrity, renames the damaged file (and its -wal/-shm) to
`troupe.db.damaged-<stamp>` and the copy to `troupe.db`. Nothing is deleted;
a failure before the swap changes nothing.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from app.storage.errors import RestoreFailed

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


def newest_backup(db: Path) -> Path | None:
    """`db`'s newest backup, or None when it has none."""
    found = backups_of(db)
    return found[-1] if found else None


def back_up(db: Path, revision: str, now: float | None = None) -> Path:
    """Copy the committed content of database `db` (at `revision`) to a new dated backup.

    Written under a temporary name and renamed when complete, so a crash or a
    full disk never leaves a partial file that looks like a backup.
    """
    target = _free_name(db, revision, time.time() if now is None else now)
    partial = target.with_name(target.name + ".partial")
    try:
        _copy(db, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _copy(source_path: Path, target: Path) -> None:
    """Copy a database's committed content (WAL included) with SQLite's backup API."""
    with (
        contextlib.closing(sqlite3.connect(source_path, timeout=BUSY_TIMEOUT_S)) as source,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)


def prune(db: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest `keep` backups of `db`; returns those deleted."""
    old = backups_of(db)[:-keep] if keep > 0 else backups_of(db)
    for path in old:
        path.unlink(missing_ok=True)
    return old


# --- restoring one -----------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    """What `restore` did."""

    backup: Path
    """The backup now in use as the database (the file itself is left as it was)."""
    kept: Path | None
    """Where the replaced database went (None: there was none)."""


def restore(db: Path, backup: Path | None = None, now: float | None = None) -> Restored:
    """Put `backup` (default: the newest) in place of database `db`, keeping `db` as
    `<db>.damaged-<stamp>`. Raises RestoreFailed, with nothing changed, when there
    is no backup or the backup does not pass SQLite's integrity check."""
    backup = backup or newest_backup(db)
    if backup is None:
        raise RestoreFailed(db, f"There is no backup of {db} to restore. To start with an empty "
                            f"history, move it aside (rename it to {db.name}.damaged, say).")
    if not backup.is_file():
        raise RestoreFailed(db, f"There is no backup file {backup}.")
    partial = db.with_name(db.name + ".restoring")
    try:
        if (problem := _copy_checked(backup, partial)) is not None:
            raise RestoreFailed(db, f"The backup {backup} is damaged too ({problem}); "
                                "nothing was changed.")
        kept = set_aside(db, now) if db.exists() else None
        partial.replace(db)
    finally:
        partial.unlink(missing_ok=True)
    return Restored(backup, kept)


def _copy_checked(backup: Path, copy: Path) -> str | None:
    """Copy `backup` to `copy`; what is wrong with it, or None when it is sound."""
    try:
        _copy(backup, copy)
    except sqlite3.DatabaseError as exc:  # too damaged to copy, or no database at all
        return str(exc)
    return integrity_problem(copy)


def set_aside(db: Path, now: float | None = None) -> Path:
    """Rename database `db`, its -wal and -shm first (a -wal left behind would be
    replayed into the next file of that name), to `<db>.damaged-<stamp>`; returns
    the database's new name."""
    stamp = time.strftime(_STAMP, time.gmtime(time.time() if now is None else now))
    target = _unused(db.with_name(f"{db.name}.damaged-{stamp}"))
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    db.replace(target)
    return target


def integrity_problem(db: Path) -> str | None:
    """SQLite's integrity check of `db`: None when it passes, else its first complaint."""
    try:  # read-write: a read-only connection would leave its -wal and -shm behind
        with contextlib.closing(sqlite3.connect(db, timeout=BUSY_TIMEOUT_S)) as conn:
            first = conn.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if first and first[0] == "ok" else str(first[0] if first else "no answer")


def _free_name(db: Path, revision: str, now: float) -> Path:
    base = f"{db.name}.backup-{time.strftime(_STAMP, time.gmtime(now))}-rev{revision}"
    return _unused(db.with_name(base))


def _unused(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, ... whichever does not exist yet."""
    target, n = path, 1
    while target.exists():  # two in one second
        n += 1
        target = path.with_name(f"{path.name}-{n}")
    return target


def _sort_key(path: Path) -> tuple[str, int]:
    # the stamp sorts as text; a "-2" suffix comes after the unsuffixed name
    stamp = path.name.split(".backup-", 1)[1][:18]
    suffix = re.search(r"-rev[0-9A-Za-z_]+-(\d+)$", path.name)
    return stamp, int(suffix.group(1)) if suffix else 1
