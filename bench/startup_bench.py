"""Time from process start to the main window's first painted frame, and to its
history being shown.

    .venv/bin/python -m bench.startup_bench [--runs 5] [--no-imports]

Each run spawns `python -c CHILD` (offscreen Qt, a fresh TROUPE_HOME and a
fresh XDG_CONFIG_HOME so QSettings holds no saved layout). The child runs the
real `ui.gui.main()`; it only wraps `RunService.deferred`, `open_store` and
`MainWindow` to stamp the phases, and installs an application-wide event
filter: the first QEvent.Paint of the window (or any widget in it) stamps
`first paint`, and a QTimer.singleShot(0) queued from there stamps `frame
done` once that whole paint pass has returned. The start is staged: the
window opens the database after its first frame, so the child also waits for
`MainWindow.storageReady` (history filled, Send enabled) and stamps `history
shown`. Then it prints its stamps as JSON and exits with os._exit (teardown
is not start-up).

All stamps are time.time() wall clock; the parent stamps just before
Popen, so "spawn -> frame" includes the interpreter's own start-up.

Two cases, N runs each:
  first launch   empty data dir: the database is created and migrated
  next launch    the data dir of an earlier run, with 60 runs in its history

Where PYTHONDONTWRITEBYTECODE is set (as in CI and sandboxes) the children
get a bytecode cache of their own (PYTHONPYCACHEPREFIX in a temp dir, filled
once before measuring); --no-bytecode-cache measures compiling every time.

Then `python -X importtime -c "import ui.gui"` (best of 3) says which
packages dominate the imports, and the child reports whether litellm was in
sys.modules when the window painted (it must not be: warm_up() imports it
in a thread once the history is shown) and whether SQLAlchemy was (it must not
be either). Target: median spawn -> frame done <= 1.0 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.0

# Runs in the child. Only time/os/sys before the stamps, so the stamps measure
# the app, not this harness.
CHILD = r"""
import time
_T = {"child_start": time.time()}
import os, sys, json

def _mark(name):
    _T.setdefault(name, time.time())

import ui.gui as gui
_mark("imports")
_T["litellm_after_imports"] = "litellm" in sys.modules
from PySide6.QtCore import QEvent, QObject, QTimer
from app.runs.service import RunService

_deferred = gui.RunService.deferred

class _Service:
    @staticmethod
    def deferred(*args, **kwargs):
        _mark("app set up")  # main() built QApplication, the qasync loop (and read the roster) just before
        return _deferred(*args, **kwargs)

gui.RunService = _Service
_open_store = RunService.open_store

def _timed_open_store(self):
    if not self.ready:
        _mark("db open start")
        _open_store(self)
        _mark("db open")

RunService.open_store = _timed_open_store

_Window = gui.MainWindow

def _report():
    if "frame done" in _T and "history shown" in _T:
        sys.stdout.write(json.dumps(_T) + "\n")
        sys.stdout.flush()
        os._exit(0)

class _Finish(QObject):
    def __init__(self, window):
        super().__init__()
        self.window = window

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "first paint" not in _T:
            try:
                ours = obj.isWidgetType() and obj.window() is self.window
            except RuntimeError:
                ours = False
            if ours:
                _mark("first paint")
                for name in ("litellm", "sqlalchemy"):
                    _T[name + "_at_paint"] = name in sys.modules
                _T["litellm_done_at_paint"] = getattr(sys.modules.get("agents.llm.litellm_info"), "_litellm", None) is not None
                QTimer.singleShot(0, self.done)
        return False

    def done(self):
        _mark("frame done")
        _T["litellm_at_frame"] = "litellm" in sys.modules
        _report()

def _history_shown(window):
    _mark("history shown")
    _T["history_rows"] = len(window.history.run_ids())
    _report()

def _make_window(service):
    window = _Window(service)
    _mark("window built")
    _finish = _Finish(window)
    gui.QApplication.instance().installEventFilter(_finish)
    window._bench_finish = _finish
    window.storageReady.connect(lambda: _history_shown(window))
    _orig_show = window.show
    def show():
        _orig_show()
        _mark("show() returned")
    window.show = show
    return window

gui.MainWindow = _make_window
if os.environ.get("BENCH_NO_WARM_UP"):
    async def _no_warm_up():
        return None
    gui._warm_up = _no_warm_up
gui.main(["troupe"])
"""

PHASES = ("child_start", "imports", "app set up", "window built", "show() returned",
          "first paint", "frame done")
AFTER_FRAME = ("db open start", "db open", "history shown")
"""Staged start: the database is opened, and the history filled, after the first frame."""


PYC_CACHE: Path | None = None
"""PYTHONPYCACHEPREFIX for the children (None: whatever the environment does)."""


def child_env(home: Path, config: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "QT_QPA_PLATFORM": "offscreen", "TROUPE_HOME": str(home), "XDG_CONFIG_HOME": str(config),
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if PYC_CACHE is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYC_CACHE)
    env.update(extra or {})
    return env


def use_bytecode_cache() -> None:
    """Give the children a bytecode cache of their own, filled once here.

    Without it, where PYTHONDONTWRITEBYTECODE is set (CI, sandboxes) every
    start compiles the project's ~60 modules from source (~0.2 s) and the
    litellm import thread compiles litellm: not what a person's second start
    costs. The cache lives outside the work tree.
    """
    global PYC_CACHE
    PYC_CACHE = Path(tempfile.mkdtemp(prefix="troupe-pyc-"))
    tmp = Path(tempfile.gettempdir())
    subprocess.run([sys.executable, "-c", "import ui.gui, litellm, ui.main_window"], cwd=ROOT,
                   env=child_env(tmp, tmp), capture_output=True, check=True, timeout=300)


def spawn(home: Path, config: Path, extra: dict[str, str] | None = None) -> dict:
    """One start-up; returns the child's stamps plus 'spawn' (parent clock)."""
    env = child_env(home, config, extra)
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    stamps = json.loads(lines[-1])
    stamps["spawn"] = t0
    return stamps


def measure(runs: int, fresh: bool, extra: dict[str, str] | None = None) -> list[dict]:
    results = []
    base = Path(tempfile.mkdtemp(prefix="troupe-startup-"))
    try:
        warm_home = base / "warm-home"
        if not fresh:
            spawn(warm_home, base / "warm-config", extra)  # creates and migrates the database
            seed_history(warm_home / "troupe.db")
        for i in range(runs):
            home = base / f"home-{i}" if fresh else warm_home
            results.append(spawn(home, base / f"config-{i}", extra))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return results


def seed_history(db: Path, runs: int = 60) -> None:
    """A history worth listing: `runs` completed runs in three projects."""
    from app.storage import open_database  # noqa: PLC0415

    store = open_database(db)
    try:
        for i in range(runs):
            run_id = store.create_run(f"Project {i % 3}", f"Goal number {i}: write a short report")
            store.set_run_status(run_id, "completed")
    finally:
        store.close()


def phase_rows(results: list[dict]) -> list[tuple[str, list[float]]]:
    """Per phase: the seconds since the previous stamp, one value per run."""
    rows = []
    previous = "spawn"
    for phase in PHASES + AFTER_FRAME:
        if phase == AFTER_FRAME[0]:
            rows.append(("spawn -> frame done (total)", [r["frame done"] - r["spawn"] for r in results]))
        rows.append((f"{previous} -> {phase}", [r[phase] - r[previous] for r in results]))
        previous = phase
    rows.append(("spawn -> history shown", [r["history shown"] - r["spawn"] for r in results]))
    return rows


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def print_case(title: str, results: list[dict]) -> None:
    print(f"\n{title} ({len(results)} runs), seconds")
    print(f"{'phase':<36} {'min':>7} {'median':>7} {'p90':>7} {'max':>7}")
    for name, values in phase_rows(results):
        print(f"{name:<36} {min(values):>7.3f} {statistics.median(values):>7.3f} {p90(values):>7.3f} "
              f"{max(values):>7.3f}")
    total = statistics.median(r["frame done"] - r["spawn"] for r in results)
    verdict = "OK" if total <= TARGET_S else "MISSED"
    n = len(results)
    at_paint = sum(bool(r.get("litellm_at_paint")) for r in results)
    loaded = sum(bool(r.get("litellm_done_at_paint")) for r in results)
    early = sum(bool(r.get("litellm_after_imports")) for r in results)
    sqla = sum(bool(r.get("sqlalchemy_at_paint")) for r in results)
    print(f"target median <= {TARGET_S:.1f} s: {verdict} ({total:.3f} s)")
    print(f"litellm in sys.modules: after `import ui.gui` {early}/{n}, "
          f"at first paint {at_paint}/{n} (fully imported {loaded}/{n}); sqlalchemy at first paint {sqla}/{n}")
    print(f"history rows shown: {sorted({r.get('history_rows') for r in results})}")


# --- imports ---------------------------------------------------------------------------


def import_times(module: str = "ui.gui", tries: int = 3) -> tuple[float, dict[str, int], dict[str, int]]:
    """Best of `tries` `-X importtime` runs: (total s, self us per top-level package,
    cumulative us per first-party module imported directly by another package)."""
    best: tuple[float, dict[str, int], dict[str, int]] | None = None
    env = child_env(Path(tempfile.gettempdir()), Path(tempfile.gettempdir()))
    for _ in range(tries):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        by_package: dict[str, int] = {}
        cumulative: dict[str, int] = {}
        total = 0
        for line in out.stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
                continue
            self_us, cum_us, name = _split(line)
            by_package[name.split(".")[0]] = by_package.get(name.split(".")[0], 0) + self_us
            cumulative[name] = max(cumulative.get(name, 0), cum_us)
            total += self_us
        if best is None or total < best[0] * 1e6:
            best = (total / 1e6, by_package, cumulative)
    assert best is not None
    return best


def _split(line: str) -> tuple[int, int, str]:
    self_us, cum_us, name = line[len("import time:"):].split("|", 2)
    return int(self_us), int(cum_us), name.strip()


def print_imports() -> None:
    total, by_package, cumulative = import_times()
    print(f"\n`import ui.gui` under -X importtime (best of 3): {total:.3f} s of import work "
          "(importtime itself inflates this by ~20-40 %)")
    print(f"{'top-level package':<24} {'self ms':>8} {'share':>6}")
    for name, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:14]:
        print(f"{name:<24} {us / 1000:>8.1f} {us / 1e4 / total:>5.0f}%")
    ours = ("app.runs.service", "app.storage", "app.storage.db", "app.storage.repository",
            "app.storage.queries", "app.storage.models", "alembic", "sqlalchemy", "sqlalchemy.orm",
            "agents.run.agent", "agents.plan", "agents.llm.client", "agents.run.runner", "pydantic",
            "ui.main_window", "ui.conversation", "ui.plan_tree", "ui.run_view", "markdown",
            "qasync", "PySide6.QtWidgets", "PySide6.QtGui", "keyring", "litellm")
    print(f"\n{'module (cumulative, first import)':<36} {'ms':>8}")
    for name in ours:
        if name in cumulative:
            print(f"{name:<36} {cumulative[name] / 1000:>8.1f}")
        else:
            print(f"{name:<36} {'not imported':>12}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-imports", action="store_true", help="skip the -X importtime table")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="also measure with warm_up() disabled (is the litellm thread in the way?)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="leave PYTHONDONTWRITEBYTECODE as it is (compile on every start)")
    args = parser.parse_args()
    if args.no_bytecode_cache or os.environ.get("PYTHONDONTWRITEBYTECODE") is None:
        print("bytecode: as the environment has it")
    else:
        use_bytecode_cache()
        print(f"bytecode: PYTHONDONTWRITEBYTECODE is set here; children use a cache filled once "
              f"({PYC_CACHE}), as a person's second start would")
    print_case("first launch: empty data dir, database created and migrated",
               measure(args.runs, fresh=True))
    print_case("next launch: existing database", measure(args.runs, fresh=False))
    if args.no_warm_up:
        print_case("next launch, warm_up() disabled", measure(args.runs, fresh=False,
                                                              extra={"BENCH_NO_WARM_UP": "1"}))
    if not args.no_imports:
        print_imports()
    if PYC_CACHE is not None:
        shutil.rmtree(PYC_CACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
