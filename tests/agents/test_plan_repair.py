"""tidy_plan: what a tiny model writes becomes a valid plan."""

from __future__ import annotations

from agents.plan import Plan, validate_plan
from agents.plan.repair import tidy_plan


def test_duplicate_ids_unknown_and_forward_dependencies_are_tidied():
    plan = Plan.from_dict({"goal": "g", "tasks": [
        {"id": "analyst", "title": "A", "agent": "analyst", "depends_on": ["writer"]},
        {"id": "analyst", "title": "B", "agent": "analyst", "depends_on": ["analyst", "nope"]},
        {"id": "writer", "title": "W", "agent": "writer", "depends_on": ["analyst", "writer"]},
    ]})
    tidy = tidy_plan(plan)
    validate_plan(tidy, ["analyst", "writer"])
    ids = [t.id for t in tidy.tasks]
    assert ids == ["analyst", "analyst-2", "writer"]
    assert [t.depends_on for t in tidy.tasks] == [(), ("analyst",), ("analyst",)]


def test_children_cannot_depend_on_their_parent_and_odd_ids_are_cleaned():
    plan = Plan.from_dict({"goal": "g", "tasks": [
        {"id": "p 1!", "title": "P", "agent": "writer", "children": [
            {"id": "c", "title": "C", "agent": "writer", "depends_on": ["p 1!"]}]},
        {"id": "d", "title": "D", "agent": "writer", "depends_on": ["c", "p 1!"]},
    ]})
    tidy = tidy_plan(plan)
    validate_plan(tidy, ["writer"])
    assert tidy.tasks[0].id == "p-1"
    assert tidy.tasks[0].children[0].depends_on == ()
    assert tidy.tasks[1].depends_on == ("c", "p-1")


def test_a_valid_plan_is_unchanged():
    plan = Plan.from_dict({"goal": "g", "tasks": [
        {"id": "a", "title": "A", "agent": "writer"},
        {"id": "b", "title": "B", "agent": "writer", "depends_on": ["a"]}]})
    assert tidy_plan(plan) == plan


def test_the_plan_schema_can_name_the_roles_and_local_grammars_are_bounded():
    from agents.llm.local_model import bounded_schema
    from agents.plan import plan_json_schema

    schema = plan_json_schema(["writer", "coder"])
    agent = schema["$defs"]["TaskModel"]["properties"]["agent"]
    assert agent["enum"] == ["writer", "coder"]
    bounded = bounded_schema(schema)
    task = bounded["$defs"]["TaskModel"]["properties"]
    assert task["title"]["maxLength"] and task["depends_on"]["maxItems"]
    assert "maxLength" not in task["agent"]  # an enum is bounded already
    assert bounded["properties"]["tasks"]["maxItems"]
    assert "maxItems" not in plan_json_schema()["properties"]["tasks"]  # cloud models: unbounded
