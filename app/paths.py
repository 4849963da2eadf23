"""Where Troupe keeps its files: the data directory, the database, the logs.

`$TROUPE_HOME` overrides the platform's user data directory (tests, portable
installs). Directories are created on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Troupe"
HOME_ENV = "TROUPE_HOME"


def data_dir(create: bool = True) -> Path:
    """$TROUPE_HOME if set, else the user data dir for "Troupe"; created on demand
    (unless `create` is False)."""
    override = os.environ.get(HOME_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
    else:
        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, roaming=True))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def db_path() -> Path:
    """The SQLite database holding projects, runs and their history."""
    return data_dir() / "troupe.db"


def logs_dir() -> Path:
    """Directory for log files; created on demand."""
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
