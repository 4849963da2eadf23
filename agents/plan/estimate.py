"""What a plan will cost, before it runs: an expected figure and a range, per task and in total.

Each leaf task becomes the model calls it will make (its pattern decides how
many and by which roles: a review's drafts and reviews, a vote's voters and
judge, a debate's rounds, a map's items, a delegate's sub-tasks). A call's
prompt is counted from what it is sent (role prompt, goal, instructions, tool
specs, the expected output of the tasks it builds on) and its answer from what
calls of that role and pattern answered before in this install (`OutputGuess`,
from history), or a stated default. Prices come from `price_of` (the person's,
free on this machine, litellm's map); a task whose model has no known price is
named in `unpriced` and left out of the totals rather than counted as $0.

A map's item count is unknown until its input exists: its estimate is per item,
with the total assuming `MAP_ITEMS_GUESS` items (low: one, high: `max_items`).
Route targets: only one runs, so the low end counts the cheapest, the high end
the dearest and the expected figure their average. Groups call no model.

Pure: no I/O, no litellm; the app layer supplies history and prices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agents.llm.prices import Price
from agents.plan.model import Plan, Task, leaf_dependencies
from agents.plan.patterns import Debate, Delegate, Map, PatternKind, Review, Route, Vote
from agents.plan.roster import Role
from agents.ports import Usage

__all__ = [
    "DEFAULT_OUTPUT",
    "CallShape",
    "CostRange",
    "SYNTHESIS",
    "OutputGuess",
    "RunEstimate",
    "TaskEstimate",
    "estimate_plan",
]

CHARS_PER_TOKEN = 4.0
"""A rough tokens-from-text rate (English prose, most tokenizers)."""
TOOL_SPEC_TOKENS = 90
"""Prompt tokens one tool's JSON spec adds to every call that offers it."""
MAP_ITEMS_GUESS = 10
"""Items a map is assumed to have for the expected total (its input does not exist yet)."""
SYNTHESIS = "synthesis"
"""The role name `guesses` is asked for the deliverable's synthesis call."""


@dataclass(frozen=True)
class OutputGuess:
    """Completion tokens one call answers with: expected and a low-high range."""

    expected: float
    """Mean completion tokens per call."""
    low: float
    """A low but usual answer (about the 20th percentile)."""
    high: float
    """A long but usual answer (about the 80th percentile)."""
    samples: int = 0
    """How many recorded calls it comes from; 0: the stated default."""
    calls_per_task: float = 1.0
    """Calls a single task of this role made (tool loops make several)."""


DEFAULT_OUTPUT = OutputGuess(expected=500, low=150, high=1200)
"""Used when this install has no history for a role and pattern: ~500 tokens an answer."""


@dataclass(frozen=True)
class CostRange:
    """Dollars: a low and a high end around the expected figure."""

    low: float = 0.0
    expected: float = 0.0
    high: float = 0.0

    def __add__(self, other: CostRange) -> CostRange:
        return CostRange(self.low + other.low, self.expected + other.expected, self.high + other.high)

    def times(self, low: float, expected: float, high: float) -> CostRange:
        return CostRange(self.low * low, self.expected * expected, self.high * high)

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "expected": self.expected, "high": self.high}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostRange:
        return cls(float(data.get("low", 0)), float(data.get("expected", 0)), float(data.get("high", 0)))


@dataclass(frozen=True)
class CallShape:
    """Calls of one role a task makes: how many (low, expected, high) and what each is sent."""

    role: str
    model: str
    """The model reference the call goes to."""
    count: tuple[float, float, float]
    """Calls: at least, expected, at most."""
    prompt_tokens: float
    """Tokens each call is sent, expected."""
    context_answers: float = 0.0
    """Answers of the same pattern each call also reads (a review reads the draft)."""


@dataclass(frozen=True)
class TaskEstimate:
    """One task's expected calls, tokens and cost."""

    task_id: str
    title: str
    calls: tuple[float, float, float]
    """Model calls: at least, expected, at most."""
    usage: Usage
    """Expected tokens in and out."""
    cost: CostRange | None
    """None: a model it calls has no known price."""
    per_item: CostRange | None = None
    """A map: the cost of one item (the total assumes MAP_ITEMS_GUESS items)."""
    max_items: int = 0
    """A map's cap on items."""
    one_of: str = ""
    """A route's target: the route task that picks one of its targets."""
    history_samples: int = 0
    """Recorded calls the answer lengths come from; 0: the default."""

    @property
    def priced(self) -> bool:
        return self.cost is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task_id": self.task_id, "title": self.title, "calls": list(self.calls),
            "prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens,
            "cost": self.cost.to_dict() if self.cost else None, "history_samples": self.history_samples,
        }
        if self.per_item is not None:
            out |= {"per_item": self.per_item.to_dict(), "max_items": self.max_items}
        if self.one_of:
            out["one_of"] = self.one_of
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskEstimate:
        calls = tuple(float(c) for c in data.get("calls") or (0, 0, 0))
        return cls(
            task_id=str(data.get("task_id", "")), title=str(data.get("title", "")),
            calls=(calls + (0.0, 0.0, 0.0))[:3],  # type: ignore[arg-type]
            usage=Usage(int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0)),
            cost=CostRange.from_dict(data["cost"]) if data.get("cost") else None,
            per_item=CostRange.from_dict(data["per_item"]) if data.get("per_item") else None,
            max_items=int(data.get("max_items") or 0), one_of=str(data.get("one_of") or ""),
            history_samples=int(data.get("history_samples") or 0),
        )


@dataclass(frozen=True)
class RunEstimate:
    """A plan's estimate: every leaf task and the synthesis, and the total of what could be priced."""

    tasks: tuple[TaskEstimate, ...]
    synthesis: TaskEstimate | None
    total: CostRange
    """Priced tasks and the synthesis; route targets counted once (see the module docstring)."""
    unpriced: tuple[str, ...] = ()
    """Titles of tasks whose model has no known price (not in the total)."""
    free: bool = False
    """Every call goes to a model on this machine (or is otherwise priced at zero)."""
    defaults_used: bool = False
    """Some answer lengths are the stated default (no history for that role and pattern)."""
    maps: tuple[str, ...] = field(default=())
    """Titles of map tasks (their item count is a guess)."""
    spent_before: float = 0.0
    """What the run had spent when the estimate was made (the planner's calls): not in `total`."""

    @property
    def whole_run(self) -> CostRange:
        """`total` plus what was spent before: comparable with the run's final cost."""
        return self.total + CostRange(self.spent_before, self.spent_before, self.spent_before)

    def task(self, task_id: str) -> TaskEstimate | None:
        return next((t for t in self.tasks if t.task_id == task_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.to_dict(), "unpriced": list(self.unpriced), "free": self.free,
            "defaults_used": self.defaults_used, "maps": list(self.maps), "spent_before": self.spent_before,
            "tasks": [t.to_dict() for t in self.tasks],
            "synthesis": self.synthesis.to_dict() if self.synthesis else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunEstimate:
        return cls(
            tasks=tuple(TaskEstimate.from_dict(t) for t in data.get("tasks") or ()),
            synthesis=TaskEstimate.from_dict(data["synthesis"]) if data.get("synthesis") else None,
            total=CostRange.from_dict(data.get("total") or {}),
            unpriced=tuple(str(t) for t in data.get("unpriced") or ()), free=bool(data.get("free")),
            defaults_used=bool(data.get("defaults_used")), maps=tuple(str(t) for t in data.get("maps") or ()),
            spent_before=float(data.get("spent_before") or 0.0),
        )


Guesses = Callable[[str, PatternKind], OutputGuess]
"""(role, pattern kind) -> how long its answers are."""
Prices = Callable[[str], Price | None]
"""Model reference -> its price (None: unknown)."""
Models = Callable[[Role], str]
"""A role -> the model reference its calls go to."""


def _tokens(text: str) -> float:
    return len(text) / CHARS_PER_TOKEN


class _Estimator:
    """Walks a plan once, leaf tasks in dependency order (inputs' sizes feed prompts)."""

    def __init__(self, plan: Plan, roles: Mapping[str, Role], models: Models, prices: Prices,
                 guesses: Guesses) -> None:
        self.plan, self.roles, self.models, self.prices, self.guesses = plan, roles, models, prices, guesses
        self.inputs = leaf_dependencies(plan)
        self.output: dict[str, float] = {}
        """Expected completion tokens of each estimated task's output (its dependants read it)."""
        self.defaults_used = False

    def role(self, who: str) -> Role:
        name = who.partition("@")[0]
        return self.roles.get(name) or Role(name=name, system_prompt="")

    def model_of(self, who: str) -> str:
        _, _, pinned = who.partition("@")
        return pinned or self.models(self.role(who))

    def base_prompt(self, task: Task, who: str) -> float:
        role = self.role(who)
        text = f"{role.system_prompt}\n{self.plan.goal}\n{task.title}\n{task.instructions}"
        upstream = sum(self.output.get(d, DEFAULT_OUTPUT.expected) for d in self.inputs.get(task.id, ()))
        return _tokens(text) + 60 + upstream + TOOL_SPEC_TOKENS * len(role.tools)

    def guess(self, who: str, kind: PatternKind) -> OutputGuess:
        found = self.guesses(who.partition("@")[0], kind)
        if found.samples == 0:
            self.defaults_used = True
        return found

    def shapes(self, task: Task) -> list[CallShape]:
        """The calls `task` makes, by role (see the module docstring for each pattern)."""
        me = task.agent
        base = self.base_prompt(task, me)
        match task.pattern:
            case None:
                per = self.guess(me, PatternKind.SINGLE).calls_per_task
                return [CallShape(me, self.model_of(me), (1, per, max(per * 2, 2)), base)]
            case Review(reviewer, max_rounds):
                expected = min(max_rounds, 2)
                rounds = (1, expected, max_rounds)
                return [CallShape(me, self.model_of(me), rounds, base, context_answers=0.5),
                        CallShape(reviewer, self.model_of(reviewer), rounds,
                                  self.base_prompt(task, reviewer), context_answers=1)]
            case Vote(voters, samples, judge):
                everyone = voters or tuple(me for _ in range(samples))
                out = [CallShape(v, self.model_of(v), (1, 1, 1), self.base_prompt(task, v)) for v in everyone]
                if judge:
                    out.append(CallShape(judge, self.model_of(judge), (1, 1, 1),
                                         self.base_prompt(task, judge), context_answers=len(everyone)))
                return out
            case Debate(debaters, judge, rounds):
                span = (rounds, rounds, rounds + 1)  # an undecided judge: another round if asked
                out = [CallShape(d, self.model_of(d), span, self.base_prompt(task, d),
                                 context_answers=len(debaters) - 1) for d in debaters]
                out.append(CallShape(judge, self.model_of(judge), (1, 1, 2), self.base_prompt(task, judge),
                                     context_answers=len(debaters)))
                return out
            case Route():
                return [CallShape(me, self.model_of(me), (1, 1, 2), base)]
            case Delegate(max_subtasks, max_depth):
                most = max_subtasks ** max_depth
                team = self.plan_roles()
                sub = [CallShape(r, self.model_of(r), (1 / len(team), max_subtasks * 0.6 / len(team),
                                                       most / len(team)), self.base_prompt(task, r))
                       for r in team]
                return [CallShape(me, self.model_of(me), (1, 1, 1 + max_depth), base),
                        *sub, CallShape(me, self.model_of(me), (1, 1, 1), base, context_answers=max_subtasks)]
            case Map():  # one item's calls; `task_estimate` multiplies
                return [CallShape(me, self.model_of(me), (1, 1, 1), _tokens(f"{self.role(me).system_prompt}"
                                  f"{self.plan.goal}{task.title}{task.instructions}") + 80)]
        return []

    def plan_roles(self) -> list[str]:
        return sorted({t.agent for t in self.plan.leaves()}) or ["writer"]

    def task_estimate(self, task: Task) -> TaskEstimate:
        kind = task.pattern.kind if task.pattern is not None else PatternKind.SINGLE
        calls, usage, cost, priced, samples = [0.0, 0.0, 0.0], Usage(), CostRange(), True, 0
        for shape in self.shapes(task):
            answer = self.guess(shape.role, kind)
            samples += answer.samples
            prompt = shape.prompt_tokens + shape.context_answers * answer.expected
            low_in = shape.prompt_tokens + shape.context_answers * answer.low
            high_in = shape.prompt_tokens + shape.context_answers * answer.high
            calls = [c + n for c, n in zip(calls, shape.count, strict=True)]
            usage = usage + Usage(round(prompt * shape.count[1]), round(answer.expected * shape.count[1]))
            price = self.prices(shape.model)
            if price is None:
                priced = False
                continue
            cost = cost + CostRange(
                shape.count[0] * price.cost(Usage(round(low_in), round(answer.low))),
                shape.count[1] * price.cost(Usage(round(prompt), round(answer.expected))),
                shape.count[2] * price.cost(Usage(round(high_in), round(answer.high))),
            )
        self.output[task.id] = self.output_size(task, kind)
        if isinstance(task.pattern, Map):
            items = task.pattern.max_items
            per_item = cost if priced else None
            return TaskEstimate(
                task.id, task.title, (1, MAP_ITEMS_GUESS, items),
                Usage(usage.prompt_tokens * MAP_ITEMS_GUESS, usage.completion_tokens * MAP_ITEMS_GUESS),
                cost.times(1, MAP_ITEMS_GUESS, items) if priced else None, per_item=per_item,
                max_items=items, history_samples=samples)
        return TaskEstimate(task.id, task.title, (calls[0], calls[1], calls[2]), usage,
                            cost if priced else None, history_samples=samples)

    def output_size(self, task: Task, kind: PatternKind) -> float:
        """The expected length of the task's output (what its dependants are sent)."""
        one = self.guesses(task.agent, kind).expected
        return one * MAP_ITEMS_GUESS if isinstance(task.pattern, Map) else one


def _in_dependency_order(plan: Plan) -> list[Task]:
    leaves = {t.id: t for t in plan.leaves()}
    inputs = leaf_dependencies(plan)
    done: dict[str, Task] = {}

    def visit(task_id: str, seen: frozenset[str]) -> None:
        if task_id in done or task_id in seen or task_id not in leaves:
            return
        for dep in sorted(inputs.get(task_id, ())):
            visit(dep, seen | {task_id})
        done[task_id] = leaves[task_id]

    for task_id in leaves:
        visit(task_id, frozenset())
    return list(done.values())


def _route_targets(plan: Plan) -> dict[str, str]:
    """Target task id -> the route task that chooses among its targets."""
    return {target: t.id for t in plan.leaves() if isinstance(t.pattern, Route) for _, target in t.pattern.routes}


def _total(tasks: Iterable[TaskEstimate], synthesis: TaskEstimate | None) -> CostRange:
    total, by_route = CostRange(), dict[str, list[CostRange]]()
    for task in tasks:
        if task.cost is None:
            continue
        if task.one_of:
            by_route.setdefault(task.one_of, []).append(task.cost)
        else:
            total = total + task.cost
    for costs in by_route.values():
        total = total + CostRange(min(c.low for c in costs), sum(c.expected for c in costs) / len(costs),
                                  max(c.high for c in costs))
    if synthesis is not None and synthesis.cost is not None:
        total = total + synthesis.cost
    return total


def estimate_plan(plan: Plan, roles: Mapping[str, Role], *, models: Models, prices: Prices,
                  guesses: Guesses, orchestrator_model: str) -> RunEstimate:
    """The plan's estimate (see the module docstring)."""
    walk = _Estimator(plan, roles, models, prices, guesses)
    routes = _route_targets(plan)
    tasks = []
    for task in _in_dependency_order(plan):
        found = walk.task_estimate(task)
        if task.id in routes:
            found = replace(found, one_of=routes[task.id])
        tasks.append(found)
    synthesis = _synthesis(plan, walk, orchestrator_model)
    unpriced = tuple(t.title for t in tasks if t.cost is None)
    if synthesis is not None and synthesis.cost is None:
        unpriced += (synthesis.title,)
    total = _total(tasks, synthesis)
    every = [*tasks, *([synthesis] if synthesis else [])]
    return RunEstimate(
        tasks=tuple(tasks), synthesis=synthesis, total=total, unpriced=unpriced,
        free=bool(every) and not unpriced and total.high == 0, defaults_used=walk.defaults_used,
        maps=tuple(t.title for t in plan.leaves() if isinstance(t.pattern, Map)),
    )


def _synthesis(plan: Plan, walk: _Estimator, model: str) -> TaskEstimate | None:
    """The deliverable's synthesis: one call that reads every leaf's output (a plan of one task too)."""
    leaves = plan.leaves()
    if not leaves:
        return None
    answer = walk.guesses(SYNTHESIS, PatternKind.SINGLE)
    prompt = _tokens(plan.goal) + 150 + sum(walk.output.get(t.id, answer.expected) for t in leaves)
    price = walk.prices(model)
    usage = Usage(round(prompt), round(answer.expected))
    cost = None if price is None else CostRange(
        price.cost(Usage(round(prompt * 0.5), round(answer.low))), price.cost(usage),
        price.cost(Usage(round(prompt * 2), round(answer.high))))
    return TaskEstimate("", "Synthesis of the deliverable", (1, 1, 1), usage, cost,
                        history_samples=answer.samples)
