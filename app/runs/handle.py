"""RunHandle: one run from its start to its end, whoever drives it.

The CLI and the window both get their runs from `RunService.start` or
`RunService.resume`; neither builds a runner. The handle opens what the run
needs (its project's tools and workspace, the MCP servers its roles name,
the exactly-once ledger, the budget), starts the runner, lets its driver
pause, resume and cancel it, and closes all of it on every way out: the run
finished, failed or was cancelled, or the driver's task was cancelled (the
window closed, Ctrl+C).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from agents.constraints import Constraints, MonthlyBudget
from agents.plan import Plan
from agents.ports import ApprovalGate, EventSink, FanOut, Usage
from agents.run.runner import PriorResult, Runner, RunOptions, RunOutcome
from agents.run.state import PendingApproval, RunState, RunStatus
from agents.run.team import PriorStep
from agents.tools.loop import ToolSetup

if TYPE_CHECKING:
    from app.runs.service import RunConfig, RunService
    from app.storage.errors import DatabaseUnavailable

log = logging.getLogger(__name__)


class RunAlreadyStarted(RuntimeError):
    """A RunHandle runs once; start another for the next run."""


@dataclass(frozen=True)
class RunStart:
    """Everything one start of a run is made of."""

    run_id: str
    plan: Plan
    config: RunConfig
    gate: ApprovalGate
    """Who answers the run's questions (the window's cards, the terminal, --yes)."""
    sinks: Sequence[EventSink] = ()
    """Who sees its events besides storage."""
    prior: Mapping[str, PriorResult] = field(default_factory=dict)
    """Finished results this start keeps instead of asking a model again."""
    prior_steps: Mapping[str, Mapping[str, PriorStep]] = field(default_factory=dict)
    """Finished steps of pattern tasks that run again, replayed instead of asked again."""
    constraints: Constraints = field(default_factory=Constraints)
    """The run's own budget and deadline (announced by the runner, stored with the run)."""


class RunHandle:
    """One start of a run. `await run()` once; control it from the same loop."""

    def __init__(self, service: RunService, start: RunStart) -> None:
        self._service = service
        self._start = start
        self._runner: Runner | None = None
        self._started = False
        self._paused = False
        self._cancelled = False
        self._write_failure: DatabaseUnavailable | None = None

    @property
    def run_id(self) -> str:
        return self._start.run_id

    @property
    def kept(self) -> frozenset[str]:
        """Tasks whose earlier results this start keeps."""
        return frozenset(self._start.prior)

    @property
    def replayed_steps(self) -> int:
        """How many finished steps of pattern tasks this start replays."""
        return sum(len(steps) for steps in self._start.prior_steps.values())

    @property
    def state(self) -> RunState:
        """The run as this start sees it (the runner's fold of its events)."""
        return self._runner.state if self._runner is not None else RunState(run_id=self.run_id)

    @property
    def pending_approvals(self) -> list[PendingApproval]:
        """Questions asked and not answered yet, oldest first."""
        return list(self.state.approvals.values())

    @property
    def paused(self) -> bool:
        return self._paused

    async def run(self) -> RunOutcome:
        """Run to the end. When this returns or raises, every event is stored
        and the run's tools and MCP servers are closed."""
        if self._started:
            raise RunAlreadyStarted(f"run {self.run_id} was already started by this handle")
        self._started = True
        service = self._service
        writer = service.writer
        if writer.failure is not None:  # an earlier start stopped on it: try again (space freed?)
            await asyncio.to_thread(writer.recover)
        loop = asyncio.get_running_loop()

        def failed(failure: DatabaseUnavailable) -> None:  # on the writer's thread
            loop.call_soon_threadsafe(self._history_failed, failure)

        forget = writer.on_failure(failed)
        try:
            outcome = await self._run(service)
        finally:
            forget()
        if self._write_failure is None and writer.failure is not None:  # its last batch was lost
            self._write_failure = writer.failure
        if self._write_failure is not None:
            raise self._stopped(self._write_failure)
        return outcome

    def _history_failed(self, failure: DatabaseUnavailable) -> None:
        """The history cannot be written: stop now, nothing more would be kept."""
        if self._write_failure is None:
            self._write_failure = failure
            self.cancel()

    def _stopped(self, failure: DatabaseUnavailable) -> Exception:
        """Mark the run interrupted (if even that cannot be written, the next start's
        mark_interrupted() or this service's resume() does) and say why."""
        from app.storage.errors import HistoryWriteFailed  # noqa: PLC0415

        service = self._service
        try:
            service.store.interrupt(self.run_id, failure.reason)
        except Exception as exc:
            log.warning("run %s: could not mark it interrupted (%s)", self.run_id, exc)
            service.unsaved_interrupts.add(self.run_id)
        return HistoryWriteFailed(self.run_id, failure)

    async def _run(self, service: RunService) -> RunOutcome:
        tools = await service.open_tools(self.run_id)
        try:
            if self._cancelled and self._write_failure is None:  # cancelled while its tools were starting
                reason = "cancelled before it started"
                service.store.set_run_status(self.run_id, RunStatus.CANCELLED, reason)
                return RunOutcome(RunStatus.CANCELLED, None, Usage(), 0.0, reason)
            # the planner's calls and earlier starts count against the budgets
            await service.writer.aflush()
            spent, monthly = service.spending_limits(self.run_id)
            self._runner = self._build_runner(tools.setup, spent, monthly)
            if self._paused:
                self._runner.pause()
            return await self._runner.run()
        finally:
            await service.close_run_tools(tools)
            # until written, or failed: the writer may be waiting out another program's lock
            await service.writer.aflush(service.writer.longest_wait)

    def _build_runner(self, tools: ToolSetup | None, spent: float = 0.0,
                      monthly: MonthlyBudget | None = None) -> Runner:
        service, start = self._service, self._start
        if tools is not None and tools.ledger is None:
            from app.tools.ledger import StoreLedger  # noqa: PLC0415 - SQLAlchemy-backed

            tools = replace(tools, ledger=StoreLedger(service.store, start.run_id))
        options = RunOptions(max_parallel=start.config.max_parallel, retry=service.retry_policy(),
                             budget_usd=service.settings.budget_usd, tools=tools,
                             constraints=start.constraints, spent_before=spent, monthly=monthly)
        return Runner(
            run_id=start.run_id, plan=start.plan, roster=service.roster, llm=service.llm,
            settings=service.model_settings(start.config, start.plan), gate=start.gate,
            sink=FanOut([service.writer, *start.sinks]), options=options, prior=start.prior,
            prior_steps=start.prior_steps,
        )

    # --- control ------------------------------------------------------------------

    def pause(self) -> None:
        """Let calls in flight finish and start no new ones until `resume()`."""
        self._paused = True
        if self._runner is not None:
            self._runner.pause()

    def resume(self) -> None:
        self._paused = False
        if self._runner is not None:
            self._runner.resume()

    def cancel(self) -> None:
        """End the run as cancelled; what finished is kept."""
        self._cancelled = True
        if self._runner is not None:
            self._runner.cancel()

    def cancel_task(self, task_id: str) -> None:
        """Stop one task (or a group's tasks); what depends on it is blocked."""
        if self._runner is not None:
            self._runner.cancel_task(task_id)
