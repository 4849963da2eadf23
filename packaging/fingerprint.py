"""A hash of everything a bundle is built from: the source tree and the installed packages.

    python packaging/fingerprint.py            prints it
    python packaging/fingerprint.py FILE       writes it to FILE

`make package` writes it to dist/troupe.fingerprint after a build; the bundle
test rebuilds only when the tree's fingerprint differs from that file, so an
unchanged tree reuses the bundle while any change to the code, the resources,
the packaging files or an installed package gets a new build.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("agents", "app", "ui", "resources", "packaging", "pyproject.toml")
SKIPPED_PARTS = {"__pycache__"}


def source_files() -> list[Path]:
    """Every file the bundle is built from, in a stable order."""
    files: list[Path] = []
    for name in SOURCES:
        path = ROOT / name
        if path.is_file():
            files.append(path)
            continue
        for item in path.rglob("*"):
            if item.is_file() and not SKIPPED_PARTS & set(item.parts) and item.suffix != ".pyc":
                files.append(item)
    return sorted(files)


def installed_packages() -> list[str]:
    """name==version of every distribution in this environment, sorted."""
    names = {
        f"{dist.metadata['Name']}=={dist.version}" for dist in importlib.metadata.distributions()
    }
    return sorted(names)


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in source_files():
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for line in installed_packages():
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    value = fingerprint()
    if argv:
        Path(argv[0]).write_text(value + "\n")
    else:
        print(value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
