"""Runs a plan as a DAG: concurrency limit, approvals, retries, pause, cancel.

Only leaf tasks call a model; a group's status follows its children. Every
change of a task is an event: the runner folds what it emits into its own
RunState (agents.run.state), the same fold storage and the UI use, so its
view of the run is by construction the one they see.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace

from agents.approvals import (
    BudgetQuestion,
    BudgetScope,
    DeadlineQuestion,
    Subject,
    TaskQuestion,
    TaskRef,
)
from agents.constraints import Constraints, MonthlyBudget
from agents.errors import LLMError, PlanValidationError
from agents.events import (
    ApprovalResolved,
    ConstraintsSet,
    DeliverableReady,
    RunEvent,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    RunWarning,
    TaskBlocked,
    TaskCancelled,
    TaskFailed,
    TaskFinished,
    TaskSkipped,
    TaskStarted,
)
from agents.llm.calls import CallContext, RetryPolicy
from agents.llm.pacing import pace
from agents.plan import Plan, Task, leaf_dependencies, validate_plan
from agents.plan.patterns import Route
from agents.plan.roster import Role, Roster
from agents.ports import (
    Action,
    ApprovalGate,
    ApprovalRequest,
    CallbackSink,
    Decision,
    EventSink,
    LLMClient,
    Message,
    Response,
    Usage,
    requested_event,
)
from agents.run.agent import Input, ModelSettings, ModelTurn, call_with_fallbacks, run_task_agent
from agents.run.state import NOT_CHOSEN, RunState, RunStatus, TaskState, TaskStatus
from agents.run.synthesizer import synthesize
from agents.run.team import (
    Answer,
    AskFn,
    PatternError,
    PriorStep,
    RouteChoice,
    TaskSkippedByPerson,
    TeamHost,
    chosen_label,
    chosen_route,
    contradiction,
    route_output,
    run_pattern,
    settle_contradiction,
    trusting,
)
from agents.tools.loop import ToolSetup, run_tool_loop


@dataclass(frozen=True)
class PriorResult:
    """A task finished by an earlier, interrupted process (from storage)."""

    output: str
    attempts: int = 1


@dataclass(frozen=True)
class RunOptions:
    """Knobs of one run."""

    max_parallel: int = 8
    """Model calls in flight at once."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    synthesize: bool = True
    """Compose a deliverable from the outputs at the end."""
    budget_usd: float = 0.0
    """Spending (US dollars) after which the run asks before any further model
    call; approving allows as much again. 0 means no limit."""
    tools: ToolSetup | None = None
    """The tools task agents may call (their roles name which); None: no tools."""
    constraints: Constraints = field(default_factory=Constraints)
    """The run's own budget (it replaces `budget_usd`) and deadline, set at intake."""
    spent_before: float = 0.0
    """What the run spent before this start (its planner, earlier starts): the run's
    budget counts it."""
    monthly: MonthlyBudget | None = None
    """The project's budget for this month; None: none."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    status: RunStatus
    """COMPLETED, FAILED or CANCELLED."""
    deliverable: str | None
    usage: Usage
    cost: float
    error: str = ""
    partial: bool = False
    """The deliverable covers only the tasks that finished (others were rejected)."""


class Runner:
    """Executes one plan. Create a new Runner for every run or resume."""

    def __init__(
        self,
        *,
        run_id: str,
        plan: Plan,
        roster: Roster,
        llm: LLMClient,
        settings: ModelSettings,
        sink: EventSink,
        gate: ApprovalGate,
        options: RunOptions | None = None,
        prior: Mapping[str, PriorResult] | None = None,
        prior_steps: Mapping[str, Mapping[str, PriorStep]] | None = None,
    ) -> None:
        validate_plan(plan, roster.names)
        self.run_id = run_id
        self.plan = plan
        self._roster = roster
        self._llm = llm
        self._settings = settings
        self._sink = sink
        self._gate = gate
        self._options = options or RunOptions()
        self._prior = dict(prior or {})
        self._prior_steps = dict(prior_steps or {})
        """Steps of pattern tasks an earlier start finished (by task id, then step key)."""
        self._not_chosen: set[str] = set()
        """Tasks a route did not choose: skipped, and as good as done for their dependents."""
        self._tasks = {t.id: t for t in plan.iter_tasks()}
        self._parents = plan.parents()
        self._deps = leaf_dependencies(plan)
        self.state = RunState(run_id=run_id, goal=plan.goal)
        """The run so far: every event the runner emits is folded in here first."""
        self.state.load_plan(plan.to_dict())
        self._attempts: dict[str, int] = {}
        """Model call attempts of each running task (its TaskFailed reports them)."""
        self._slots = asyncio.Semaphore(max(1, self._options.max_parallel))
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._done: asyncio.Queue[str] = asyncio.Queue()
        self._cancelled = False
        constraints = self._options.constraints
        self._budget = (constraints.budget_usd if constraints.budget_usd is not None
                        else self._options.budget_usd)
        self._limit = self._budget
        monthly = self._options.monthly
        self._month_limit = monthly.limit if monthly is not None else 0.0
        self._budget_lock = asyncio.Lock()
        self._deadline = constraints.deadline
        self._on_time = asyncio.Event()
        """Cleared while the deadline question waits: no new model call starts."""
        self._on_time.set()
        self._deadline_stop = False
        """The person (or --yes) stopped the run at its deadline: what finished is written up."""
        self._began = time.time()
        self._finished_here = 0
        """Leaf tasks this start finished (for the pace at which it goes)."""
        self._pace_warned = False
        self._stop_reason = STOPPED_BY_PERSON
        self._metered = CallbackSink(self._emit)

    # --- control (call from the same loop) ---------------------------------

    @property
    def paused(self) -> bool:
        return not self._unpaused.is_set()

    def pause(self) -> None:
        """Finish calls in flight, start no new ones until resume()."""
        if not self.paused:
            self._unpaused.clear()
            self._emit(RunPaused(run_id=self.run_id))

    def resume(self) -> None:
        if self.paused:
            self._unpaused.set()
            self._emit(RunResumed(run_id=self.run_id))

    def cancel(self) -> None:
        """Stop everything; unfinished tasks end as cancelled."""
        self._cancelled = True
        self._unpaused.set()
        for worker in self._workers.values():
            worker.cancel()

    def cancel_task(self, task_id: str) -> None:
        """Stop one task (a leaf, or every leaf of a group); dependents are blocked."""
        for leaf_id in self._leaf_ids(task_id):
            worker = self._workers.get(leaf_id)
            if worker is not None:
                worker.cancel()
            elif not self.states[leaf_id].status.terminal:
                self._end(TaskCancelled(run_id=self.run_id, task_id=leaf_id))

    # --- the run ------------------------------------------------------------

    @property
    def states(self) -> dict[str, TaskState]:
        """Each task's state, by id (plan order)."""
        return self.state.tasks

    async def run(self) -> RunOutcome:
        self._emit(
            RunStarted(
                run_id=self.run_id, goal=self.plan.goal, plan=self.plan.to_dict(),
                resumed=bool(self._prior), kept=sorted(self._prior),
            )
        )
        if not self._options.constraints.empty:
            c = self._options.constraints
            self._emit(ConstraintsSet(run_id=self.run_id, budget_usd=c.budget_usd, deadline=c.deadline))
        self._warn_about_tools()
        watch = asyncio.create_task(self._watch_deadline()) if self._deadline is not None else None
        try:
            try:
                await self._schedule()
            finally:
                workers = list(self._workers.values())
                for worker in workers:
                    worker.cancel()
                # the driver was cancelled (window closed, Ctrl+C): let each task record
                # its end before the caller flushes the history and closes the tools
                await asyncio.gather(*workers, return_exceptions=True)
            outcome = await self._finish()  # the synthesis waits for a deadline question's answer
        finally:
            if watch is not None:
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
        self._emit(
            RunFinished(
                run_id=self.run_id, status=outcome.status,
                prompt_tokens=outcome.usage.prompt_tokens,
                completion_tokens=outcome.usage.completion_tokens,
                cost=outcome.cost, error=outcome.error, partial=outcome.partial,
            )
        )
        return outcome

    def _warn_about_tools(self) -> None:
        """What went wrong while the run's tools were gathered, for the person to see."""
        tools = self._options.tools
        for note in tools.notices if tools is not None else ():
            self._emit(RunWarning(run_id=self.run_id, message=note, source="tools"))

    async def _schedule(self) -> None:
        waiting = self._waiting = {tid: set(deps) for tid, deps in self._deps.items()}
        dependents: dict[str, list[str]] = {tid: [] for tid in waiting}
        self._dependents = dependents
        for tid, deps in waiting.items():
            for dep in deps:
                dependents[dep].append(tid)
        for tid, prior in self._prior.items():
            if tid in waiting:
                self._restore(tid, prior)
        for tid, prior in self._prior.items():  # a route kept from before keeps its choice
            task = self._tasks.get(tid)
            if task is not None and isinstance(task.pattern, Route):
                self._skip_not_chosen(task, chosen_label(prior.output, task.pattern))
        ready = [tid for tid, deps in waiting.items() if self._startable(tid, deps)]
        for tid in ready:
            self._start(tid)
        # Workers report on a queue rather than asyncio.wait() over all of
        # them, which would cost O(n) per completion at 300+ tasks.
        while self._workers:
            tid = await self._done.get()
            del self._workers[tid]
            self._after(tid, waiting, dependents)

    def _startable(self, tid: str, deps: set[str]) -> bool:
        # Running counts too: dependencies finishing in the same loop turn each report
        # here after all of them are COMPLETED, and must not start the task twice.
        if self.states[tid].status.terminal or tid in self._workers:
            return False
        return all(self.states[d].status is TaskStatus.COMPLETED or d in self._not_chosen for d in deps)

    def _after(self, tid: str, waiting: dict[str, set[str]], dependents: dict[str, list[str]]) -> None:
        """React to a finished leaf: start what became ready, block what cannot run."""
        status = self.states[tid].status
        for dep_id in dependents[tid]:
            if self.states[dep_id].status.terminal:
                continue
            if status is TaskStatus.COMPLETED or tid in self._not_chosen:
                stopped = self._cancelled or self._deadline_stop
                if not stopped and self._startable(dep_id, waiting[dep_id]):
                    self._start(dep_id)
            else:
                self._block(dep_id, tid, dependents)

    def _block(self, tid: str, because: str, dependents: dict[str, list[str]]) -> None:
        if self.states[tid].status.terminal:
            return
        self._end(TaskBlocked(run_id=self.run_id, task_id=tid, because=because))
        for dep_id in dependents[tid]:
            self._block(dep_id, because, dependents)

    def _start(self, tid: str) -> None:
        worker = self._workers[tid] = asyncio.create_task(self._run_leaf(tid), name=tid)
        # not a `finally` in the worker: one cancelled before its first step never runs
        # its body (a stop at a deadline that came before it began), yet must be reported
        worker.add_done_callback(lambda _worker: self._done.put_nowait(tid))

    # --- one leaf --------------------------------------------------------------

    async def _run_leaf(self, tid: str) -> None:
        task: Task | None = self._tasks[tid]
        try:
            if task is not None and task.requires_approval:
                task = await self._approve(task)
            if task is None:
                return
            if task.pattern is not None:  # its steps take the slots, one per model call
                await self._call_team(task)
                return
            await self._call_agent(task)
        except asyncio.CancelledError:
            self._end(TaskCancelled(run_id=self.run_id, task_id=tid))
        except TaskSkippedByPerson as exc:
            self._end(TaskSkipped(run_id=self.run_id, task_id=tid, reason=str(exc)))
        except (LLMError, PatternError) as exc:
            self._fail(tid, str(exc))
        except Exception as exc:  # a bug or a broken gate must not kill the run
            self._fail(tid, f"{type(exc).__name__}: {exc}")

    def _fail(self, tid: str, error: str) -> None:
        attempts = self._attempts.get(tid, self.states[tid].attempts)
        self._end(TaskFailed(run_id=self.run_id, task_id=tid, error=error, attempts=attempts))

    async def _approve(self, task: Task) -> Task | None:
        """Ask the gate; returns the task to run, or None when it was settled here."""
        request = ApprovalRequest(
            request_id=uuid.uuid4().hex[:12], run_id=self.run_id, task_id=task.id,
            subject=Subject.TASK, title=task.title, task=self._task_question(task),
        )
        self._emit(requested_event(request))
        decision = await self._gate.decide(request)
        self._emit(
            ApprovalResolved(
                run_id=self.run_id, request_id=request.request_id, task_id=task.id,
                action=decision.action.value, text=decision.text,
            )
        )
        if decision.action is Action.REJECT:
            reason = decision.text.strip()
            self._end(TaskSkipped(run_id=self.run_id, task_id=task.id,
                                  reason=REJECTED + (f": {reason}" if reason else "")))
            return None
        if decision.action is Action.OVERRIDE and isinstance(task.pattern, Route):
            self._route_by_hand(task, task.pattern, decision.text)
            return None
        if decision.action is Action.OVERRIDE:
            now = time.time()
            self._complete(task.id, decision.text, attempts=0, started=now, source="override")
            return None
        if decision.action is Action.EDIT:
            return replace(task, instructions=decision.text)
        return task

    def _route_by_hand(self, task: Task, route: Route, written: str) -> None:
        """The person wrote a router's answer: it must name a route, which is then taken."""
        labels = [label for label, _ in route.routes]
        label = chosen_route(written, labels)
        if label is None:
            self._fail(task.id, f"the answer you wrote names no route (one of: {', '.join(labels)})")
            return
        target = dict(route.routes)[label]
        self._skip_not_chosen(task, label)
        output = route_output(RouteChoice(label, target, "written by the person"), self._tasks[target].title)
        self._complete(task.id, output, attempts=0, started=time.time(), source="override")

    def _task_question(self, task: Task) -> TaskQuestion:
        inputs = tuple(TaskRef(i.task_id, i.title) for i in self._inputs(task.id))
        return TaskQuestion(agent=task.agent, instructions=task.instructions.strip(), inputs=inputs)

    async def _call_agent(self, task: Task) -> None:
        inputs = self._inputs(task.id)
        ctx = CallContext(
            run_id=self.run_id, sink=self._metered, task_id=task.id, agent=task.agent,
            on_attempt=lambda n: self._attempts.__setitem__(task.id, n),
        )
        async with self._slot():
            self._emit(TaskStarted(run_id=self.run_id, task_id=task.id, agent=task.agent, attempt=1))
            started = self.states[task.id].started
            self._mark_groups_started(task.id)
            response, attempts = await self._single(task, inputs, ctx)
        text, usage, cost = response.text, response.usage, response.cost
        found = contradiction(text) if len(inputs) > 1 else None
        if found is not None:  # the person settles it (without a slot), recorded as a step
            settled = await settle_contradiction(self._host(task, inputs), *found)
            if isinstance(settled, Input):
                async with self._slot():
                    again, more = await self._single(trusting(task, settled), inputs, ctx)
                text, usage, cost, attempts = again.text, usage + again.usage, cost + again.cost, attempts + more
                text = (contradiction(text) or ("", text))[1]
            else:
                text = settled
        # the run's spend already counted each of its calls; this is the task's own
        self._complete(task.id, text, attempts=attempts, started=started, usage=usage, cost=cost)

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """One of the run's slots, once the run is not paused (hundreds of ready tasks
        start a slice at a time, between UI events)."""
        await pace()
        await self._unpaused.wait()
        async with self._slots:
            yield

    async def _single(self, task: Task, inputs: list[Input], ctx: CallContext) -> tuple[Response, int]:
        return await run_task_agent(
            self._llm, self._settings, self._roster.get(task.agent), self.plan.goal, task,
            inputs, ctx, self._options.retry, self._before_call, tools=self._options.tools, gate=self._gate,
        )

    # --- a task with a pattern: several agents, step by step (agents/run/team.py) ------

    async def _call_team(self, task: Task) -> None:
        assert task.pattern is not None
        self._emit(TaskStarted(run_id=self.run_id, task_id=task.id, agent=task.agent, attempt=1))
        started = self.states[task.id].started
        self._mark_groups_started(task.id)
        host = self._host(task, self._inputs(task.id))
        result = await run_pattern(host, task.pattern)
        if isinstance(result, RouteChoice):
            assert isinstance(task.pattern, Route)
            self._skip_not_chosen(task, result.label)
            result = route_output(result, self._tasks[result.target].title)
        self._complete(task.id, result, attempts=1, started=started, usage=host.usage, cost=host.cost)

    def _host(self, task: Task, inputs: list[Input]) -> TeamHost:
        """What a pattern (or a conflict about a task's inputs) gets of the run."""
        host = TeamHost(
            run_id=self.run_id, goal=self.plan.goal, task=task, inputs=inputs,
            roles=self._roster.get, models=self._models, ask=self._ask_step(task), emit=self._emit,
            decide=self._gate.decide, prior=self._prior_steps.get(task.id, {}),
            titles={t.id: t.title for t in self._tasks.values()}, team=self._roster.workers(),
            warn=lambda message: self._emit(RunWarning(run_id=self.run_id, message=message,
                                                       source="pattern", task_id=task.id)),
        )
        return host

    def _models(self, role: Role, model: str | None) -> tuple[str, ...]:
        """A role's models; "role@model" (a voter, a debater) puts that model first."""
        chain = self._settings.models_for(role)
        return (model, *(m for m in chain if m != model)) if model else chain

    def _ask_step(self, task: Task) -> AskFn:
        async def ask(role: Role, models: tuple[str, ...], messages: list[Message], step: str,
                      started: Callable[[], None], stream: bool) -> Answer:
            # steps side by side (a map's items, a vote's answers) would interleave in the live
            # output, and a map's hundreds cost the window for nothing: only lone steps stream
            ctx = CallContext(run_id=self.run_id, sink=self._metered, task_id=task.id, step=step,
                              stream_tokens=stream, agent=role.name)
            await pace()
            await self._unpaused.wait()
            async with self._slots:
                started()
                tools = self._options.tools
                if tools is not None and tools.registry.specs(role.tools):
                    turn = ModelTurn(self._llm, self._settings, role, ctx, self._options.retry, self._before_call,
                                     models)
                    response, _ = await run_tool_loop(turn.call, role, messages, tools, ctx, self._gate)
                else:
                    response, _ = await call_with_fallbacks(
                        self._llm, self._settings, models, messages, ctx, self._options.retry,
                        temperature=role.temperature, before_attempt=self._before_call)
            return Answer(response.text, response.usage, response.cost)
        return ask

    def _skip_not_chosen(self, router: Task, label: str | None) -> None:
        """Skip the routes a router did not take; their dependents go on without them."""
        assert isinstance(router.pattern, Route)
        if label is None:  # the choice cannot be read (an old record): skip nothing
            return
        chosen = dict(router.pattern.routes).get(label)
        for _name, target in router.pattern.routes:
            if target == chosen or target not in self._tasks:  # two labels may lead to one task
                continue
            reason = f"{NOT_CHOSEN}“{router.title}” (it chose {label})"
            for leaf in self._leaf_ids(target):
                if self.states[leaf].status.terminal or leaf in self._not_chosen:
                    continue
                self._not_chosen.add(leaf)
                self._end(TaskSkipped(run_id=self.run_id, task_id=leaf, reason=reason))
                self._after(leaf, self._waiting, self._dependents)

    def _inputs(self, tid: str) -> list[Input]:
        """Outputs of the tasks this one (or an ancestor) explicitly depends on."""
        dep_ids: list[str] = []
        node: str | None = tid
        while node is not None:
            dep_ids += self._tasks[node].depends_on
            node = self._parents[node]
        return [
            Input(d, self._tasks[d].title, self.states[d].output)
            for d in dict.fromkeys(dep_ids)
            if self.states[d].status is TaskStatus.COMPLETED
        ]

    # --- state changes: each is an event, folded into self.state --------------------

    def _emit(self, event: RunEvent) -> None:
        self.state.apply(event)
        self._sink.emit(event)

    def _restore(self, tid: str, prior: PriorResult) -> None:
        """A task finished by an earlier process: known, not announced again."""
        self.state.restore(tid, prior.output, prior.attempts)
        self._settle_groups(tid, emit=False)

    def _complete(self, tid: str, output: str, *, attempts: int, started: float | None,
                  usage: Usage | None = None, cost: float = 0.0, source: str = "model") -> None:
        usage = usage or Usage()
        now = time.time()
        self._emit(
            TaskFinished(
                run_id=self.run_id, task_id=tid, output=output, attempts=attempts,
                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                cost=cost, started=started or now, finished=now, source=source,
                waited=round(self.state.task(tid).waited, 3),
            )
        )
        self._settle_groups(tid, emit=True)
        self._finished_here += 1
        self._check_pace()

    def _end(self, event: TaskFailed | TaskBlocked | TaskSkipped | TaskCancelled) -> None:
        """A leaf ends other than completed; its groups may end with it."""
        self._emit(event)
        self._settle_groups(event.task_id, emit=True)

    def _mark_groups_started(self, tid: str) -> None:
        parent = self._parents[tid]
        while parent is not None:
            if self.states[parent].status is TaskStatus.PENDING:
                group = self._tasks[parent]
                self._emit(TaskStarted(run_id=self.run_id, task_id=parent, agent=group.agent, attempt=1))
            parent = self._parents[parent]

    def _settle_groups(self, tid: str, *, emit: bool) -> None:
        """Finish every ancestor group whose children are now all terminal."""
        parent = self._parents[tid]
        while parent is not None:
            group = self._tasks[parent]
            kids = [self.states[c.id] for c in group.children]
            if not all(k.status.terminal for k in kids) or self.states[parent].status.terminal:
                return
            event = self._group_end(group)
            if emit:
                self._emit(event)
            else:  # restoring a resumed run's groups: folded, not announced again
                self.state.apply(event)
            parent = self._parents[parent]

    def _group_end(self, group: Task) -> TaskFinished | TaskFailed | TaskSkipped:
        """How a group whose children all ended ends."""
        kids = [self.states[c.id] for c in group.children]
        bad = [k.task_id for k in kids if k.status is not TaskStatus.COMPLETED]
        now = time.time()
        if bad and all(k.status is TaskStatus.SKIPPED and k.error.startswith(NOT_CHOSEN) for k in kids):
            return TaskSkipped(run_id=self.run_id, task_id=group.id, reason=kids[0].error)  # a route's
        if bad:
            return TaskFailed(run_id=self.run_id, task_id=group.id, attempts=0,
                              error="sub-tasks did not complete: " + ", ".join(bad))
        output = "\n\n".join(f"## {c.title}\n\n{k.output.strip()}" for c, k in zip(group.children, kids, strict=True))
        started = self.states[group.id].started
        return TaskFinished(
            run_id=self.run_id, task_id=group.id, output=output, attempts=0,
            prompt_tokens=sum(k.prompt_tokens for k in kids),
            completion_tokens=sum(k.completion_tokens for k in kids),
            cost=sum(k.cost for k in kids), started=started or now, finished=now, source="group",
        )

    def _leaf_ids(self, task_id: str) -> list[str]:
        task = self._tasks[task_id]
        if not task.is_group:
            return [task_id]
        return [t.id for t in Plan(goal="", tasks=task.children).iter_tasks() if not t.is_group]


    # --- budget and deadline ------------------------------------------------------------

    async def _before_call(self) -> None:
        """Every model call waits here: for resume() when paused, for the answer to the
        deadline question, and for the person's answer once a budget is spent."""
        await self._unpaused.wait()
        await self._on_time.wait()
        if self._over_budget():
            await self._ask_about_budget()
        if self._over_month():
            await self._ask_about_month()

    def _spent(self) -> float:
        """The run's spend: before this start, and each call of it as it finished."""
        return self._options.spent_before + self.state.cost

    def _over_budget(self) -> bool:
        # each call's cost joins the fold as it finishes, so a long tool loop
        # meets the budget before its next call
        return self._limit > 0 and self._spent() >= self._limit

    def _over_month(self) -> bool:
        monthly = self._options.monthly
        return monthly is not None and self._month_limit > 0 and self._month_spent() >= self._month_limit

    def _month_spent(self) -> float:
        monthly = self._options.monthly
        return (monthly.spent_before if monthly is not None else 0.0) + self.state.cost

    async def _ask_about_budget(self) -> None:
        async with self._budget_lock:  # one question, however many calls are waiting
            if not self._over_budget() or self._cancelled:
                return
            question = BudgetQuestion(spent=self._spent(), limit=self._limit, step=self._budget)
            stop = f"stopped at the {_dollars(self._limit)} budget"
            await self._ask_budget(question, f"The {_dollars(self._limit)} budget is spent", stop)
            self._limit = self._spent() + self._budget

    async def _ask_about_month(self) -> None:
        monthly = self._options.monthly
        async with self._budget_lock:
            if monthly is None or not self._over_month() or self._cancelled:
                return
            question = BudgetQuestion(spent=self._month_spent(), limit=self._month_limit, step=monthly.step,
                                      scope=BudgetScope.PROJECT_MONTH, project=monthly.project,
                                      month=monthly.month)
            title = (f"Project “{monthly.project}” has spent its {_dollars(monthly.limit)} monthly budget"
                     + (f" for {monthly.month}" if monthly.month else ""))
            stop = f"stopped at the project's {_dollars(monthly.limit)} monthly budget"
            await self._ask_budget(question, title, stop)
            self._month_limit = self._month_spent() + monthly.step

    async def _ask_budget(self, question: BudgetQuestion, title: str, stop_reason: str) -> None:
        """Ask; returns when the person allows more, cancels the run when they stop it."""
        request = ApprovalRequest(
            request_id=uuid.uuid4().hex[:12], run_id=self.run_id, task_id="", subject=Subject.BUDGET,
            title=title, budget=question,
        )
        decision = await self._ask(request)
        if decision.action is Action.REJECT:
            self._stop_reason = stop_reason
            self.cancel()
            raise asyncio.CancelledError

    async def _ask(self, request: ApprovalRequest) -> Decision:
        self._emit(requested_event(request))
        decision = await self._gate.decide(request)
        self._emit(ApprovalResolved(run_id=self.run_id, request_id=request.request_id,
                                    task_id=request.task_id, action=decision.action.value, text=decision.text))
        return decision

    async def _watch_deadline(self) -> None:
        """At the deadline, ask (continue, a new deadline, or stop and write up); sleep till then."""
        while self._deadline is not None and not self._cancelled and not self._deadline_stop:
            delay = self._deadline - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            if all(t.status.terminal for t in self.state.leaves()):
                return  # nothing left to stop: the write-up is under way
            await self._ask_about_deadline(self._deadline)

    async def _ask_about_deadline(self, deadline: float) -> None:
        self._on_time.clear()  # calls in flight finish; no new one starts until the answer
        try:
            counts = self.state.counts()
            running = sum(1 for t in self.state.leaves() if t.status is TaskStatus.RUNNING)
            request = ApprovalRequest(
                request_id=uuid.uuid4().hex[:12], run_id=self.run_id, task_id="", subject=Subject.DEADLINE,
                title=f"The deadline ({_clock(deadline)}) has come",
                deadline=DeadlineQuestion(deadline=deadline, done=counts.done, total=counts.total,
                                          running=running),
            )
            try:
                decision = await self._ask(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no one could answer (no terminal): stopping is the safe side
                self._emit(RunWarning(run_id=self.run_id, source="deadline",
                                      message=f"the deadline question got no answer ({exc}); stopped there"))
                decision = Decision(Action.REJECT)
            if decision.action is Action.REJECT:
                self._stop_at_deadline(deadline)
            else:
                self._deadline = _new_deadline(decision)
                reason = "a new deadline" if self._deadline is not None else "no deadline"
                self._emit(ConstraintsSet(run_id=self.run_id, budget_usd=self._options.constraints.budget_usd,
                                          deadline=self._deadline, reason=reason))
                self._pace_warned = False
        finally:
            self._on_time.set()

    def _stop_at_deadline(self, deadline: float) -> None:
        """Stop new work and cancel what runs; `_finish` writes up what is finished."""
        self._deadline_stop = True
        self._stop_reason = f"stopped at the deadline ({_clock(deadline)})"
        for worker in self._workers.values():
            worker.cancel()

    def _check_pace(self) -> None:
        """Warn once when, at the pace this start goes, the run would end after its deadline."""
        if self._deadline is None or self._pace_warned or self._finished_here == 0:
            return
        remaining = sum(1 for t in self.state.leaves() if not t.status.terminal)
        if remaining == 0:
            return
        now = time.time()
        needed = (now - self._began) / self._finished_here * remaining
        if now + needed <= self._deadline:
            return
        self._pace_warned = True
        left = max(0.0, self._deadline - now)
        message = (f"at this pace the run needs about {_span(needed)} more for its {remaining} unfinished "
                   f"task(s); the deadline ({_clock(self._deadline)}) is {_span(left)} away")
        self._emit(RunWarning(run_id=self.run_id, message=message, source="deadline"))

    # --- the end ---------------------------------------------------------------

    async def _finish(self) -> RunOutcome:
        leaves = list(self._deps)
        if self._cancelled:
            for tid in leaves:
                if not self.states[tid].status.terminal:
                    self._end(TaskCancelled(run_id=self.run_id, task_id=tid))
            return self._outcome(RunStatus.CANCELLED, None, self._stop_reason)
        if self._deadline_stop:
            for tid in leaves:
                if not self.states[tid].status.terminal:
                    self._end(TaskCancelled(run_id=self.run_id, task_id=tid))
        done = [t for t in leaves if self.states[t].status is TaskStatus.COMPLETED]
        unfinished = [t for t in leaves if t not in done and t not in self._not_chosen]
        if failed := [t for t in unfinished if not self._left_out_by_person(t)]:
            return self._outcome(RunStatus.FAILED, None,
                                 f"{len(failed)} task(s) did not complete: {', '.join(failed[:10])}")
        if unfinished and not done:
            why = f"{self._stop_reason}, before any task finished" if self._deadline_stop else "every task was rejected"
            return self._outcome(RunStatus.CANCELLED, None, why)
        said = self._stop_reason if self._deadline_stop else ""  # why the result is partial
        if not self._options.synthesize:
            return self._outcome(RunStatus.COMPLETED, None, said, partial=bool(unfinished))
        try:
            await self._before_call()
        except asyncio.CancelledError:
            return self._outcome(RunStatus.CANCELLED, None, self._stop_reason)
        try:
            deliverable = await self._synthesize(unfinished)
        except LLMError as exc:
            return self._outcome(RunStatus.FAILED, None, f"the deliverable could not be written: {exc}")
        self._emit(DeliverableReady(run_id=self.run_id, markdown=deliverable, partial=bool(unfinished)))
        return self._outcome(RunStatus.COMPLETED, deliverable, said, partial=bool(unfinished))

    def _left_out_by_person(self, tid: str) -> bool:
        """Skipped (the person rejected it), cut off at the deadline the person stopped
        the run at, or blocked only by such tasks."""
        state = self.states[tid]
        if state.status is TaskStatus.SKIPPED:
            return True
        if self._deadline_stop and state.status is TaskStatus.CANCELLED:
            return True
        if state.status is not TaskStatus.BLOCKED:
            return False
        deps = self._deps[tid]
        return all(self.states[d].status is TaskStatus.COMPLETED or self._left_out_by_person(d)
                   for d in deps)

    async def _synthesize(self, unfinished: list[str]) -> str:
        ctx = CallContext(run_id=self.run_id, sink=self._metered, purpose="synthesis")
        missing = {tid: self._why_not_done(tid) for tid in unfinished}
        response = await synthesize(
            self._llm, self._settings, self._roster, self.plan,
            {tid: s.output for tid, s in self.states.items() if s.status is TaskStatus.COMPLETED},
            ctx, self._options.retry, missing=missing,
        )
        return response.text

    def _why_not_done(self, tid: str) -> str:
        """One line for the synthesis: the task and why it was left out, in words."""
        title, state = self._tasks[tid].title, self.states[tid]
        if state.status is TaskStatus.BLOCKED:
            needed = [self._tasks[d].title for d in sorted(self._deps[tid])
                      if self.states[d].status is not TaskStatus.COMPLETED]
            return f"{title}: not done, because it needed “{'”, “'.join(needed)}”, which was left out"
        if state.status is TaskStatus.CANCELLED and self._deadline_stop:
            return f"{title}: not done by the deadline (the run was stopped there)"
        return f"{title}: {state.error}"

    def _outcome(self, status: RunStatus, deliverable: str | None, error: str = "", *,
                 partial: bool = False) -> RunOutcome:
        usage = Usage(self.state.prompt_tokens, self.state.completion_tokens)
        return RunOutcome(status=status, deliverable=deliverable, usage=usage, cost=self.state.cost,
                          error=error, partial=partial)


STOPPED_BY_PERSON = "cancelled by the person"
"""A run's error when the person cancelled it."""
REJECTED = "rejected by the person"
"""A rejected task's skip reason (then ": <the person's reason>", if they gave one)."""


def _dollars(amount: float) -> str:
    return f"${amount:.2f}" if amount >= 0.1 else f"${amount:.4f}"


def _clock(when: float) -> str:
    """A time of day as the person's clock shows it ("14:30"; with the date when not today)."""
    local = time.localtime(when)
    if time.strftime("%Y-%m-%d", local) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def _span(seconds: float) -> str:
    """A duration in words: "40 s", "12 min", "2 h 5 min"."""
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _new_deadline(decision: Decision) -> float | None:
    """The deadline a person's "continue" sets: EDIT's text (epoch seconds), else none."""
    if decision.action is Action.EDIT and decision.text.strip():
        try:
            return float(decision.text)
        except ValueError:
            return None
    return None


__all__ = [
    "PlanValidationError",
    "PriorResult",
    "RunOptions",
    "RunOutcome",
    "Runner",
]
