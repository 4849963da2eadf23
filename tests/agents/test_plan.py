import pytest

from agents.errors import PlanError, PlanValidationError
from agents.plan import Plan, find_cycle, leaf_dependencies, plan_problems, validate_plan
from agents.plan.roster import load_roster

ROLES = ["researcher", "writer", "analyst"]


def make(tasks):
    return Plan.from_dict({"goal": "g", "tasks": tasks})


def t(id, deps=(), agent="writer", children=()):
    return {"id": id, "title": id.upper(), "instructions": "", "agent": agent,
            "depends_on": list(deps), "requires_approval": False, "children": list(children)}


def test_round_trip_keeps_every_field():
    data = {"goal": "g", "tasks": [
        {"id": "a", "title": "A", "instructions": "do a", "agent": "writer",
         "depends_on": [], "requires_approval": True,
         "children": [t("a1"), t("a2", ["a1"])]},
        t("b", ["a"]),
    ]}
    assert Plan.from_dict(data).to_dict() == data


def test_valid_plan_passes():
    validate_plan(make([t("a"), t("b", ["a"])]), ROLES)


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        ([], "the plan is empty"),
        ([t("a"), t("a")], "duplicate task id 'a'"),
        ([t("a", ["zz"])], "depends on unknown task 'zz'"),
        ([t("a", agent="poet")], "unknown role 'poet'"),
    ],
)
def test_problems_are_named(tasks, expected):
    with pytest.raises(PlanValidationError) as info:
        validate_plan(make(tasks), ROLES)
    assert expected in str(info.value)


def test_cycle_names_its_tasks_by_title():
    plan = make([t("a", ["c"]), t("b", ["a"]), t("c", ["b"]), t("d")])
    problems = plan_problems(plan, ROLES)
    assert len(problems) == 1 and problems[0].startswith("dependency cycle: ")
    titles = {task.id: task.title for task in plan.iter_tasks()}
    assert all(f"“{titles[i]}”" in problems[0] for i in "abc") and " → " in problems[0]
    cycle = find_cycle(plan)
    assert set(cycle) == {"a", "b", "c"} and cycle[0] == cycle[-1]


def test_child_depending_on_its_own_group_is_a_cycle():
    plan = make([t("g", children=[t("x", ["g"])])])
    assert "dependency cycle" in plan_problems(plan, ROLES)[0]


def test_malformed_plan_is_a_plan_error_with_location():
    with pytest.raises(PlanError, match=r"tasks\.0\.title"):
        Plan.from_dict({"goal": "g", "tasks": [{"id": "a", "agent": "writer"}]})
    with pytest.raises(PlanError):
        Plan.from_dict(["not", "a", "plan"])


def test_leaf_dependencies_expand_groups_and_inherit_from_ancestors():
    plan = make([
        t("r"),
        t("g", ["r"], children=[t("g1"), t("g2", ["g1"])]),
        t("w", ["g"]),
    ])
    deps = leaf_dependencies(plan)
    assert deps == {"r": set(), "g1": {"r"}, "g2": {"g1", "r"}, "w": {"g1", "g2"}}


def test_default_roster_has_the_core_roles():
    roster = load_roster()
    for name in ["orchestrator", "researcher", "analyst", "coder", "writer", "reviewer"]:
        assert name in roster
        assert roster.get(name).system_prompt
    assert "orchestrator" not in [r.name for r in roster.workers()]
