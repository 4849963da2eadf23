"""Plans and rosters: the plan model (Task, Plan, validation), its JSON schemas, diffs,
repair, and the LLM-driven planner and replanner.

May import the agents root (events, ports, errors), agents.llm.calls and agents.run.agent
(planner/replan only). This __init__ re-exports plan/model.py alone: importing
`agents.plan` must stay cheap and never pull in the LLM side.
"""

from agents.plan.model import (
    MAX_NESTING,
    Plan,
    Task,
    find_cycle,
    leaf_dependencies,
    plan_json_schema,
    plan_problems,
    validate_plan,
    wait_graph,
)

__all__ = [
    "MAX_NESTING",
    "Plan",
    "Task",
    "find_cycle",
    "leaf_dependencies",
    "plan_json_schema",
    "plan_problems",
    "validate_plan",
    "wait_graph",
]
