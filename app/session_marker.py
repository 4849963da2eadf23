"""Did the last window session end unexpectedly? A marker file in the data dir says so.

The window writes `<data dir>/session.json` when it starts (its pid, process
start token, start time and the size of logs/fatal.log then) and removes it
when it quits by any Python path: closed, Quit, SIGTERM, an error shown in the
crash dialog. A native crash (segfault, abort), kill -9 or the OOM killer
leaves it behind. At the next start a marker whose process is gone means the
last session ended unexpectedly; if fatal.log grew since that session started,
faulthandler wrote the crash's Python stacks there (ui/gui.py enables it).

Only the process holding the single-instance lock (ui/single_instance.py)
gets this far, so a second start that hands over never touches the marker.
Should one still find a marker whose process is alive (the lock could not be
taken), it leaves that marker alone and its own session goes untracked. The
CLI and `troupe --self-test` never write a marker.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.storage.liveness import current_token, is_alive

if TYPE_CHECKING:
    from app.storage.records import RunSummary

log = logging.getLogger("troupe.session")

MARKER = "session.json"
FATAL_LOG = "fatal.log"
"""In <data dir>/logs/: where faulthandler writes the stacks of a native crash."""
_TAIL_BYTES = 64 * 1024
"""At most this much of what the crash wrote is read back."""


@dataclass(frozen=True)
class UnexpectedEnd:
    """The previous window session ended without quitting."""

    pid: int
    """Its process id."""
    started: float
    """When it started (seconds since the epoch)."""
    logs_dir: Path
    """The logs folder (troupe.log, crash reports, fatal.log)."""
    crash_log: Path | None
    """fatal.log, when the crash wrote to it; None when it left no trace (kill -9, OOM)."""
    crash_lines: tuple[str, ...] = ()
    """The last lines the crash wrote to `crash_log` (empty without one)."""
    summary: str = ""
    """The crash in a few words ("Fatal Python error: Segmentation fault"), or ""."""


@dataclass(frozen=True)
class SessionMarker:
    """This session's marker; `end()` at a clean quit removes it."""

    path: Path | None
    """The marker file, or None when this session is not tracked."""
    pid: int
    """The process that wrote it (this one)."""

    def end(self) -> None:
        """The session ends cleanly: remove the marker, if it is still this process's."""
        if self.path is None:
            return
        owner = _read(self.path)
        if owner is not None and owner.get("pid") != self.pid:
            return  # not ours (never expected: only the lock holder writes one)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove %s: %s", self.path, exc)


@dataclass(frozen=True)
class SessionStart:
    """What `begin` found and wrote."""

    marker: SessionMarker
    """This session's marker."""
    last: UnexpectedEnd | None
    """How the previous session ended, when it did not quit; None after a clean quit."""


def begin(home: Path) -> SessionStart:
    """At the window's start: read the previous session's marker, then write this one's."""
    path = home / MARKER
    logs = home / "logs"
    fatal = logs / FATAL_LOG
    previous = _read(path)
    me = os.getpid()
    if previous is not None and previous.get("pid") != me and _owner_alive(previous):
        log.warning("another Troupe process (pid %s) owns %s; this session is not tracked",
                    previous.get("pid"), path)
        return SessionStart(SessionMarker(None, me), None)
    last = _unexpected_end(previous, logs, fatal) if previous and previous.get("pid") != me else None
    if last is not None:
        log.warning("the last session (pid %s) ended unexpectedly%s", last.pid,
                    f"; crash log: {last.crash_log}: {last.summary}" if last.crash_log else "")
    record = {"pid": me, "token": current_token(), "started": time.time(),
              "fatal_log_size": _size(fatal)}
    try:
        _write(path, record)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)
        return SessionStart(SessionMarker(None, me), last)
    return SessionStart(SessionMarker(path, me), last)


def interrupted_by(last: UnexpectedEnd, runs: Iterable[RunSummary]) -> RunSummary | None:
    """The newest interrupted run that was last touched in the session that ended
    (after `store.mark_interrupted()`); None when that session left none."""
    return next((r for r in runs if r.status == "interrupted" and r.updated >= last.started), None)


# --- the marker file ---------------------------------------------------------------------


def _unexpected_end(previous: dict[str, Any], logs: Path, fatal: Path) -> UnexpectedEnd:
    seen = previous.get("fatal_log_size")
    seen = seen if isinstance(seen, int) and seen >= 0 else _size(fatal)
    now = _size(fatal)
    grew = now > seen or (now < seen and now > 0)  # smaller: the file was replaced since
    lines = _new_lines(fatal, seen if now > seen else 0) if grew else []
    fatal_lines = [line for line in lines if line.startswith("Fatal Python error")]
    started = previous.get("started")
    return UnexpectedEnd(
        pid=int(previous.get("pid") or 0),
        started=float(started) if isinstance(started, int | float) else 0.0,
        logs_dir=logs,
        crash_log=fatal if lines else None,
        crash_lines=tuple(lines[-20:]),
        summary=fatal_lines[-1] if fatal_lines else "",
    )


def _owner_alive(record: dict[str, Any]) -> bool:
    pid = record.get("pid")
    token = record.get("token")
    return is_alive(pid if isinstance(pid, int) else None, token if isinstance(token, str) else None)


def _read(path: Path) -> dict[str, Any] | None:
    """The marker's record; None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, record: dict[str, Any]) -> None:
    """Write whole or not at all: a crash while writing must not leave half a marker."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(record), encoding="utf-8")
    os.replace(partial, path)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _new_lines(path: Path, offset: int) -> list[str]:
    """The non-blank lines written to `path` after `offset` (at most its last 64 KiB)."""
    try:
        with path.open("rb") as file:
            file.seek(max(offset, _size(path) - _TAIL_BYTES))
            text = file.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line.rstrip() for line in text.splitlines() if line.strip()]
