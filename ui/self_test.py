"""`troupe --self-test [--keep] [--show] [--timeout S]`: does this install work?

Opens the real MainWindow (offscreen unless --show) on a fresh temporary data
dir, with only the embedded model and an in-memory keychain (see
app/self_test_env.py), types a tiny goal, approves the plan, runs it and
checks the result in the window and in the database. Progress goes to
stderr; the last line is "self-test: OK (N s)" (exit 0) or "self-test:
FAILED: <reason>" (exit 1). The temporary dir is removed after a pass; after
a failure it is kept with its log and a screenshot.

Works from source and frozen (PyInstaller): nothing here reads the source
tree or starts a subprocess. Its own composition, not ui/gui.py's: no
single-instance lock, no first-run detection, no crash dialog.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import qasync
from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from agents.approvals import Subject
from agents.llm.litellm_info import warm_up
from app.logs import setup_logging
from app.paths import db_path
from app.runs.service import RunService
from app.self_test_env import embedded_only_providers, isolate, self_test_roster, self_test_settings
from app.settings import DEFAULT_MODEL
from ui.approvals import ApprovalCard
from ui.conversation import DeliverableCard, PlanCard
from ui.main_thread_gc import MainThreadGC
from ui.main_window import MainWindow

# Qt reads QT_QPA_PLATFORM when the QApplication is made (in main), not on import.

log = logging.getLogger(__name__)

GOAL = "Say hello"
"""The goal the window is given (short: the embedded model writes it in seconds)."""
DEFAULT_TIMEOUT = 480.0  # ~2.5 minutes on two busy cores: room for a slower machine
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_POLL = 0.05  # seconds between looks at the window

W = TypeVar("W")


class SelfTestFailed(Exception):
    """A step or a check did not pass; the message is the reason printed."""


@dataclass(frozen=True)
class Options:
    """The self-test's command line."""

    keep: bool
    """Keep the temporary data dir (with the model file) even after a pass."""
    show: bool
    """Show the window instead of drawing it offscreen."""
    timeout: float
    """Seconds the whole test may take before it fails."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"troupe --self-test: {message}\n")


def parse_options(argv: list[str]) -> Options:
    parser = _Parser(prog="troupe --self-test", description="Plan and run a tiny goal on the "
                     "embedded model in the real window, on a throwaway data dir.")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    parser.add_argument("--show", action="store_true", help="show the window (default: offscreen)")
    parser.add_argument("--timeout", type=_positive_seconds, default=DEFAULT_TIMEOUT,
                        help=f"seconds before the test fails (default {DEFAULT_TIMEOUT:g})")
    args = parser.parse_args(argv)
    return Options(keep=args.keep, show=args.show, timeout=args.timeout)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


class Progress:
    """Prints "self-test: ..." lines to stderr (and the log), timed from the start."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        log.info("self-test: %s", text)
        stream = sys.stderr or sys.__stderr__  # None in a windowed frozen app
        if stream is not None:
            print(f"self-test: {text}", file=stream, flush=True)


# --- the whole test ------------------------------------------------------------------


def main(argv: list[str]) -> int:
    """Run the self-test; 0 when it passed, 1 with the reason printed, 2 for bad options."""
    options = parse_options(argv)
    if not options.show:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    progress = Progress()
    try:
        home = Path(tempfile.mkdtemp(prefix="troupe-self-test-"))
    except OSError as exc:
        progress.say(f"FAILED: cannot make a temporary folder: {exc}")
        return EXIT_FAILED
    reason = _test_in(home, options, progress)
    took = progress.elapsed()
    if reason is None:
        _clean_up(home, options.keep, progress)
        progress.say(f"OK ({took:.0f} s)")
        return EXIT_OK
    progress.say(f"kept {home} for a look (logs/troupe.log, window.png)")
    progress.say(f"FAILED: {reason}")
    return EXIT_FAILED


def _test_in(home: Path, options: Options, progress: Progress) -> str | None:
    """None if everything passed, else why not."""
    try:
        model_file = isolate(home)
        setup_logging()
        progress.say(f"fresh data dir {home}")
        progress.say(f"embedded model: {model_file}" if model_file else
                     "embedded model: not installed (its run will fail and say why)")
        _drive_window(home, options, progress)
    except SelfTestFailed as exc:
        log.error("self-test failed: %s", exc)
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - any crash is a failed self-test, with its traceback
        log.exception("the self-test crashed")
        log_file = home / "logs" / "troupe.log"
        if log_file.is_file():
            progress.say(f"traceback in {log_file}")
        return f"{type(exc).__name__}: {exc}"
    return None


def _clean_up(home: Path, keep: bool, progress: Progress) -> None:
    if keep:
        progress.say(f"kept {home}")
        return
    _close_log_files()
    shutil.rmtree(home, ignore_errors=True)


def _close_log_files() -> None:
    """Stop logging into the data dir before it goes (later lines reach stderr only)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(handler)
        handler.close()


def _drive_window(home: Path, options: Options, progress: Progress) -> None:
    """The app's composition (as ui/gui.py, minus first-run detection), then the driver."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    qInstallMessageHandler(_qt_message_to_log)  # the offscreen plugin's chatter: not on stderr
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Troupe")
    app.setOrganizationName("Troupe")
    collector = MainThreadGC(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    service = RunService.deferred(settings=self_test_settings(), roster=self_test_roster(),
                                  provider_list=embedded_only_providers())
    window = MainWindow(service)
    window.show()
    progress.say(f"window opened ({progress.elapsed():.1f} s)")
    driver = WindowDriver(window, home, progress, options.timeout)
    try:
        with loop:
            try:
                loop.run_until_complete(driver.run())
            finally:
                driver.screenshot(home / "window.png")
                window.close()
                loop.run_until_complete(window.session.aclose())
                loop.run_until_complete(service.aclose_llm())
    finally:
        service.close()
        collector.stop()


def _qt_message_to_log(mode: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    level = logging.INFO if mode in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg) else logging.WARNING
    logging.getLogger("qt").log(level, "%s", message)


# --- using the window as a person would ---------------------------------------------------


class WindowDriver:
    """Types the goal, approves the plan (and any task approvals), waits, checks."""

    def __init__(self, window: MainWindow, home: Path, progress: Progress, timeout: float) -> None:
        self.window = window
        self.session = window.session
        self.home = home
        self.progress = progress
        self.timeout = timeout
        self.stage = "starting"
        self.error: str | None = None
        self.busy = False
        self._answered: list[ApprovalCard] = []
        self.session.error.connect(self._on_error)
        self.session.busyChanged.connect(self._on_busy_changed)

    def _on_error(self, message: str) -> None:
        self.error = self.error or message

    def _on_busy_changed(self, busy: bool) -> None:
        self.busy = busy

    async def run(self) -> None:
        """Every step, within the time allowed."""
        try:
            await asyncio.wait_for(self._steps(), self.timeout)
        except TimeoutError:
            raise SelfTestFailed(f"timed out after {self.timeout:g} s while {self.stage}") from None

    async def _steps(self) -> None:
        await self._open_database()
        await self._load_litellm()
        plan_card = await self._plan()
        await self._run_plan(plan_card)
        self._check_result()
        self._check_spending()

    async def _until(self, stage: str, done: Callable[[], bool],
                     each_time: Callable[[], None] | None = None) -> None:
        """Poll the window until `done()`; a failure the session reports ends the test."""
        self.stage = stage
        while True:
            if self.error is not None:
                raise SelfTestFailed(f"{stage} failed: {self.error}")
            if done():
                return
            if each_time is not None:
                each_time()
            await asyncio.sleep(_POLL)

    # --- the steps -------------------------------------------------------------------------

    async def _open_database(self) -> None:
        service = self.window.service
        await self._until("opening the database", lambda: service.ready and self.window.send.isEnabled())
        db = db_path()
        if db.parent != self.home:
            raise SelfTestFailed(f"the database is {db}, not in the self-test's data dir {self.home}")
        if service.store.list_runs():
            raise SelfTestFailed(f"the new database {db} already has runs")
        self.progress.say(f"fresh database {db.name} opened ({self.progress.elapsed():.1f} s)")

    async def _load_litellm(self) -> None:
        self.stage = "loading litellm"
        started = time.monotonic()
        await warm_up()  # in a thread, as the app does once the window is up
        self.progress.say(f"litellm loaded in {time.monotonic() - started:.1f} s")

    async def _plan(self) -> PlanCard:
        self.window.goal.setPlainText(GOAL)
        self.window.send.click()
        if not self.busy:
            raise SelfTestFailed("Send did not start planning")
        self.progress.say(f"goal sent: {GOAL!r}")
        started = time.monotonic()
        await self._until("planning", lambda: not self.busy)
        cards = self._cards(PlanCard)
        if not cards:
            raise SelfTestFailed("planning ended without a plan in the window")
        tasks = len(self.window.plan_model.task_ids())
        self.progress.say(f"planned {tasks} task{'s' if tasks != 1 else ''} "
                          f"in {time.monotonic() - started:.0f} s")
        return cards[-1]

    async def _run_plan(self, plan_card: PlanCard) -> None:
        plan_card.approve_button.click()
        if not self.session.running:
            raise SelfTestFailed("approving the plan did not start the run")
        self.progress.say("plan approved: running")
        started = time.monotonic()
        await self._until("running the plan", lambda: not self.session.running and not self.busy,
                          each_time=self._answer_approvals)
        self.progress.say(f"run finished in {time.monotonic() - started:.0f} s")

    def _answer_approvals(self) -> None:
        """Approve tasks that ask for it; refuse anything else (a tool call, a budget)."""
        for card in self._cards(ApprovalCard):
            if any(card is seen for seen in self._answered):
                continue
            self._answered.append(card)
            request = card.request
            if request.subject is Subject.TASK:
                self.progress.say(f"approving task {request.task_id!r}")
                card.approve_button.click()
            else:
                self.progress.say(f"refusing the {request.subject} request {request.title!r}")
                card.reject_button.click()

    def _check_result(self) -> None:
        """The run completed in the database, every task too, and the window shows the deliverable."""
        self.stage = "checking the result"
        if self.session.run_id is None:
            raise SelfTestFailed("the window has no run")
        run = self.window.service.get_run(self.session.run_id)
        if run.status != "completed":
            raise SelfTestFailed(f"the run ended {run.status}: {run.error or 'no reason stored'}")
        if run.settings.get("model") != DEFAULT_MODEL:
            raise SelfTestFailed(f"the run used {run.settings.get('model')}, not {DEFAULT_MODEL}")
        if not run.tasks:
            raise SelfTestFailed("the completed run has no tasks in the database")
        if unfinished := [f"{t.task_id} ({t.status})" for t in run.tasks if t.status != "completed"]:
            raise SelfTestFailed(f"tasks not completed: {', '.join(unfinished)}")
        shown = [card.markdown.strip() for card in self._cards(DeliverableCard)]
        if not shown or not shown[-1]:
            raise SelfTestFailed("no deliverable is shown in the window")
        if shown[-1] != (run.deliverable or "").strip():
            raise SelfTestFailed("the deliverable in the window is not the one in the database")
        first_line = shown[-1].splitlines()[0][:60]
        self.progress.say(f"completed: {len(run.tasks)} task(s), {run.total_tokens} tokens, "
                          f"deliverable {first_line!r}...")

    def _check_spending(self) -> None:
        """View › Spending opens and counts the run: its calls went to the embedded model, so
        they are free, not "price unknown". The bundle must draw the chart (pyqtgraph)."""
        self.stage = "opening the spending view"
        self.window.spending_action.trigger()
        view = self.window.spending
        if view is None or not view.isVisible():
            raise SelfTestFailed("View › Spending did not open")
        view.choose("7d", "model")
        rows = view.table_rows()
        if not rows:
            raise SelfTestFailed("the spending view shows no model calls after the run")
        if unpriced := [row[0] for row in rows if "price unknown" in row[3]]:
            raise SelfTestFailed(f"calls to {', '.join(unpriced)} are 'price unknown', not free")
        problem = view.chart_problem
        if problem is not None and getattr(sys, "frozen", False):
            raise SelfTestFailed(f"the spending chart could not be drawn: {problem}")
        self.progress.say("spending view: " + ", ".join(f"{row[0]} {row[3]}" for row in rows)
                          + (f" (no chart: {problem})" if problem else ""))
        view.close()

    # --- helpers ------------------------------------------------------------------------------

    def _cards(self, kind: type[W]) -> list[W]:
        return [w for w in self.window.conversation.items() if isinstance(w, kind)]

    def screenshot(self, path: Path) -> None:
        """What the window showed at the end, for a look after a failure (or with --keep)."""
        try:
            self.window.grab().save(str(path))
        except Exception:  # noqa: BLE001 - a missing screenshot must not hide the real result
            log.warning("could not save a screenshot to %s", path, exc_info=True)
