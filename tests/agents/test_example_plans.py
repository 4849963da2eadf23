"""Every plan file in examples/plans/ (the README's "Team patterns" examples) loads
and validates against the default roster, one file per pattern that runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.plan import Plan, validate_plan
from agents.plan.patterns import PatternKind
from agents.plan.roster import load_roster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"
FILES = sorted(EXAMPLES.glob("*.json"))


def test_there_is_an_example_for_every_pattern_that_runs() -> None:
    runnable = {k.value for k in PatternKind} - {"single"}
    assert {f.stem for f in FILES} == runnable


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_an_example_plan_is_valid_with_the_default_roster(path: Path) -> None:
    plan = Plan.from_dict(json.loads(path.read_text(encoding="utf-8")))
    validate_plan(plan, load_roster().names)
    kinds = {t.pattern.kind.value for t in plan.iter_tasks() if t.pattern is not None}
    assert kinds == {path.stem}
    assert Plan.from_dict(plan.to_dict()) == plan
