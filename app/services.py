"""RunService: plans, runs and resumes goals, persisting everything.

The one place where the core (agents/) meets storage, settings and keys.
The CLI and the window both drive runs through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agents.agent import ModelSettings
from agents.calls import CallContext, RetryPolicy
from agents.errors import TroupeError
from agents.llm import LiteLLMClient
from agents.plan import Plan, validate_plan
from agents.planner import Planner, PlanResult
from agents.ports import ApprovalGate, EventSink, FanOut, LLMClient
from agents.replan import replan as replan_plan
from agents.roster import Roster
from agents.runner import PriorResult, Runner, RunOptions, RunOutcome
from app import secrets
from app.paths import db_path
from app.roster_store import load_user_roster
from app.settings import Settings, load_settings
from app.storage import EventWriter, RunDetail, Store, open_database

RESUMABLE = ("interrupted", "failed", "cancelled", "paused")


class UnknownRun(TroupeError):
    """No run has this id."""


class NotResumable(TroupeError):
    """The run is in a state that cannot be resumed."""


@dataclass(frozen=True)
class RunConfig:
    """The model settings a run is started with (stored with it, minus keys)."""

    model: str
    planner_model: str | None = None
    api_base: str | None = None
    max_parallel: int = 8

    def to_record(self) -> dict[str, Any]:
        return {
            "model": self.model, "planner_model": self.planner_model,
            "api_base": self.api_base, "max_parallel": self.max_parallel,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> RunConfig:
        return cls(
            model=data["model"], planner_model=data.get("planner_model"),
            api_base=data.get("api_base"), max_parallel=int(data.get("max_parallel") or 8),
        )


class RunService:
    """Owns the database handle and the event writer for this process."""

    def __init__(
        self,
        store: Store,
        *,
        settings: Settings | None = None,
        roster: Roster | None = None,
        llm: LLMClient | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or load_settings()
        self.roster = roster or load_user_roster()
        self.llm = llm or LiteLLMClient()
        self.writer = EventWriter(store)

    @classmethod
    def open(cls, **kwargs: Any) -> RunService:
        """Open the user's database (migrating it) and recover crashed runs."""
        store = open_database(db_path())
        store.mark_interrupted()
        return cls(store, **kwargs)

    def close(self) -> None:
        self.writer.close()
        self.store.close()

    async def aclose_llm(self) -> None:
        """Close the model client's connections; call before the loop ends."""
        aclose = getattr(self.llm, "aclose", None)
        if aclose is not None:
            await aclose()

    # --- configuration ----------------------------------------------------------

    def config(self, model: str | None = None, planner_model: str | None = None,
               api_base: str | None = None, max_parallel: int | None = None) -> RunConfig:
        """Fill what the caller left out from the settings."""
        chosen = model or self.settings.default_model
        return RunConfig(
            model=chosen,
            planner_model=planner_model or (None if model else self.settings.planner_model),
            api_base=api_base or self.settings.api_base,
            max_parallel=max_parallel or self.settings.max_parallel,
        )

    def model_settings(self, config: RunConfig) -> ModelSettings:
        """The config plus the key, read now from the keyring or environment."""
        return ModelSettings(
            model=config.model, planner_model=config.planner_model, api_base=config.api_base,
            api_key=secrets.get_api_key(config.model), call_timeout=self.settings.call_timeout,
        )

    def _retry(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.settings.max_attempts)

    # --- runs ----------------------------------------------------------------------

    def create_run(self, project: str, goal: str, config: RunConfig) -> str:
        return self.store.create_run(project, goal, config.to_record())

    async def plan(self, run_id: str, goal: str, config: RunConfig,
                   sinks: Sequence[EventSink] = (), context: str = "") -> PlanResult:
        """Ask the orchestrator for a plan; it is stored as a plan version."""
        planner = Planner(self.llm, self.roster, self.model_settings(config), retry=self._retry())
        ctx = CallContext(run_id=run_id, sink=self._sink(sinks), purpose="plan")
        return await planner.plan(ctx, goal, context)

    async def replan(self, run_id: str, plan: Plan, comment: str, keep: set[str], config: RunConfig,
                     sinks: Sequence[EventSink] = ()) -> PlanResult:
        """Ask the orchestrator to revise `plan` after a comment; stored only once accepted."""
        ctx = CallContext(run_id=run_id, sink=self._sink(sinks), purpose="replan", stream_tokens=False)
        return await replan_plan(self.llm, self.roster, self.model_settings(config), ctx, plan,
                                 comment, keep, retry=self._retry())

    def reusable_results(self, run_id: str, task_ids: set[str]) -> dict[str, PriorResult]:
        """Finished outputs of these tasks, for a run that should not redo them."""
        return {
            tid: PriorResult(output=f.output, attempts=f.attempts)
            for tid, f in self.store.finished_task_outputs(run_id).items()
            if tid in task_ids
        }

    def save_plan(self, run_id: str, plan: Plan, source: str) -> int:
        """Store a plan the person supplied or edited as a new version."""
        validate_plan(plan, self.roster.names)
        return self.store.add_plan_version(run_id, plan.to_dict(), source)

    async def execute(self, run_id: str, plan: Plan, config: RunConfig, gate: ApprovalGate,
                      sinks: Sequence[EventSink] = (),
                      prior: dict[str, PriorResult] | None = None) -> RunOutcome:
        """Run a plan to its end; every event is persisted before this returns."""
        runner = self.runner(run_id, plan, config, gate, sinks, prior)
        try:
            return await runner.run()
        finally:
            await self.writer.aflush()

    def runner(self, run_id: str, plan: Plan, config: RunConfig, gate: ApprovalGate,
               sinks: Sequence[EventSink] = (),
               prior: dict[str, PriorResult] | None = None) -> Runner:
        """A Runner wired to storage, for callers that need pause/cancel."""
        return Runner(
            run_id=run_id, plan=plan, roster=self.roster, llm=self.llm,
            settings=self.model_settings(config), sink=self._sink(sinks), gate=gate,
            options=RunOptions(max_parallel=config.max_parallel, retry=self._retry()),
            prior=prior,
        )

    def resume_state(self, run_id: str) -> tuple[RunDetail, Plan, RunConfig, dict[str, PriorResult]]:
        """What a resume needs: the run, its latest plan, its config, finished outputs."""
        self.store.mark_interrupted()
        run = self.get_run(run_id)
        if run.status not in RESUMABLE:
            raise NotResumable(f"run {run_id} is {run.status}; only {', '.join(RESUMABLE)} runs can be resumed")
        version = self.store.latest_plan(run_id)
        if version is None:
            raise NotResumable(f"run {run_id} has no plan yet; start it again with `troupe run`")
        prior = {
            tid: PriorResult(output=f.output, attempts=f.attempts)
            for tid, f in self.store.finished_task_outputs(run_id).items()
        }
        config = RunConfig.from_record(run.settings)
        return run, Plan.from_dict(version.plan), config, prior

    def get_run(self, run_id: str) -> RunDetail:
        try:
            return self.store.get_run(run_id)
        except KeyError:
            raise UnknownRun(f"no run with id {run_id!r} (see `troupe runs`)") from None

    def _sink(self, sinks: Sequence[EventSink]) -> EventSink:
        return FanOut([self.writer, *sinks])


