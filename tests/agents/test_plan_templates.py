"""Template plans for orchestrators too small to plan: the shape chosen from the goal's
words, tasks written from the goal, no model call; and the deliverable put together
without one."""

from __future__ import annotations

import pytest

from agents.events import PlanProposed
from agents.llm.calls import CallContext
from agents.plan import validate_plan
from agents.plan.planner import Planner
from agents.plan.roster import load_roster
from agents.plan.templates import choose_shape, goal_topic, template_plan
from agents.run.agent import ModelSettings, tiny_task_messages
from agents.run.runner import Runner, RunOptions
from agents.run.synthesizer import assemble
from agents.testing import FakeLLM, RecordingSink, ScriptedGate

ROSTER = load_roster()
WORKERS = [r.name for r in ROSTER.workers()]
TINY = ModelSettings(model="local/smollm2-135m", too_small={"local/smollm2-135m": "the embedded model"})


@pytest.mark.parametrize(("goal", "shape", "first_title"), [
    ("Write three tips for keeping houseplants alive", "research-draft-review",
     "Key facts: keeping houseplants alive"),
    ("Compare two laptops for a student: a MacBook Air or a Dell XPS 13", "compare",
     "Comparison: two laptops for a student"),
    ("How to bake bread at home", "how-to", "What you need: bake bread at home"),
    ("Write a python function that reverses a string and test it", "code",
     "Code: a python function that reverses a string"),
    ("Plan a weekend trip to the mountains", "plan", "Ideas: a weekend trip to the mountains"),
])
def test_the_goals_words_choose_the_shape_and_the_titles(goal, shape, first_title) -> None:
    assert choose_shape(goal).name == shape
    plan = template_plan(goal, WORKERS)
    validate_plan(plan, WORKERS)
    assert plan.goal == goal and plan.tasks[0].title == first_title
    stripped = goal.rstrip(".")
    assert all(stripped in t.instructions for t in plan.tasks)  # written from the goal
    assert [t.id for t in plan.tasks] == [f"t{i}" for i in range(1, len(plan.tasks) + 1)]
    assert all(set(t.depends_on) <= {x.id for x in plan.tasks[:i]}
               for i, t in enumerate(plan.tasks))  # only on earlier tasks
    assert len({t.title for t in plan.tasks}) == len(plan.tasks)


def test_a_customised_roster_gets_its_own_roles() -> None:
    plan = template_plan("Write a python function that adds two numbers", ["author", "checker"])
    assert {t.agent for t in plan.tasks} == {"author"}  # none of the preferred roles: the first


def test_goal_topic_drops_the_request_words() -> None:
    assert goal_topic("Please write three tips for keeping houseplants alive.") == "keeping houseplants alive"
    assert goal_topic("Explain photosynthesis") == "photosynthesis"
    assert goal_topic("Say hello") == "Say hello"
    assert goal_topic("a b c d e f g h i j k l") == "a b c d e f g h…"


async def test_a_tiny_orchestrator_gets_a_template_plan_without_a_call() -> None:
    llm, sink = FakeLLM(lambda request: "never asked"), RecordingSink()
    planner = Planner(llm, ROSTER, TINY)

    result = await planner.plan(CallContext(run_id="r", sink=sink, purpose="plan"), "How to bake bread")

    assert llm.requests == []
    assert result.template_notice == ("Offline template plan: the embedded model is too small to "
                                      "plan; edit it as you like.")
    assert result.attempts == 0 and result.cost == 0
    [proposed] = [e for e in sink.events if isinstance(e, PlanProposed)]
    assert proposed.template == "how-to" and proposed.plan == result.plan.to_dict()


async def test_a_model_that_can_plan_is_asked() -> None:
    reply = '{"goal": "g", "tasks": [{"id": "a", "title": "A", "agent": "writer"}]}'
    llm = FakeLLM(lambda request: reply)
    result = await Planner(llm, ROSTER, ModelSettings(model="fake/big")).plan(
        CallContext(run_id="r", sink=RecordingSink(), purpose="plan"), "g")
    assert len(llm.requests) == 1 and result.template_notice == ""


async def test_a_tiny_model_runs_a_template_plan_and_the_results_are_put_together() -> None:
    def answer(request) -> str:
        user = request.messages[-1].content
        assert "Reply with the result of your task only" not in user  # the short prompt
        return "1. Water when the soil is dry.\n2. Bright, indirect light." if "facts" in user else (
            "1. Water when the soil is dry.\n3. Repot every spring.")

    llm = FakeLLM(answer)
    plan = template_plan("Write three tips for keeping houseplants alive", WORKERS)
    runner = Runner(run_id="r", plan=plan, roster=ROSTER, llm=llm, settings=TINY, sink=RecordingSink(),
                    gate=ScriptedGate(), options=RunOptions())

    outcome = await runner.run()

    assert outcome.status == "completed"
    assert len(llm.requests) == 3  # the three tasks; the deliverable needed no call
    text = outcome.deliverable or ""
    assert text.startswith("# Write three tips for keeping houseplants alive")
    assert "## Key facts: keeping houseplants alive" in text and "Repot every spring" in text
    assert text.count("Water when the soil is dry") == 1  # what an earlier result said is left out
    assert "the embedded model is too small to edit them into one" in text


def test_tiny_task_messages_are_short_with_the_inputs_first() -> None:
    from agents.plan import Task  # noqa: PLC0415
    from agents.run.agent import Input  # noqa: PLC0415

    task = Task(id="t2", title="Draft", instructions="Write three tips. Use the facts you are given.")
    system, user = tiny_task_messages(ROSTER.get("writer"), "Houseplants", task,
                                      [Input("t1", "Facts", "Water weekly.")])
    assert system.content == ROSTER.get("writer").system_prompt.split(". ")[0] + "."
    assert user.content.startswith("Background from earlier work:\n\nWater weekly.\n\nWrite three tips.")
    assert user.content.endswith("(The goal: Houseplants)")


def test_assemble_says_what_was_not_done() -> None:
    plan = template_plan("How to bake bread", WORKERS)
    text = assemble(plan, {"t1": "Flour, water, salt, yeast."}, {"t2": "Steps: not done (failed)"},
                    "the embedded model")
    assert "## What you need: bake bread" in text and "## Steps" not in text
    assert "## Not covered\n\n- Steps: not done (failed)" in text


def test_assemble_keeps_code_whole() -> None:
    plan = template_plan("Write a python function that reverses a string", WORKERS)
    code = "```python\ndef reverse_string(text):\n    return text[::-1]\n```"
    tests = "```python\ndef reverse_string(text):\n    return text[::-1]\n\nassert reverse_string('ab') == 'ba'\n```"
    text = assemble(plan, {"t1": code, "t2": tests}, None, "the embedded model")
    assert text.count("    return text[::-1]") == 2 and "assert reverse_string('ab') == 'ba'" in text
