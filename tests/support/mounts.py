"""Real file-system faults for tests: a small tmpfs (a disk that fills up) and a
read-only bind mount. Both need root and a system that lets it mount (not every
container does): each returns False when it could not, and the test skips."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def _mount(*args: str) -> bool:
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


def mount_tmpfs(where: Path, size: str) -> bool:
    """A tmpfs of `size` ("3m") on the folder `where`."""
    return _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))


def mount_read_only(where: Path) -> bool:
    """The folder `where`, as it is, made read-only (a read-only bind mount of itself):
    even root cannot write there, which chmod alone does not achieve."""
    if not _mount("--bind", str(where), str(where)):
        return False
    if _mount("-o", "remount,ro,bind", str(where)):
        return True
    unmount(where)
    return False


def fill(folder: Path) -> None:
    """Write a file in `folder` until its disk has no space left."""
    with (folder / "filler").open("wb", buffering=0) as filler:
        try:
            while filler.write(b"\0" * 4096):
                pass
        except OSError:
            pass


def unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)
