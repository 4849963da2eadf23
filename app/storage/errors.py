"""Why the history database could not be opened, in words a person can act on.

    StorageError                 (root; a TroupeError)
    ├── NotATroupeDatabase       the file is not SQLite, or SQLite without our schema
    ├── DatabaseTooNew           made by a newer Troupe: left alone
    ├── DatabaseUpgradeFailed    a migration failed: rolled back, the file is as it was
    └── HistoryWriteFailed       a run's events could not be stored: the run stopped, resumable

Each message is one line naming the file, what state it is in and what to do:
the CLI prints it as is, the window shows it in a warning. Importing this
module must stay cheap (no SQLAlchemy): the CLI imports it up front.
"""

from __future__ import annotations

from pathlib import Path

from agents.errors import TroupeError


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


class HistoryWriteFailed(StorageError):
    """A run's events could not be written (a full disk, ...): the run stopped as
    interrupted, and can be resumed once the cause is gone."""

    def __init__(self, path: Path, run_id: str, reason: str) -> None:
        fix = "free some space" if "disk is full" in reason else "fix that"
        super().__init__(path, f"stopped: {reason}; {fix}, then `troupe resume {run_id}`")
        self.run_id = run_id
        self.reason = reason
        """Why, in one line (EventWriter.failure)."""
