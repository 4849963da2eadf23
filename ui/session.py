"""The window's run lifecycle: goal -> plan -> edit -> run -> deliverable.

Drives app.runs.service.RunService on the qasync loop and fans the run's events
out to the widgets. All long work is awaited, never blocking the UI thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from agents.constraints import Constraints
from agents.errors import PlanError, TroupeError
from agents.events import (
    DeliverableReady,
    RunEvent,
    RunFinished,
    RunStarted,
    TokenDelta,
    event_from_dict,
)
from agents.plan import Plan, plan_problems
from agents.plan.estimate import RunEstimate
from agents.ports import Action, CallbackSink
from agents.run.runner import STOPPED_BY_PERSON
from agents.run.state import RunStatus, TaskStatus, fold
from app.estimate_text import compared, headline, money, notes
from app.run_story import story_lines
from app.runs.handle import RunHandle
from app.runs.service import RunConfig, RunService
from ui.approvals import QtApprovalGate
from ui.conversation import ConversationView
from ui.plan_tree import PlanTreeModel, PlanTreeView
from ui.plan_tree.diff_dialog import PlanDiffDialog, replace_plan
from ui.run_view import RunView

log = logging.getLogger(__name__)


class Session(QObject):
    """One open run at a time in the window."""

    historyChanged = Signal()
    configChanged = Signal()
    """The run's model settings changed (a reopened run brings its own)."""
    followUpChanged = Signal(str)
    """The next goal follows up the run with this goal ("": it starts a new conversation)."""
    busyChanged = Signal(bool)
    error = Signal(str)

    def __init__(self, service: RunService, conversation: ConversationView,
                 plan_model: PlanTreeModel, plan_view: PlanTreeView, run_view: RunView,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        # A Qt timer owned by the session: it dies with the window, unlike a
        # loop callback, which could fire into deleted widgets.
        self._history_timer = QTimer(self, singleShot=True, interval=100)
        self._history_timer.timeout.connect(self.historyChanged.emit)
        self.conversation = conversation
        self.plan_model = plan_model
        self.plan_view = plan_view
        self.run_view = run_view
        self.project = "Default"
        self.run_id: str | None = None
        self.config: RunConfig = service.config()
        self._events = CallbackSink(self._on_event)
        """The sink the session's runs and plans report to (QObject has an `emit` of its own)."""
        self.handle: RunHandle | None = None
        """The run under way (the one way a run starts: RunService.start / resume)."""
        self._jobs: set[asyncio.Task[Any]] = set()
        self._plan_card: Any = None
        self._gate = QtApprovalGate(conversation.add_approval_card)
        self.follow_up_of: str | None = None
        """The finished run the next goal follows up (the person chose "Follow up")."""
        self.estimate: RunEstimate | None = None
        """The cost estimate of the plan as it stands (None until worked out)."""
        self._estimating: asyncio.Task[Any] | None = None
        self._estimate_timer = QTimer(self, singleShot=True, interval=300)  # edits come in bursts
        self._estimate_timer.timeout.connect(self._start_estimate)
        self.over_budget_box: QMessageBox | None = None
        self.cancel_box: QMessageBox | None = None
        """The last "cancel the run?" question (tests answer it)."""
        """The last "over budget?" question asked at Run (tests answer it)."""
        plan_model.planChanged.connect(self._on_plan_changed)
        conversation.planApproved.connect(self.start_run)
        run_view.runRequested.connect(self.start_run)
        run_view.pauseRequested.connect(self.pause)
        run_view.resumeRequested.connect(self.resume)
        run_view.cancelRequested.connect(self.request_cancel)
        run_view.retryRequested.connect(self.retry_task)
        plan_view.subtaskSelected.connect(run_view.show_subtask)  # a delegate's sub-task: its steps
        plan_view.taskChosen.connect(run_view.follow_task)  # its steps and live output

    # --- the one way UI work runs -------------------------------------------------

    def run_op(self, coro: Coroutine[Any, Any, Any], *, what: str) -> asyncio.Task[Any]:
        """Run `coro` on the loop; errors are shown the same way everywhere."""
        job = asyncio.ensure_future(coro)
        self._jobs.add(job)
        self.busyChanged.emit(True)
        job.add_done_callback(lambda j: self._on_op_done(j, what))
        return job

    def _on_op_done(self, job: asyncio.Task[Any], what: str) -> None:
        self._jobs.discard(job)
        self.busyChanged.emit(bool(self._jobs))
        if job.cancelled():
            return
        exc = job.exception()
        if exc is not None:
            message = str(exc) if isinstance(exc, TroupeError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, TroupeError):
                log.error("%s failed", what, exc_info=exc)
            self.conversation.add_note(f"⚠ {what} failed: {message}")
            self.error.emit(message)
        self.historyChanged.emit()

    # --- goal and plan ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.handle is not None

    def submit(self, goal: str, constraints: Constraints | None = None) -> asyncio.Task[Any] | None:
        """Plan `goal` as a new run, with its own budget and deadline (the composer's options row)."""
        goal = goal.strip()
        if not goal or self.running:
            return None
        parent, context = self.follow_up_of, self._follow_up_context()
        if parent is None:
            self.new_conversation()  # a new goal is a new conversation unless the person follows up
        self.follow_up_of = None
        self.followUpChanged.emit("")
        self.conversation.add_user_message(goal)
        return self.run_op(self._plan(goal, context, constraints, parent), what="Planning")

    def offer_follow_up(self) -> None:
        """The person chose "Follow up" on a finished run: the next goal builds on its result."""
        if self.run_id is None or self.running:
            return
        run = self.service.get_run(self.run_id)
        if run.status != RunStatus.COMPLETED or not run.deliverable:
            return
        self.follow_up_of = run.id
        self.followUpChanged.emit(run.goal)

    def cancel_follow_up(self) -> None:
        self.follow_up_of = None
        self.followUpChanged.emit("")

    def _follow_up_context(self) -> str:
        """The followed-up run's goal and deliverable, for the planner (empty: not a follow-up)."""
        if self.follow_up_of is None:
            return ""
        run = self.service.get_run(self.follow_up_of)
        return f"Earlier goal: {run.goal}\n\nEarlier deliverable:\n{run.deliverable or ''}"

    def new_conversation(self) -> None:
        """Leave the open run: the next goal starts a run of its own (Ctrl+N)."""
        if self.running:
            return
        self.run_id = None
        self._plan_card = None
        self.follow_up_of = None
        self.followUpChanged.emit("")
        self.conversation.clear()
        self.run_view.reset()
        self.plan_model.set_plan(Plan(goal="", tasks=()))
        self.plan_view.set_editable(True)  # nothing runs: never "Locked while the plan runs"
        self.estimate = None

    async def _plan(self, goal: str, context: str, constraints: Constraints | None = None,
                    follow_up_of: str | None = None) -> None:
        self.run_view.reset()  # before planning: the planner's calls count in the run's totals
        self.run_id = self.service.create_run(self.project, goal, self.config, constraints, [self._events],
                                              follow_up_of=follow_up_of)
        self.historyChanged.emit()
        note = self.conversation.add_note("The orchestrator is planning…")
        try:
            result = await self.service.plan(self.run_id, goal, self.config, [self._events], context=context)
        finally:
            note.deleteLater()
        self.plan_model.set_plan(result.plan)
        self.plan_view.set_editable(True)
        self.run_view.load_plan(result.plan)
        self.run_view.set_state(RunStatus.PLANNED)
        self._plan_card = self.conversation.add_plan(result.plan)
        if result.template_notice:  # a tiny orchestrator: a built-in plan shape
            self._plan_card.set_notice(result.template_notice)
        self._start_estimate()

    def _on_plan_changed(self, plan: Plan) -> None:
        # Every accepted, valid edit becomes a plan version in the history.
        if self.run_id is not None and not self.running and not plan_problems(plan, self.service.roster.names):
            self.service.save_plan(self.run_id, plan, "edited")
            self.run_view.load_plan(plan)
            if self._plan_card is not None and not self._plan_card.is_approved:
                self.conversation.update_plan_card(self._plan_card, plan)  # not a snapshot
            self.estimate = None  # until the edited plan's is worked out
            self._estimate_timer.start()

    # --- replanning -------------------------------------------------------------------

    def can_replan(self) -> bool:
        return self.run_id is not None and not self.running and bool(self.plan_model.task_ids())

    def replan(self, comment: str) -> asyncio.Task[Any] | None:
        comment = comment.strip()
        if not comment or not self.can_replan():
            return None
        self.plan_view.commit_pending()
        plan, keep = self.plan_model.to_plan(), self._finished_ids()
        self.conversation.add_user_message(comment)
        return self.run_op(self._replan(plan, comment, keep), what="Replanning")

    def _finished_ids(self) -> set[str]:
        """Completed tasks, and tasks the person approved that have not finished."""
        keep = set()
        for tid in self.plan_model.task_ids():
            state = self.plan_model.runtime(tid)
            if state and (state.status is TaskStatus.COMPLETED or (
                    state.approval in (Action.APPROVE, Action.EDIT) and not state.status.terminal)):
                keep.add(tid)
        return keep

    async def _replan(self, plan: Plan, comment: str, keep: set[str]) -> None:
        assert self.run_id is not None
        note = self.conversation.add_note("The orchestrator is revising the plan…")
        try:
            result = await self.service.replan(self.run_id, plan, comment, keep, self.config, [self._events])
        finally:
            note.deleteLater()
        dialog = PlanDiffDialog(plan, result.plan, self.plan_view.window(), comment=comment, kept=keep)
        dialog.accepted.connect(lambda: self._use_replanned(result.plan, keep))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # window-modal without a nested event loop (no exec() in a coroutine)

    def _use_replanned(self, plan: Plan, keep: set[str]) -> None:
        if self.running:
            return
        self.plan_view.set_editable(True)
        replace_plan(self.plan_model, plan)  # one undo step; planChanged stores an "edited" version
        self._plan_card = self.conversation.add_plan(plan)
        self._start_estimate()

    # --- the cost estimate ------------------------------------------------------------------

    def _start_estimate(self) -> None:
        """Work out the plan's cost estimate off the UI thread (history, prices, maybe litellm's import)."""
        self._estimate_timer.stop()
        plan = self.plan_model.to_plan()
        if self.run_id is None or self.running or plan_problems(plan, self.service.roster.names):
            return
        if self._estimating is not None:
            self._estimating.cancel()  # a newer plan: the older figure is not wanted
        self._estimating = asyncio.ensure_future(self._estimate(plan, self.run_id))

    async def _estimate(self, plan: Plan, run_id: str) -> None:
        try:
            found = await asyncio.to_thread(self.service.estimate, plan, self.config, run_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # an estimate is a help, never a reason to stop planning
            log.warning("could not estimate the plan's cost", exc_info=True)
            return
        if plan != self.plan_model.to_plan():
            return  # edited meanwhile: the next estimate is on its way
        self._show_estimate(found)

    def _show_estimate(self, found: RunEstimate, actual: float | None = None) -> None:
        self.estimate = found
        self.plan_model.set_estimate(found)
        self.run_view.set_estimate(found)
        if self._plan_card is not None:
            if actual is None:
                self._plan_card.set_estimate(headline(found), notes(found))
            else:
                said = compared(found, actual)
                self._plan_card.set_estimate(said[:1].upper() + said[1:])

    # --- running --------------------------------------------------------------------------

    def start_run(self) -> None:
        """Run the plan as it stands; tasks this run already finished, unchanged, are kept."""
        if self.running or self.run_id is None:
            return
        self.plan_view.commit_pending()
        plan = self.plan_model.to_plan()
        if problems := plan_problems(plan, self.service.roster.names):
            self.conversation.add_note("⚠ Fix the plan first: " + "; ".join(problems))
            return
        budget = self.run_budget()
        if self.estimate is not None and budget and self.estimate.total.high > budget:
            self._ask_over_budget(self.estimate, budget)
            return
        self._start(plan)

    def run_budget(self) -> float:
        """The budget the run is held to: its own (set at intake), else the settings' (0: none)."""
        own = self.service.constraints(self.run_id).budget_usd if self.run_id is not None else None
        return own if own is not None else self.service.settings.budget_usd

    def _ask_over_budget(self, estimate: RunEstimate, budget: float) -> None:
        """The estimate's high end is above the budget: run anyway, or go back to the plan."""
        box = QMessageBox(QMessageBox.Icon.Question, "Over budget?",
                          f"This plan could cost up to {money(estimate.total.high)}, above the run's "
                          f"budget of {money(budget)}.", parent=self.plan_view.window())
        box.setInformativeText(f"{headline(estimate)}. Once the budget is spent the run pauses and asks "
                               "before spending more. Run it anyway?")
        go = box.addButton("Run anyway", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Back to the plan", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(go)
        box.finished.connect(lambda _code: self._start(self.plan_model.to_plan())
                             if box.clickedButton() is go else self._back_to_plan())
        box.finished.connect(box.deleteLater)
        self.over_budget_box = box
        box.open()  # window-modal, no nested event loop

    def _back_to_plan(self) -> None:
        if self._plan_card is not None and not self.running:
            self._plan_card.reopen()

    def _start(self, plan: Plan) -> None:
        if self.running or self.run_id is None:
            return
        estimate = self.estimate if self.estimate is not None and not self._estimate_timer.isActive() else None
        self._launch(self.service.start(self.run_id, plan, self.config, self._gate, [self._events],
                                        estimate=estimate))

    def retry_task(self, task_id: str) -> None:
        """Run `task_id` again (and what depends on it); other finished work is kept."""
        if self.running or self.run_id is None:
            return
        self.plan_view.commit_pending()
        handle = self.service.start(self.run_id, self.plan_model.to_plan(), self.config, self._gate,
                                    [self._events], retry={task_id})
        self._launch(handle)

    def _launch(self, handle: RunHandle) -> None:
        if self._plan_card is not None and not self._plan_card.is_approved:
            self._plan_card.set_approved()
        self.plan_view.set_editable(False)
        if handle.kept:
            self.conversation.add_note(
                f"{len(handle.kept)} finished task(s) are kept; the others run now.")
        self.handle = handle
        self.run_op(self._run(handle), what="The run")

    async def _run(self, handle: RunHandle) -> None:
        try:
            await handle.run()
        finally:
            self.handle = None
            # a stopped run's plan can be changed and run again: only what changed runs
            self.plan_view.set_editable(True)

    def pause(self) -> None:
        if self.handle:
            self.handle.pause()

    def resume(self) -> None:
        """Resume a paused run, or continue a stopped one where it stopped."""
        if self.handle:
            self.handle.resume()
            return
        if self.run_id is not None:
            self.run_op(self._resume(self.run_id), what="Resuming")

    async def _resume(self, run_id: str) -> None:
        handle = self.service.resume(run_id, self._gate, [self._events])
        self.config = RunConfig.from_record(self.service.get_run(run_id).settings)
        self._launch(handle)

    def cancel(self) -> None:
        if self.handle:
            self.handle.cancel()

    def request_cancel(self) -> None:
        """Cancel, asking first while tasks are working (their work so far would be lost)."""
        working = self.working_tasks() if self.running else 0
        if not working:
            self.cancel()
            return
        they = "they have" if working != 1 else "it has"
        box = QMessageBox(QMessageBox.Icon.Question, "Cancel the run?",
                          f"{working} task{'s are' if working != 1 else ' is'} working now; what {they} "
                          "written so far is lost.", parent=self.plan_view.window())
        box.setInformativeText("Finished tasks are kept: Run or Resume continues with the rest.")
        stop = box.addButton("Cancel run", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole))
        box.finished.connect(lambda _code: self.cancel() if box.clickedButton() is stop else None)
        box.finished.connect(box.deleteLater)
        self.cancel_box = box
        box.open()  # window-modal without a nested event loop

    def working_tasks(self) -> int:
        """Tasks of the open run that are running now (a cancel would lose their work so far)."""
        return sum(1 for tid in self.plan_model.task_ids()
                   if (state := self.plan_model.runtime(tid)) is not None and state.status is TaskStatus.RUNNING)

    # --- events from the run ------------------------------------------------------------------

    def _on_event(self, event: RunEvent) -> None:
        """The run's and the planner's events: on the loop thread, synchronously, each one."""
        self.plan_model.apply_event(event)
        self.run_view.apply_event(event)
        if isinstance(event, TokenDelta) and not event.task_id and self.handle is not None:
            self.conversation.append_stream(event.text)
        elif isinstance(event, DeliverableReady):
            # The streamed draft becomes the rendered deliverable card.
            self.conversation.discard_stream()
            self.conversation.show_deliverable(event.markdown)
        elif isinstance(event, RunFinished) and event.status != RunStatus.COMPLETED:
            self.conversation.add_note(_ended_note(event))
        elif isinstance(event, RunFinished) and event.partial:
            why = event.error or "some tasks were rejected"  # or the run stopped at its deadline
            self.conversation.add_note(f"Partial result: {why}; the deliverable says what is missing.")
        if isinstance(event, RunFinished) and self._plan_card is not None:
            self._plan_card.set_approved(f"✓  Plan approved · run {event.status}")
        if isinstance(event, RunStarted | RunFinished):
            # Let the writer store the new status before the list re-reads it.
            self._history_timer.start()

    # --- opening a stored run ---------------------------------------------------------------------

    def open_run(self, run_id: str) -> None:
        if self.running:
            return
        run = self.service.get_run(run_id)
        version = self.service.store.latest_plan(run_id)
        self.run_id, self.project = run.id, run.project
        self.config = RunConfig.from_record(run.settings) if run.settings.get("model") else self.config
        self.configChanged.emit()
        self.cancel_follow_up()
        self.conversation.clear()
        if parent := self._parent_goal(run.settings.get("follow_up_of")):
            self.conversation.add_note(f"↳ Follow-up to “{parent}”")
        self.conversation.add_user_message(run.goal)
        self.run_view.reset()
        if version is not None:
            try:
                plan = Plan.from_dict(version.plan)
            except PlanError:
                plan = None
            if plan is not None:
                self.plan_model.set_plan(plan)
                self.run_view.load_plan(plan)
                self._plan_card = self.conversation.add_plan(plan)
                if run.status != RunStatus.PLANNED:
                    self._plan_card.set_approved(f"✓  Plan approved · run {run.status}")
                if run.estimate:  # as made before it started: next to what it cost
                    self._show_estimate(RunEstimate.from_dict(run.estimate), run.cost)
                else:
                    self._start_estimate()
        stored = self.service.store.events(run_id)
        for line in story_lines(stored, self.service.store.approvals(run_id)):
            self.conversation.add_note(line)  # what happened, not only goal, plan and result
        events = [_parse(e) for e in stored]
        self.run_view.apply_events(events)
        state = fold(events)  # the plan tree's own: later events fold into it
        if run.status == RunStatus.INTERRUPTED:
            state.interrupt()
        self.plan_model.show_state(state)
        self.plan_view.set_editable(True)  # not running: edit, then Run runs only what changed
        if run.deliverable:
            self.conversation.show_deliverable(run.deliverable)
        self.run_view.set_state(RunStatus(run.status))  # storage decides "interrupted"
        if run.status == RunStatus.INTERRUPTED:
            self.conversation.add_note("This run was interrupted. Press Resume to continue where it stopped.")

    def _parent_goal(self, run_id: Any) -> str:
        """The goal of the run `run_id` names ("" when none, or it was deleted)."""
        if not isinstance(run_id, str) or not run_id:
            return ""
        try:
            return self.service.get_run(run_id).goal
        except (KeyError, TroupeError):
            return ""

    def latest_interrupted(self) -> str | None:
        """The newest run left interrupted by a closed window or a crash."""
        self.service.store.mark_interrupted()
        runs = [r for r in self.service.store.list_runs(limit=50) if r.status == RunStatus.INTERRUPTED]
        return runs[0].id if runs else None

    def new_project(self, name: str) -> None:
        """Switch to project `name` (made now, so it shows in the history at once)."""
        self.service.store.get_or_create_project(name)
        self.project = name
        self.new_conversation()
        self.historyChanged.emit()

    async def aclose(self) -> None:
        """The window is closing: stop work, leaving a running run resumable."""
        run_id = self.run_id if self.handle is not None else None
        jobs = list(self._jobs) + ([self._estimating] if self._estimating is not None else [])
        for job in jobs:
            job.cancel()  # not handle.cancel(): that would end the run as "cancelled"
        await asyncio.gather(*jobs, return_exceptions=True)
        if run_id is not None:
            await self.service.writer.aflush()
            self.service.store.set_run_status(run_id, RunStatus.INTERRUPTED, "the window was closed")


def _parse(data: dict[str, Any]) -> RunEvent:
    return event_from_dict({k: v for k, v in data.items() if k != "seq"})


def _ended_note(event: RunFinished) -> str:
    """What the conversation says when a run ends other than completed."""
    if event.status == RunStatus.CANCELLED and event.error == STOPPED_BY_PERSON:
        return "Run cancelled. Finished tasks are kept: Run or Resume continues with the rest."
    return f"Run {event.status}: {event.error}"
