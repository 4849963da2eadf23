"""Task patterns as plan fields: read, written back, labelled and validated (issue 14)."""

from __future__ import annotations

import pytest

from agents.plan.patterns import (
    MAP_HARD_CAP,
    Debate,
    Delegate,
    Map,
    Review,
    Route,
    Vote,
    from_fields,
    label,
    pattern_problems,
    to_fields,
)

ROLES = {"writer", "reviewer", "researcher", "analyst"}

ROUND_TRIPS = [
    {"pattern": "review", "reviewer": "reviewer", "max_rounds": 3},
    {"pattern": "vote", "voters": ["analyst", "researcher@openai/gpt-4o"], "judge": "reviewer"},
    {"pattern": "vote", "samples": 5},
    {"pattern": "debate", "debaters": ["analyst", "researcher"], "rounds": 2, "judge": "reviewer"},
    {"pattern": "delegate", "max_subtasks": 4, "max_depth": 2},
    {"pattern": "map", "over": "sources", "max_items": 300},
    {"pattern": "route", "routes": {"code": "build", "prose": "write"}},
]


@pytest.mark.parametrize("fields", ROUND_TRIPS, ids=[f["pattern"] for f in ROUND_TRIPS])
def test_fields_read_and_written_back_are_the_same(fields):
    assert to_fields(from_fields(fields)) == fields


def test_no_pattern_is_single_and_writes_nothing():
    assert from_fields({}) is None
    assert from_fields({"pattern": "single"}) is None
    assert to_fields(None) == {}


def test_defaults_where_the_file_is_silent():
    assert from_fields({"pattern": "review", "reviewer": "reviewer"}) == Review("reviewer", 3)
    assert from_fields({"pattern": "map", "over": "s"}) == Map("s", 300)
    assert from_fields({"pattern": "debate", "debaters": ["a", "b"], "judge": "j"}) == Debate(("a", "b"), "j", 2)


def test_labels_say_the_pattern_at_a_glance():
    assert label(Review("reviewer", 3)) == "review ×3 by reviewer"
    assert label(Vote(samples=3)) == "vote of 3, majority"
    assert label(Map("sources", 300), {"sources": "Sources"}) == "map over Sources (≤300)"
    assert label(Route((("code", "b"), ("prose", "w")))) == "route: code / prose"


def problems(pattern, *, task_id="t", depends_on=(), ids=frozenset({"t", "sources", "b", "w"}),
             is_group=False):
    return pattern_problems(task_id, "writer", pattern, depends_on=depends_on, ids=set(ids),
                            roles=ROLES, is_group=is_group)


def test_valid_patterns_have_no_problems():
    for fields in ROUND_TRIPS:
        pattern = from_fields(fields)
        if isinstance(pattern, Route):
            pattern = Route((("code", "b"), ("prose", "w")))
        assert problems(pattern, depends_on=("sources",)) == [], fields


@pytest.mark.parametrize(("pattern", "expected"), [
    (Review("", 3), "task 't' (review) needs a reviewer: name a role"),
    (Review("critic", 3), "task 't' (review): reviewer 'critic' is not a known role"),
    (Review("reviewer", 0), "task 't' (review): max_rounds is 0; it must be 1 to 10"),
    (Vote(), "task 't' (vote): give voters (roles) or samples (a number of answers)"),
    (Vote(("writer",), 3), "task 't' (vote): give voters or samples, not both"),
    (Vote(("writer", "ghost@openai/x")), "task 't' (vote): voter 'ghost@openai/x' is not a known role"),
    (Vote(samples=1), "task 't' (vote): samples is 1; it must be 2 to 9"),
    (Debate(("analyst",), "reviewer"), "task 't' (debate) needs at least two debaters"),
    (Debate(("analyst", "writer"), ""), "task 't' (debate) needs a judge: name a role"),
    (Delegate(0, 1), "task 't' (delegate): max_subtasks is 0; it must be 1 to 20"),
    (Delegate(5, 4), "task 't' (delegate): max_depth is 4; it must be 1 to 3"),
    (Map("", 300), "task 't' (map) needs over"),
    (Map("nowhere", 300), "task 't' (map) is over unknown task 'nowhere'"),
    (Map("sources", 300), "task 't' (map) is over 'sources', which is not one of its dependencies"),
    (Map("sources", MAP_HARD_CAP + 1), f"max_items is {MAP_HARD_CAP + 1}; it must be 1 to {MAP_HARD_CAP}"),
    (Route(()), "task 't' (route) needs routes"),
    (Route((("x", "nowhere"),)), "task 't' (route) routes 'x' to unknown task 'nowhere'"),
    (Route((("x", "t"),)), "task 't' (route) cannot route to itself"),
])
def test_each_problem_is_named(pattern, expected):
    found = problems(pattern)
    assert any(expected in p for p in found), found


def test_a_group_cannot_have_a_pattern():
    [problem] = problems(Review("reviewer"), is_group=True)
    assert "has sub-tasks, so it cannot have a pattern (review)" in problem
