"""Crash reports: one file per unexpected error in <data dir>/logs/, secrets redacted.

A report says when and where the error happened, which versions were running
and the full traceback, so that a person can send it without editing it first:
everything written goes through `redact_thoroughly` (registered secrets and
key-shaped strings), and nothing from the environment is included.
"""

from __future__ import annotations

import logging
import platform
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from app.logs import redact_thoroughly
from app.paths import logs_dir

log = logging.getLogger("troupe.crash")

PREFIX = "crash-"
KEEP_REPORTS = 50
"""Older reports beyond this many are deleted when a new one is written."""
MAX_REPEATS = 20
"""Repeats of an incident written out in full; later ones are only counted."""


@dataclass(frozen=True)
class CrashReport:
    """A report on disk."""

    path: Path
    """The file written."""
    summary: str
    """The error in one line ("ValueError: bad input"), redacted."""
    text: str
    """The report's first entry as written (what Copy details copies)."""


def summarize(exc: BaseException) -> str:
    """The error in one line, redacted and cut to a readable length."""
    message = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    line = redact_thoroughly(line)
    return line if len(line) <= 300 else line[:299] + "…"


def write_report(exc: BaseException, where: str, versions: Mapping[str, str] | None = None) -> CrashReport:
    """Write a new report for `exc`, which happened in `where` (a few words)."""
    text = _header(where, versions or {}) + "\n" + _traceback_text(exc)
    path = _write_new_file(text)
    _prune_old_reports()
    summary = summarize(exc)
    log.error("unexpected error in %s: %s (report: %s)", where, summary, path)
    return CrashReport(path=path, summary=summary, text=text)


def append_repeat(report: CrashReport, exc: BaseException, where: str, count: int) -> None:
    """Add a later occurrence to `report`'s file (the first MAX_REPEATS in full)."""
    if count > MAX_REPEATS:
        return
    stamp = datetime.now().isoformat(timespec="milliseconds")
    entry = f"\n--- again ({count}) at {stamp}, in {where} ---\n{_traceback_text(exc)}"
    if count == MAX_REPEATS:
        entry += "\n--- later repeats are counted, not written ---\n"
    with report.path.open("a", encoding="utf-8") as file:
        file.write(entry)


def versions_text() -> dict[str, str]:
    """Versions of Troupe, Python and the platform (the UI adds Qt's)."""
    try:
        troupe = metadata.version("troupe")
    except metadata.PackageNotFoundError:  # a bundle without the package's metadata
        troupe = "unknown"
    return {
        "Troupe": troupe,
        "Python": f"{platform.python_version()} ({platform.python_implementation()}, {sys.executable})",
        "Platform": platform.platform(),
    }


def _header(where: str, versions: Mapping[str, str]) -> str:
    lines = [
        "Troupe crash report",
        f"When: {datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"Where: {where}",
    ]
    lines += [f"{name}: {value}" for name, value in {**versions_text(), **versions}.items()]
    return redact_thoroughly("\n".join(lines)) + "\n"


def _traceback_text(exc: BaseException) -> str:
    return redact_thoroughly("".join(traceback.format_exception(exc)))


def _write_new_file(text: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    directory = logs_dir()
    for suffix in range(100):  # "x": two threads in the same microsecond get two files
        path = directory / (f"{PREFIX}{stamp}.log" if suffix == 0 else f"{PREFIX}{stamp}-{suffix}.log")
        try:
            with path.open("x", encoding="utf-8") as file:
                file.write(text)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free crash report name in {directory}")


def _prune_old_reports() -> None:
    reports = sorted(logs_dir().glob(f"{PREFIX}*.log"))
    for old in reports[:-KEEP_REPORTS]:
        old.unlink(missing_ok=True)
