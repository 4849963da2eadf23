"""The cost estimate's arithmetic: prices, history, patterns, unpriced models."""

from __future__ import annotations

import pytest

from agents.llm.prices import FREE, Price
from agents.plan import Plan
from agents.plan.estimate import (
    DEFAULT_OUTPUT,
    MAP_ITEMS_GUESS,
    OutputGuess,
    RunEstimate,
    estimate_plan,
)
from agents.plan.patterns import PatternKind
from agents.plan.roster import Role

ROLES = {name: Role(name=name, system_prompt=f"You are the {name}.") for name in
         ("researcher", "writer", "reviewer", "analyst")}
CHEAP = Price.per_million(1.0, 4.0)  # $1 in, $4 out per million tokens
DEAR = Price.per_million(10.0, 40.0)


def plan(*tasks: dict) -> Plan:
    return Plan.from_dict({"goal": "Write a short guide to houseplants", "tasks": list(tasks)})


def task(id: str, agent: str = "writer", deps: tuple[str, ...] = (), **fields: object) -> dict:
    return {"id": id, "title": f"Task {id}", "instructions": f"Do {id} well.", "agent": agent,
            "depends_on": list(deps), **fields}


def estimate(p: Plan, *, prices=None, guesses=None, models=None) -> RunEstimate:
    return estimate_plan(
        p, ROLES, models=models or (lambda role: "cheap/model"),
        prices=prices or (lambda ref: {"cheap/model": CHEAP, "dear/model": DEAR, "here/model": FREE}.get(ref)),
        guesses=guesses or (lambda role, kind: DEFAULT_OUTPUT), orchestrator_model="cheap/model",
    )


def test_no_history_uses_the_stated_default_and_known_prices() -> None:
    found = estimate(plan(task("a")))
    [only] = found.tasks
    assert found.defaults_used and found.synthesis is not None  # the deliverable is written too
    assert only.usage.completion_tokens == DEFAULT_OUTPUT.expected
    out = DEFAULT_OUTPUT.expected * CHEAP.output_per_token
    assert only.cost is not None and only.cost.expected == pytest.approx(
        out + only.usage.prompt_tokens * CHEAP.input_per_token)
    assert only.cost.low < only.cost.expected < only.cost.high
    assert found.total == only.cost + found.synthesis.cost


def test_history_changes_the_answer_length_and_upstream_context() -> None:
    long_writer = OutputGuess(expected=2000, low=1500, high=2600, samples=12)

    def guesses(role: str, kind: PatternKind) -> OutputGuess:
        return long_writer if role == "writer" else DEFAULT_OUTPUT

    p = plan(task("r", "researcher"), task("w", "writer", ("r",)))
    plain, learned = estimate(p), estimate(p, guesses=guesses)
    assert learned.task("w").usage.completion_tokens == 2000
    assert learned.task("w").history_samples == 12
    assert learned.total.expected > plain.total.expected
    # the writer is sent the researcher's expected output: its prompt is bigger than the researcher's
    assert learned.task("w").usage.prompt_tokens > learned.task("r").usage.prompt_tokens + 400
    assert learned.synthesis is not None and learned.synthesis.usage.prompt_tokens > 2000


def test_patterns_multiply_calls() -> None:
    single = estimate(plan(task("a"))).task("a")
    vote = estimate(plan(task("a", pattern="vote", samples=5, judge="reviewer"))).task("a")
    review = estimate(plan(task("a", pattern="review", reviewer="reviewer", max_rounds=3))).task("a")
    debate = estimate(plan(task("a", pattern="debate", debaters=["writer", "analyst"], judge="reviewer",
                                rounds=2))).task("a")
    assert vote.calls == (6, 6, 6)  # five answers and a judgement
    assert review.calls == (2, 4, 6)  # a draft and a review per round: 1, 2 or 3 rounds
    assert debate.calls == (5, 5, 8)  # 2 debaters x 2 rounds + a judge; one more round at most
    assert vote.cost.expected > 5 * single.cost.expected
    assert review.cost.low < review.cost.expected < review.cost.high


def test_a_map_is_priced_per_item_with_its_cap() -> None:
    found = estimate(plan(task("list", "researcher"),
                          task("each", "writer", ("list",), pattern="map", over="list", max_items=40)))
    each = found.task("each")
    assert each.per_item is not None and each.max_items == 40
    assert each.calls == (1, MAP_ITEMS_GUESS, 40)
    assert each.cost.high == pytest.approx(each.per_item.high * 40)
    assert each.cost.expected == pytest.approx(each.per_item.expected * MAP_ITEMS_GUESS)
    assert found.maps == ("Task each",)


def test_route_targets_count_once() -> None:
    p = plan(task("pick", "analyst", pattern="route", routes={"short": "s", "long": "l"}),
             task("s", "writer", ("pick",)), task("l", "writer", ("pick",)))
    found = estimate(p, models=lambda role: "dear/model" if role.name == "writer" else "cheap/model")
    short, long_, pick = found.task("s"), found.task("l"), found.task("pick")
    assert short.one_of == long_.one_of == "pick"
    both = short.cost.expected + long_.cost.expected
    synthesis = found.synthesis.cost
    assert found.total.expected == pytest.approx(pick.cost.expected + both / 2 + synthesis.expected)
    assert found.total.high == pytest.approx(pick.cost.high + max(short.cost.high, long_.cost.high) + synthesis.high)


def test_unknown_prices_are_named_not_counted_as_zero() -> None:
    found = estimate(plan(task("a", "writer"), task("b", "analyst")),
                     models=lambda role: "mystery/model" if role.name == "analyst" else "cheap/model")
    assert found.unpriced == ("Task b",)
    assert found.task("b").cost is None and found.task("a").cost is not None
    assert not found.free


def test_models_on_this_machine_are_free() -> None:
    found = estimate(plan(task("a"), task("b")), models=lambda role: "here/model",
                     prices=lambda ref: FREE)
    assert found.free and found.total.high == 0 and not found.unpriced


def test_round_trips_through_a_dict() -> None:
    found = estimate(plan(task("list", "researcher"),
                          task("each", "writer", ("list",), pattern="map", over="list")))
    assert RunEstimate.from_dict(found.to_dict()) == found
