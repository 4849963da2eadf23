"""A plan's cost estimate from this install's history and the models' prices.

`agents.plan.estimate` does the arithmetic; this module supplies what it needs:
answer lengths of earlier calls by role and pattern (`guesses_from`), the model
each role's calls go to, and each model's price (the person's, free on this
machine, litellm's map: `Endpoint.price`, else `map_price`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from agents.llm.prices import Price, map_price
from agents.plan import Plan
from agents.plan.estimate import DEFAULT_OUTPUT, Guesses, OutputGuess, RunEstimate, estimate_plan
from agents.plan.patterns import PatternKind
from agents.run.agent import ModelSettings

if TYPE_CHECKING:
    from app.runs.service import RunConfig, RunService
    from app.storage.records import AnswerSample

MIN_SAMPLES = 3
"""Fewer recorded answers than this for a role and pattern: use the role's, then the default."""
HISTORY_RUNS = 200
"""How many of the newest runs the answer lengths come from."""


def _quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def _guess(lengths: list[int], calls_per_task: float = 1.0) -> OutputGuess:
    return OutputGuess(expected=statistics.fmean(lengths), low=_quantile(lengths, 0.2),
                       high=_quantile(lengths, 0.8), samples=len(lengths), calls_per_task=calls_per_task)


def guesses_from(samples: Iterable[AnswerSample]) -> Guesses:
    """(role, pattern) -> answer lengths: that role and pattern's history, else the
    role's over every pattern, else `DEFAULT_OUTPUT`."""
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_role: dict[str, list[int]] = defaultdict(list)
    calls: dict[tuple[str, str, str], int] = defaultdict(int)
    for s in samples:
        by_key[(s.role, s.kind)].append(s.completion_tokens)
        by_role[s.role].append(s.completion_tokens)
        if s.kind == PatternKind.SINGLE:
            calls[(s.role, s.run_id, s.task_id)] += 1
    per_task: dict[str, list[int]] = defaultdict(list)
    for (role, _, _), count in calls.items():
        per_task[role].append(count)

    def guess(role: str, kind: PatternKind) -> OutputGuess:
        loop = statistics.fmean(per_task[role]) if per_task.get(role) else 1.0
        for lengths in (by_key.get((role, kind.value)), by_role.get(role)):
            if lengths and len(lengths) >= MIN_SAMPLES:
                return _guess(lengths, loop if kind == PatternKind.SINGLE else 1.0)
        return DEFAULT_OUTPUT

    return guess


def prices_from(settings: ModelSettings) -> dict[str, Price | None]:
    """Model reference -> its price, for every model the run can reach (litellm is imported)."""
    return {ref: endpoint.price or map_price(endpoint.model) for ref, endpoint in settings.endpoints.items()}


def estimate(service: RunService, plan: Plan, config: RunConfig) -> RunEstimate:
    """The plan's estimate as it would run with `config` (blocking: reads history, may import litellm)."""
    settings = service.model_settings(config, plan)
    prices = prices_from(settings)
    roles = {r.name: r for r in service.roster}
    samples = service.store.answer_samples(HISTORY_RUNS)
    return estimate_plan(
        plan, roles, models=lambda role: settings.models_for(role)[0],
        prices=lambda ref: _price(prices, settings, ref), guesses=guesses_from(samples),
        orchestrator_model=settings.orchestrator_model,
    )


def _price(known: Mapping[str, Price | None], settings: ModelSettings, ref: str) -> Price | None:
    if ref in known:
        return known[ref]
    endpoint = settings.endpoint(ref)  # a reference no provider names: litellm's own
    return endpoint.price or map_price(endpoint.model)
