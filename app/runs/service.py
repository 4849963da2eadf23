"""RunService: plans, runs and resumes goals, persisting everything.

The one place where the core (agents/) meets storage, settings and keys.
The CLI and the window both start runs through it (`start`, `resume`), and
get a RunHandle (app/runs/handle.py) that owns the run to its end.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from agents.constraints import Constraints, MonthlyBudget
from agents.errors import PlanError, TroupeError
from agents.events import ConstraintsSet, RunEvent, RunStarted, StepFinished, event_from_dict
from agents.llm.calls import CallContext, RetryPolicy
from agents.llm.local_model import close_local_models
from agents.plan import Plan, validate_plan
from agents.plan.estimate import RunEstimate
from agents.plan.patterns import named_models
from agents.plan.planner import Planner, PlanResult
from agents.plan.repair import tidy_plan
from agents.plan.replan import replan as replan_plan
from agents.plan.reuse import reusable_steps, reusable_tasks
from agents.plan.roster import Roster
from agents.ports import ApprovalGate, EventSink, FanOut, LLMClient
from agents.run.agent import ModelSettings
from agents.run.runner import PriorResult
from agents.run.state import RunState, RunStatus, TaskStatus
from agents.run.team import PriorStep
from app.paths import db_path
from app.providers import registry
from app.providers.local_models import install_local_models, too_small_to_plan
from app.providers.registry import LOCAL, Providers, load_providers
from app.roster_store import load_user_roster
from app.runs import estimates
from app.runs.handle import RunHandle, RunStart
from app.settings import Settings, load_settings
from app.tools.run_tools import RunTools, open_run_tools

if TYPE_CHECKING:
    from app.storage import EventWriter, RunDetail, Store

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
    max_tokens: int | None = None
    """Longest answer per call; None: the model's own limit."""

    def to_record(self) -> dict[str, Any]:
        return {
            "model": self.model, "planner_model": self.planner_model,
            "api_base": self.api_base, "max_parallel": self.max_parallel,
            "max_tokens": self.max_tokens,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> RunConfig:
        return cls(
            model=data["model"], planner_model=data.get("planner_model"),
            api_base=data.get("api_base"), max_parallel=int(data.get("max_parallel") or 8),
            max_tokens=data.get("max_tokens") or None,
        )


class RunService:
    """Owns the database handle and the event writer for this process.

    Built with a Store, or without one (`deferred()`): then the database is
    opened by `open_store()` or on the first use of `store`/`writer`, so the
    window can paint before SQLAlchemy is even imported.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        settings: Settings | None = None,
        roster: Roster | None = None,
        llm: LLMClient | None = None,
        provider_list: Providers | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self.roster = roster or load_user_roster()
        self.providers = provider_list if provider_list is not None else load_providers()
        install_local_models()  # `local/<name>` models: the embedded one and the person's GGUF files
        self._llm = llm
        self._store: Store | None = None
        self._writer: EventWriter | None = None
        self._run_tools: set[RunTools] = set()
        self.unsaved_interrupts: set[str] = set()
        """Runs stopped because the history could not be written, and not yet marked
        interrupted (that write failed too): resume() marks them first."""
        if store is not None:
            self._attach(store)

    @classmethod
    def open(cls, **kwargs: Any) -> RunService:
        """Open the user's database (migrating it) and recover crashed runs."""
        service = cls.deferred(**kwargs)
        service.open_store()
        return service

    @classmethod
    def deferred(cls, **kwargs: Any) -> RunService:
        """A service for the user's database, which it opens when first needed."""
        return cls(None, **kwargs)

    @property
    def ready(self) -> bool:
        """Whether the database is open."""
        return self._store is not None

    def open_store(self) -> None:
        """Open the user's database (migrating it) and recover crashed runs, once."""
        if self._store is not None:
            return
        from app.storage import open_database  # noqa: PLC0415 - SQLAlchemy: not before first paint

        store = open_database(db_path())
        try:
            store.mark_interrupted()
        except BaseException:
            store.close()  # nothing left holding the file (the window may restore a backup)
            raise
        self._attach(store)

    def _attach(self, store: Store) -> None:
        from app.storage import EventWriter  # noqa: PLC0415

        self._writer = EventWriter(store)
        self._store = store

    @property
    def store(self) -> Store:
        self.open_store()
        assert self._store is not None
        return self._store

    @property
    def writer(self) -> EventWriter:
        self.open_store()
        assert self._writer is not None
        return self._writer

    @property
    def llm(self) -> LLMClient:
        if self._llm is None:
            from agents.llm.client import LiteLLMClient  # noqa: PLC0415

            self._llm = LiteLLMClient()
        return self._llm

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._store is not None:
            self._store.close()

    async def aclose_llm(self) -> None:
        """Close the model client's connections and stop local models; call before the loop ends."""
        close_local_models()
        await self.close_run_tools()
        aclose = getattr(self._llm, "aclose", None)
        if aclose is not None:
            await aclose()

    # --- configuration ----------------------------------------------------------

    def config(self, model: str | None = None, planner_model: str | None = None,
               api_base: str | None = None, max_parallel: int | None = None,
               max_tokens: int | None = None) -> RunConfig:
        """Fill what the caller left out from the settings."""
        chosen = model or self.settings.default_model
        return RunConfig(
            model=chosen,
            planner_model=planner_model or (None if model else self.settings.planner_model),
            api_base=api_base or self.settings.api_base,
            max_parallel=max_parallel or self.settings.max_parallel,
            max_tokens=max_tokens or self.settings.max_tokens or None,
        )

    def model_settings(self, config: RunConfig, plan: Plan | None = None) -> ModelSettings:
        """The config plus how to reach every model the run may call (the plan's
        "role@model" voters and debaters too), keys read now."""
        refs = [config.model, config.planner_model or "", *self.settings.fallback_models]
        for role in self.roster:
            refs += [role.model or "", *role.fallbacks]
        for task in plan.iter_tasks() if plan is not None else ():
            refs += named_models(task.pattern)
        endpoints = registry.endpoints(refs, self.providers, api_base=config.api_base)
        return ModelSettings(
            model=config.model, planner_model=config.planner_model, api_base=config.api_base,
            api_key=endpoints[config.model].api_key, call_timeout=self.settings.call_timeout,
            idle_timeout=self.settings.idle_timeout or None, endpoints=endpoints,
            max_tokens=config.max_tokens,
            fallbacks=self.settings.fallback_models,
            too_small={ref: who for ref in dict.fromkeys(refs) if ref and (who := too_small_to_plan(ref))},
        )

    def planner(self, config: RunConfig) -> Planner:
        settings = self.model_settings(config)
        # a tiny local model's plans parse (grammar) but repeat ids or point
        # nowhere; asking it again rarely helps, tidying always does
        small = settings.orchestrator_model.startswith(f"{LOCAL}/")
        return Planner(self.llm, self.roster, settings, retry=self.retry_policy(),
                       fix=tidy_plan if small else None)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.settings.max_attempts)

    # --- runs ----------------------------------------------------------------------

    def create_run(self, project: str, goal: str, config: RunConfig,
                   constraints: Constraints | None = None, sinks: Sequence[EventSink] = (),
                   follow_up_of: str | None = None) -> str:
        """A new run (status planned); `constraints` (a budget, a deadline) are stored with it
        at once, and as its first event (`sinks` see it too); `follow_up_of` links it to the
        run whose result it follows up (kept in its settings)."""
        record = config.to_record() | ({"follow_up_of": follow_up_of} if follow_up_of else {})
        run_id = self.store.create_run(project, goal, record)
        if constraints is not None and not constraints.empty:
            from app.storage.limits import set_run_constraints  # noqa: PLC0415 - SQLAlchemy

            set_run_constraints(self.store, run_id, constraints)
            self._sink(sinks).emit(ConstraintsSet(run_id=run_id, budget_usd=constraints.budget_usd,
                                                  deadline=constraints.deadline, reason="intake"))
        return run_id

    def constraints(self, run_id: str) -> Constraints:
        """The budget and deadline stored with the run."""
        from app.storage.limits import run_constraints  # noqa: PLC0415 - SQLAlchemy

        try:
            return run_constraints(self.store, run_id)
        except KeyError:
            raise UnknownRun(f"no run with id {run_id!r} (see `troupe runs`)") from None

    def _constraints_for(self, run_id: str, given: Constraints | None,
                         sinks: Sequence[EventSink]) -> Constraints:
        """The stored constraints, or `given` ones stored now when they differ (the runner
        announces only those it has, so one cleared must be recorded here)."""
        stored = self.constraints(run_id)
        if given is None or given == stored:
            return stored
        from app.storage.limits import set_run_constraints  # noqa: PLC0415 - SQLAlchemy

        set_run_constraints(self.store, run_id, given)
        self._sink(sinks).emit(ConstraintsSet(run_id=run_id, budget_usd=given.budget_usd,
                                              deadline=given.deadline, reason="changed"))
        return given

    def spending_limits(self, run_id: str) -> tuple[float, MonthlyBudget | None]:
        """What the run spent so far (its budget counts it) and its project's monthly
        budget with what the project spent this month (None when it has none). Read
        from the history: flush the writer first."""
        from app.storage.limits import month_name, project_budget  # noqa: PLC0415 - SQLAlchemy

        run = self.get_run(run_id)
        found = project_budget(self.store, run.project)
        if found is None or found.monthly_budget_usd is None:
            return run.cost, None
        return run.cost, MonthlyBudget(project=run.project, limit=found.monthly_budget_usd,
                                       spent_before=found.spent, month=month_name())

    async def plan(self, run_id: str, goal: str, config: RunConfig,
                   sinks: Sequence[EventSink] = (), context: str = "") -> PlanResult:
        """Ask the orchestrator for a plan; it is stored as a plan version."""
        planner = self.planner(config)
        ctx = CallContext(run_id=run_id, sink=self._sink(sinks), purpose="plan")
        return await planner.plan(ctx, goal, context)

    async def replan(self, run_id: str, plan: Plan, comment: str, keep: set[str], config: RunConfig,
                     sinks: Sequence[EventSink] = ()) -> PlanResult:
        """Ask the orchestrator to revise `plan` after a comment; stored only once accepted."""
        ctx = CallContext(run_id=run_id, sink=self._sink(sinks), purpose="replan", stream_tokens=False)
        return await replan_plan(self.llm, self.roster, self.model_settings(config), ctx, plan,
                                 comment, keep, retry=self.retry_policy())

    def save_plan(self, run_id: str, plan: Plan, source: str) -> int:
        """Store a plan the person supplied or edited as a new version."""
        validate_plan(plan, self.roster.names)
        return self.store.add_plan_version(run_id, plan.to_dict(), source)

    # --- starting and resuming: the one way a run starts ------------------------------

    def estimate(self, plan: Plan, config: RunConfig, run_id: str | None = None) -> RunEstimate:
        """What `plan` is expected to cost with `config` (blocking: reads the history,
        may import litellm); for a run, with what it has spent so far (its planning)."""
        found = estimates.estimate(self, plan, config)
        return replace(found, spent_before=self.get_run(run_id).cost) if run_id else found

    def start(self, run_id: str, plan: Plan, config: RunConfig, gate: ApprovalGate,
              sinks: Sequence[EventSink] = (), *, retry: Iterable[str] = (),
              estimate: RunEstimate | None = None, constraints: Constraints | None = None) -> RunHandle:
        """A start of `plan` in run `run_id`; `await handle.run()` runs it.

        Tasks this run already finished keep their results when the plan still
        asks the same of them and of everything they depend on, unless the person
        asked for them again (`retry`): a model is never asked twice for the same
        finished work. Tasks with a pattern that run again replay the steps an
        earlier start finished (a review's drafts, a map's items) when those
        steps still hold (`kept_steps`). `constraints` (a budget, a deadline) replace
        those stored with the run; None keeps the stored ones (a resume)."""
        validate_plan(plan, self.roster.names)
        self._keep_plan(run_id, plan)
        # the first start's estimate is kept, to compare with what the run cost
        run = self.get_run(run_id)
        if run.estimate is None and run.status == RunStatus.PLANNED:
            self.store.save_estimate(run_id, (estimate or self.estimate(plan, config, run_id)).to_dict())
        prior = self.kept_results(run_id, plan, retry)
        steps = self.kept_steps(run_id, plan, prior)
        for tid in set(retry) & set(steps):  # asked for again: the person is asked again too
            steps[tid] = {key: step for key, step in steps[tid].items() if not _decision(key)}
        constraints = self._constraints_for(run_id, constraints, sinks)
        return RunHandle(self, RunStart(run_id, plan, config, gate, tuple(sinks), prior, steps, constraints))

    def resume(self, run_id: str, gate: ApprovalGate, sinks: Sequence[EventSink] = (), *,
               retry: Iterable[str] = (), constraints: Constraints | None = None) -> RunHandle:
        """Continue a run that stopped (interrupted, failed, cancelled, paused) with
        its latest plan and its own settings (and its stored budget and deadline,
        unless `constraints` replace them)."""
        self.store.mark_interrupted()
        if run_id in self.unsaved_interrupts:  # it stopped in this process: the owner is alive
            self.store.interrupt(run_id)
            self.unsaved_interrupts.discard(run_id)
        run = self.get_run(run_id)
        if not RunStatus(run.status).resumable:
            can = ", ".join(s.value for s in RunStatus if s.resumable)
            raise NotResumable(f"run {run_id} is {run.status}; only {can} runs can be resumed")
        version = self.store.latest_plan(run_id)
        if version is None:
            raise NotResumable(f"run {run_id} has no plan yet; start it again with `troupe run`")
        config = RunConfig.from_record(run.settings)
        return self.start(run_id, Plan.from_dict(version.plan), config, gate, sinks, retry=retry,
                          constraints=constraints)

    def _keep_plan(self, run_id: str, plan: Plan) -> None:
        """Store the plan about to run as the run's latest version, now: a resume must
        find it even if the history write of the run's start is lost (a full disk)."""
        data = json.loads(json.dumps(plan.to_dict()))
        latest = self.store.latest_plan(run_id)
        if latest is None or latest.plan != data:
            self.store.add_plan_version(run_id, data, "edited" if latest is not None else "file")

    def kept_results(self, run_id: str, plan: Plan, retry: Iterable[str] = ()) -> dict[str, PriorResult]:
        """Finished results of `run_id` that a start of `plan` keeps (see `start`)."""
        finished = self.store.finished_task_outputs(run_id)
        ran = self._plan_last_run(run_id)
        if not finished or ran is None:
            return {}
        keep = reusable_tasks(ran, plan, finished, retry)
        return {tid: PriorResult(output=f.output, attempts=f.attempts)
                for tid, f in finished.items() if tid in keep}

    def kept_steps(self, run_id: str, plan: Plan, kept: Iterable[str]) -> dict[str, dict[str, PriorStep]]:
        """The finished steps a start of `plan` replays, by task then step key: for each
        task with a pattern that runs again, what the run's latest start(s) of it
        finished, when they still hold (agents.plan.reuse.reusable_steps: not a
        re-run of a finished task, the same work, inputs kept)."""
        events = self.store.events(run_id)
        if not any(data.get("type") == StepFinished.kind for data in events):
            return {}
        finished = self.store.finished_task_outputs(run_id)
        return steps_to_replay([event_from_dict(_without_seq(d)) for d in events], plan, finished, kept)

    def _plan_last_run(self, run_id: str) -> Plan | None:
        """The plan as the run's latest start ran it (None before any start)."""
        for data in reversed(self.store.events(run_id)):
            if data.get("type") == RunStarted.kind:
                try:
                    return Plan.from_dict(data["plan"])
                except PlanError:
                    return None
        return None

    # --- what a RunHandle needs -------------------------------------------------------

    async def open_tools(self, run_id: str) -> RunTools:
        """The run's tools (its project's workspace and policy); MCP servers the roles
        name start now. Close with `close_run_tools` (aclose_llm closes any left)."""
        project = self.get_run(run_id).project
        tools = await open_run_tools(self.roster, project, self.store, run_id,
                                     allow_private_urls=self.settings.allow_private_urls,
                                     code_network=self.settings.code_network)
        self._run_tools.add(tools)
        return tools

    async def close_run_tools(self, tools: RunTools | None = None) -> None:
        """Stop `tools`' MCP servers (None: every run's still open)."""
        closing = [tools] if tools is not None else list(self._run_tools)
        for item in closing:
            self._run_tools.discard(item)
            await item.aclose()

    def get_run(self, run_id: str) -> RunDetail:
        try:
            return self.store.get_run(run_id)
        except KeyError:
            raise UnknownRun(f"no run with id {run_id!r} (see `troupe runs`)") from None

    def _sink(self, sinks: Sequence[EventSink]) -> EventSink:
        return FanOut([self.writer, *sinks])


def steps_to_replay(events: Iterable[RunEvent], plan: Plan, finished: Iterable[str],
                    kept: Iterable[str]) -> dict[str, dict[str, PriorStep]]:
    """The steps a new start of `plan` (keeping `kept`, after `finished`) replays, from a
    run's events: each start carries a task's steps over only where
    `reusable_steps` holds between it and the start before, as the start that
    was made then decided; a task whose steps a start did not carry starts over.
    A start that never reached a task (killed first, or still waiting) carried
    its steps all the same, so the steps of earlier starts count too."""
    steps: dict[str, dict[str, PriorStep]] = {}
    state = RunState()
    ran: Plan | None = None
    for event in events:
        if isinstance(event, RunStarted):
            new = _plan_or_none(event.plan)
            done = {tid for tid, t in state.tasks.items() if t.status is TaskStatus.COMPLETED}
            kept_then = set(event.kept) if event.kept else (done if event.resumed else set())
            carried = reusable_steps(ran, new, done, kept_then) if ran is not None and new is not None else set()
            steps = {tid: s for tid, s in steps.items() if tid in carried}
            ran = new
        elif isinstance(event, StepFinished):
            steps.setdefault(event.task_id, {})[event.step] = PriorStep(event.output, event.note)
        state.apply(event)
    if ran is None:
        return {}
    carried = reusable_steps(ran, plan, finished, kept)
    return {tid: s for tid, s in steps.items() if tid in carried and s}


def _decision(step_key: str) -> bool:
    """A person's answer to a conflict ("decision 1", "sub a · decision 2")."""
    return step_key.rpartition(" · ")[2].startswith("decision ")


def _plan_or_none(data: Any) -> Plan | None:
    try:
        return Plan.from_dict(data)
    except PlanError:
        return None


def _without_seq(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "seq"}
