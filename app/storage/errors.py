"""Why the history database could not be used, in words a person can act on.

    StorageError                 (root; a TroupeError)
    ├── NotATroupeDatabase       the file is not SQLite, or SQLite without our schema
    ├── DatabaseTooNew           made by a newer Troupe: left alone
    ├── DatabaseUpgradeFailed    a migration failed: rolled back, the file is as it was
    ├── DatabaseUnavailable      SQLite or the system refused: nothing Troupe can fix itself
    │   ├── DatabaseLocked       another program held the lock past the busy timeout
    │   ├── DiskFull             no space left for the database, its journal or a file beside it
    │   ├── DataFolderReadOnly   the data folder (or the file) cannot be written
    │   └── DatabaseDamaged      SQLite says the file is malformed: the newest backup, if any
    ├── RestoreFailed            `troupe db restore` changed nothing, and says why
    └── HistoryWriteFailed       a run's events could not be stored: the run stopped, resumable

Each message is one line naming the file, what state it is in and what to do:
the CLI prints it as is, the window shows it in a warning. `storage_error()`
turns SQLite's and the system's errors into these (db.py hooks it into every
engine, so every read and write of the history raises them). Importing this
module must stay cheap (no SQLAlchemy): the CLI imports it up front.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from agents.errors import TroupeError

# SQLite's primary result codes (sqlite3.SQLITE_*; an extended code's low byte)
_BUSY, _LOCKED, _PERM, _READONLY, _IOERR, _CORRUPT = 5, 6, 3, 8, 10, 11
_FULL, _CANTOPEN, _NOTADB = 13, 14, 26
SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""
_CODE_OF_MESSAGE = {  # SQLite's own words for each code, for an error that lost its code
    "database is locked": _BUSY, "database table is locked": _LOCKED,
    "attempt to write a readonly database": _READONLY, "disk i/o error": _IOERR,
    "database disk image is malformed": _CORRUPT, "database or disk is full": _FULL,
    "unable to open database file": _CANTOPEN, "file is not a database": _NOTADB,
}
NEARLY_FULL = 1 << 20
"""Free bytes under which a disk counts as full (SQLite reports a full disk as an I/O
error when it cannot grow its shared-memory file, for one)."""


class StorageError(TroupeError):
    """The history database cannot be used as it is."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        """The database file."""


class NotATroupeDatabase(StorageError):
    """The file is not a SQLite database, or one without Troupe's schema."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            path,
            f"{path} is not a Troupe history database ({reason}). It was not changed. "
            "Move it elsewhere, or set TROUPE_HOME to another folder, and start Troupe again.",
        )


class DatabaseTooNew(StorageError):
    """The database is at a schema revision this build does not know (a newer Troupe's)."""

    def __init__(self, path: Path, revision: str, newest_known: str) -> None:
        super().__init__(
            path,
            f"The history database {path} was made by a newer version of Troupe "
            f"(schema revision {revision}; this version knows up to {newest_known}). "
            "It was not changed. Use the newer Troupe, or set TROUPE_HOME to another folder "
            "to use this version with a separate history.",
        )
        self.revision = revision
        """The revision found in the file."""


class DatabaseUpgradeFailed(StorageError):
    """Migrating the database failed; the migration was rolled back."""

    def __init__(
        self, path: Path, revision: str, target: str, backup: Path | None, cause: str
    ) -> None:
        copy = f" A copy made before the upgrade is at {backup}." if backup else ""
        super().__init__(
            path,
            f"The history database {path} could not be upgraded from schema revision "
            f"{revision} to {target} ({cause}). Nothing was changed: it is still at revision "
            f"{revision}.{copy} Close other Troupe windows and commands and start Troupe "
            "again; if this keeps happening, keep the file and report the error "
            "(details in logs/troupe.log), or run the previous version of Troupe meanwhile.",
        )
        self.revision = revision
        """The revision the database is still at."""
        self.backup = backup
        """The backup taken before the attempt (None if none was made)."""


class DatabaseUnavailable(StorageError):
    """SQLite or the system refused to read or write the history (a lock, a full
    disk, a read-only folder, a damaged file, an I/O error)."""

    what = "the history database could not be read or written"
    fix = "check the disk it is on"

    def __init__(self, path: Path, detail: str) -> None:
        self.detail = detail
        """SQLite's or the system's own words ("database is locked")."""
        self.reason = f"{self.what} ({detail}): {self._where(path)}"
        """What happened, in one line without the advice (a stopped run records it)."""
        super().__init__(path, self._message(path))

    def _where(self, path: Path) -> Path:
        return path

    def _message(self, path: Path) -> str:
        return f"{_sentence(self.reason)} {_sentence(self.fix + ', then try again')}"


class DatabaseLocked(DatabaseUnavailable):
    """Another program held the database's write lock longer than Troupe waits (the
    busy timeout, 5 s unless TROUPE_BUSY_TIMEOUT says otherwise)."""

    what = "the history database is locked by another program"
    fix = "close the program that holds it (a database browser, a sync or backup tool)"


class DiskFull(DatabaseUnavailable):
    """No space left on the disk holding the data folder."""

    what = "the disk is full"
    fix = "free some space"


class DataFolderReadOnly(DatabaseUnavailable):
    """The data folder, or the database in it, cannot be written."""

    what = "the data folder is read-only"
    fix = "make it writable, or set TROUPE_HOME to a folder Troupe can write"

    def _where(self, path: Path) -> Path:
        return path if path.is_dir() else path.parent


class DatabaseDamaged(DatabaseUnavailable):
    """SQLite found the file malformed (truncated, overwritten): `troupe db restore`
    puts the newest backup in its place, keeping the damaged file."""

    what = "the history database is damaged"
    fix = "restore a backup (`troupe db restore`)"

    def __init__(self, path: Path, detail: str, backup: Path | None) -> None:
        self.backup = backup
        """The newest backup of the file (None: there is none)."""
        super().__init__(path, detail)

    def _message(self, path: Path) -> str:
        if self.backup is None:
            return (f"{_sentence(self.reason)} There is no backup of it: to start with an empty "
                    f"history, move it aside (rename it to {path.name}.damaged, say) and "
                    "start Troupe again.")
        return (f"{_sentence(self.reason)} The newest backup is {self.backup.name}: restore it "
                "with `troupe db restore` (the damaged file is kept beside it, renamed).")


class RestoreFailed(StorageError):
    """`troupe db restore` could not put a backup in place; nothing was changed."""


class HistoryWriteFailed(StorageError):
    """A run's events could not be written (a full disk, ...): the run stopped as
    interrupted, and can be resumed once the cause is gone."""

    def __init__(self, run_id: str, cause: DatabaseUnavailable) -> None:
        super().__init__(cause.path, f"stopped: {cause.reason}; {cause.fix}, "
                                     f"then `troupe resume {run_id}`")
        self.run_id = run_id
        self.cause = cause
        """Why (EventWriter.failure)."""


# --- SQLite's and the system's errors, typed ------------------------------------------


def storage_error(exc: BaseException, path: Path) -> DatabaseUnavailable | None:
    """`exc` (sqlite3's, SQLAlchemy's wrapping of it, or an OSError) met using the
    database at `path`, as the typed error it stands for; None for anything else."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy's DBAPIError wraps sqlite3's
    lines = str(cause).strip().splitlines()
    detail = lines[0] if lines else type(cause).__name__
    code = getattr(cause, "sqlite_errorcode", None)
    if code is None and type(cause).__module__ == "sqlite3":
        code = _CODE_OF_MESSAGE.get(detail.lower())
    if isinstance(code, int):
        return _from_sqlite(code & 0xFF, detail, path)
    if isinstance(cause, OSError):
        return _from_system(cause, cause.strerror or detail, path)
    return None


def _from_sqlite(code: int, detail: str, path: Path) -> DatabaseUnavailable | None:
    if code in (_BUSY, _LOCKED):
        return DatabaseLocked(path, detail)
    if code == _FULL:
        return DiskFull(path, detail)
    if code == _CORRUPT or (code == _NOTADB and _looks_like_sqlite(path)):
        return _damaged(path, detail)
    if code not in (_READONLY, _PERM, _CANTOPEN, _IOERR):
        return None  # a constraint, a bad statement, a foreign file: not the disk's doing
    if code == _READONLY or not _writable(path):
        return DataFolderReadOnly(path, detail)
    if _nearly_full(path):
        return DiskFull(path, detail)
    return DatabaseUnavailable(path, detail)


def _from_system(exc: OSError, detail: str, path: Path) -> DatabaseUnavailable | None:
    where = Path(exc.filename) if isinstance(exc.filename, str) else path
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(where, detail)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return DataFolderReadOnly(where, detail)
    return None


def _damaged(path: Path, detail: str) -> DatabaseDamaged:
    """The DatabaseDamaged error for `path`, naming its newest backup."""
    from app.storage.backups import newest_backup  # noqa: PLC0415 - only when it happens

    return DatabaseDamaged(path, detail, newest_backup(path))


def _looks_like_sqlite(path: Path) -> bool:
    """The file starts as a SQLite database does (so it is one, damaged, not a foreign file)."""
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _writable(path: Path) -> bool:
    """Whether the folder holding `path`, and the file if it exists, can be written."""
    folder = path if path.is_dir() else path.parent
    return os.access(folder, os.W_OK) and (not path.is_file() or os.access(path, os.W_OK))


def _nearly_full(path: Path) -> bool:
    import shutil  # noqa: PLC0415 - only when an error came; this module stays cheap to import

    try:
        return shutil.disk_usage(path if path.is_dir() else path.parent).free < NEARLY_FULL
    except OSError:
        return False


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
