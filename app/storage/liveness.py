"""Is the process that owns a run still alive?

A run records its owner's pid and a *start token*: something that identifies
that process instance, so a pid reused by an unrelated process later is not
mistaken for the owner. Tokens: Linux, boot id + start time in clock ticks
(/proc); Windows, the process creation time; macOS/BSD, `ps -o lstart`.
When no token can be read, the pid alone decides, erring towards "alive"
(a live run must never be marked interrupted).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

_WINDOWS = sys.platform == "win32"


def is_alive(pid: int | None, token: str | None = None) -> bool:
    """True if process `pid` exists and, when `token` is given, is that same instance."""
    if pid is None or pid <= 0:
        return False
    if not _pid_exists(pid):
        return False
    if token is None:
        return True
    now = process_token(pid)
    return now is None or now == token


@functools.cache
def current_token() -> str | None:
    """The start token of this process."""
    return process_token(os.getpid())


def process_token(pid: int) -> str | None:
    """A string identifying this instance of process `pid`, or None if unknown."""
    try:
        if sys.platform.startswith("linux"):
            return _linux_token(pid)
        if _WINDOWS:
            return _windows_token(pid)
        return _ps_token(pid)
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def _pid_exists(pid: int) -> bool:
    if _WINDOWS:
        return _windows_pid_exists(pid)
    try:
        os.kill(pid, 0)  # signal 0: existence check only (never on Windows: it kills)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


# --- POSIX --------------------------------------------------------------------------


@functools.cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _linux_token(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    # "pid (comm) state ppid ..." - comm may contain spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    start_ticks = fields[19]  # field 22 of proc(5); fields[] starts at field 3
    return f"{_boot_id()}:{start_ticks}"


def _ps_token(pid: int) -> str | None:
    out = subprocess.run(
        ["ps", "-o", "lstart=", "-p", str(pid)],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    started = out.stdout.strip()
    return started or None


# --- Windows ------------------------------------------------------------------------

_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_STILL_ACTIVE = 259
_ERROR_ACCESS_DENIED = 5


def _windows_pid_exists(pid: int) -> bool:
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return ctypes.get_last_error() == _ERROR_ACCESS_DENIED  # type: ignore[attr-defined]
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _windows_token(pid: int) -> str | None:
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return None
    try:
        times = [wintypes.FILETIME() for _ in range(4)]
        if not kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
            return None
        created = times[0]
        return str((created.dwHighDateTime << 32) | created.dwLowDateTime)
    finally:
        kernel32.CloseHandle(handle)
