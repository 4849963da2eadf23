"""Replanning after a comment (agents.plan.replan) and plan diffs (agents.plan.diff)."""

import json

import pytest

from agents.errors import PlanError, PlannerError
from agents.events import PlanProposed, PlanRejectedByModel
from agents.llm.calls import CallContext, RetryPolicy
from agents.plan import Plan, Task, validate_plan
from agents.plan.diff import FieldChange, diff_plans
from agents.plan.replan import replan, replan_messages, restore_kept
from agents.plan.roster import load_roster
from agents.run.agent import ModelSettings
from agents.testing import FakeLLM, RecordingSink, last_user_message

FAST_RETRY = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01)
ROSTER = load_roster()


def t(id, deps=(), agent="researcher", title=None, instructions=None, approval=False, children=()):
    return Task(id, title or f"Title {id}", instructions if instructions is not None else f"do {id}",
                agent, tuple(deps), approval, tuple(children))


def current_plan() -> Plan:
    """t1 done, t2 done (depends on t1), t3 pending, t4 pending (approval)."""
    return Plan("Write a market brief on vector databases", (
        t("t1", title="Survey the market"),
        t("t2", ["t1"], agent="analyst", title="Compare vendors"),
        t("t3", ["t2"], agent="writer", title="Draft the brief"),
        t("t4", ["t3"], agent="reviewer", title="Review the brief", approval=True),
    ))


def reply(plan: Plan) -> str:
    return json.dumps(plan.to_dict())


async def run_replan(replies, plan=None, keep=frozenset({"t1", "t2"}), comment="add a pricing section"):
    answers = iter(replies)
    llm = FakeLLM(lambda request: next(answers))
    sink = RecordingSink()
    ctx = CallContext(run_id="r1", sink=sink, purpose="plan")
    result = await replan(llm, ROSTER, ModelSettings(model="fake/m"), ctx, plan or current_plan(),
                          comment, set(keep), retry=FAST_RETRY)
    return result, llm, sink


# --- replan ---------------------------------------------------------------------


async def test_request_carries_goal_plan_kept_ids_and_comment():
    new = Plan("x", current_plan().tasks + (t("t5", ["t2"], title="Collect pricing"),))
    result, llm, sink = await run_replan([reply(new)])
    request = llm.requests[0]
    assert request.json_schema is not None and request.messages[0].role == "system"
    text = last_user_message(request)
    assert "Goal: Write a market brief on vector databases" in text
    assert "add a pricing section" in text
    assert "These tasks are finished or approved: t1, t2." in text
    shown = json.loads(text.split("as JSON:\n", 1)[1].split("\n\nThese tasks", 1)[0])
    assert shown == current_plan().to_dict()
    assert result.attempts == 1 and result.plan.goal == current_plan().goal
    assert [x.id for x in result.plan.iter_tasks()] == ["t1", "t2", "t3", "t4", "t5"]
    assert not sink.of(PlanProposed)  # a revision is not a plan version until accepted


def test_messages_without_finished_tasks_say_so():
    text = replan_messages(ROSTER, current_plan(), "  shorter  ", set())[1].content
    assert "No task has finished yet" in text and text.endswith("same shape.")
    assert "The person's comment on this plan:\nshorter" in text


async def test_kept_tasks_the_model_changed_are_restored():
    old = current_plan()
    changed = Plan("x", (
        t("t1", title="Survey everything again", agent="writer", instructions="redo it", approval=True),
        t("t2", ["t1", "t3"], agent="analyst", title="Compare vendors"),  # also a cycle t2 <-> t3
        t("t3", ["t2"], agent="writer", title="Draft the brief with pricing"),
        t("t4", ["t3"], agent="reviewer", title="Review the brief", approval=True),
    ))
    result, llm, sink = await run_replan([reply(changed)])
    assert result.attempts == 1  # restoring t2's depends_on removed the cycle
    assert result.plan.task("t1") == old.task("t1")
    assert result.plan.task("t2") == old.task("t2")
    assert result.plan.task("t3").title == "Draft the brief with pricing"  # not kept: the model's


async def test_kept_tasks_the_model_dropped_are_put_back():
    old = Plan("g", (
        t("g1", title="Research", children=(t("c1"), t("c2"))),
        t("t3", ["g1"], agent="writer"),
    ))
    dropped = Plan("x", (
        t("g1", title="Research", children=(t("c2"),)),
        t("t9", ["c1"], agent="writer", title="Pricing"),  # depends on the dropped kept task
    ))
    result, _, _ = await run_replan([reply(dropped)], plan=old, keep={"c1", "ghost"})
    assert [c.id for c in result.plan.task("g1").children] == ["c1", "c2"]  # old parent, old row
    assert result.plan.task("c1") == old.task("c1")
    assert "t3" not in {x.id for x in result.plan.iter_tasks()}

    flat = Plan("x", (t("t9", agent="writer"),))
    result, _, _ = await run_replan([reply(flat)], plan=old, keep={"g1", "c1", "c2"})
    assert result.plan.tasks[0] == old.tasks[0]  # the group and its children, as they were
    assert [x.id for x in result.plan.tasks] == ["g1", "t9"]


def test_restore_kept_raises_clear_errors():
    old = current_plan()
    without_t3 = Plan("g", (t("t1"), t("t2", ["t1"], agent="analyst"), t("t5", agent="writer")))
    with pytest.raises(PlanError, match="'t4' is finished and depends on 't3'.*keep 't3'"):
        restore_kept(old, without_t3, {"t4"})
    grown = Plan("g", (t("t1", children=(t("t7"),)),) + old.tasks[1:])
    with pytest.raises(PlanError, match="'t1' is finished and cannot take new sub-tasks \\(t7\\)"):
        restore_kept(old, grown, {"t1"})
    assert restore_kept(old, without_t3, set()) is without_t3


async def test_a_keep_problem_goes_back_to_the_model_then_is_fixed():
    bad = Plan("x", (t("t1"), t("t2", ["t1"], agent="analyst"), t("t4", agent="reviewer")))
    good = Plan("x", current_plan().tasks[:3] + (t("t4", agent="reviewer"),))
    result, llm, sink = await run_replan([reply(bad), reply(good)], keep={"t4"})
    assert result.attempts == 2
    assert result.plan.task("t4") == current_plan().task("t4")
    assert "keep 't3'" in last_user_message(llm.requests[1])


async def test_broken_json_gets_a_repair_round():
    good = Plan("x", current_plan().tasks)
    result, llm, sink = await run_replan(['{"goal": "x", "tasks": [', "```json\n" + reply(good) + "\n```"])
    assert result.attempts == 2
    assert "not valid JSON" in sink.of(PlanRejectedByModel)[0].error
    repair = llm.requests[1].messages
    assert repair[-2].role == "assistant" and "not valid JSON" in repair[-1].content
    assert "add a pricing section" in repair[1].content  # the original request is still there
    assert result.usage.completion_tokens > 0


async def test_gives_up_clearly_and_keeps_the_current_plan():
    unknown_role = Plan("x", (t("t1"), t("t2", ["t1"], agent="analyst"), t("t9", agent="astrologer")))
    with pytest.raises(PlannerError, match="unknown role 'astrologer'.*current plan is unchanged"):
        await run_replan([reply(unknown_role)] * 3)
    with pytest.raises(ValueError, match="comment"):
        await run_replan([], comment="   ")


# --- diff_plans -------------------------------------------------------------------


def test_diff_added_and_removed():
    old = current_plan()
    new = Plan(old.goal, old.tasks[:2] + (
        t("g5", title="Pricing", children=(t("t6", agent="analyst", title="Collect pricing"),)),
        old.tasks[3],
    ))
    diff = diff_plans(old, new)
    assert diff.added == ("g5", "t6") and diff.removed == ("t3",)
    assert diff.unchanged == ("t1", "t2", "t4") and not diff.changed
    assert diff.summary() == [
        "+ g5 Pricing (group)",
        "+ t6 Collect pricing (analyst) in g5",
        "- t3 Draft the brief",
    ]
    assert diff.counts() == "2 added · 1 removed · 0 changed · 3 unchanged"


@pytest.mark.parametrize(
    ("changes", "field", "line"),
    [
        ({"title": "Survey vendors"}, "title", "~ t2 title: Compare vendors → Survey vendors"),
        ({"instructions": "compare on price"}, "instructions",
         "~ t2 instructions: do t2 → compare on price"),
        ({"agent": "researcher"}, "agent", "~ t2 agent: analyst → researcher"),
        ({"depends_on": ()}, "depends_on", "~ t2 depends on: t1 → none"),
        ({"requires_approval": True}, "requires_approval",
         "~ t2 approval: not required → required"),
    ],
)
def test_diff_each_field(changes, field, line):
    old = current_plan()
    diff = diff_plans(old, old.replace_task("t2", **changes))
    assert diff.changed_ids == ("t2",) and not diff.added and not diff.removed
    change = diff.change("t2")
    assert change is not None and [f.field for f in change.fields] == [field]
    assert diff.summary() == [line]


def test_diff_moved_to_another_parent_but_not_reordered():
    old = Plan("g", (t("g1", children=(t("a"), t("b"))), t("c")))
    moved = Plan("g", (t("g1", children=(t("a"),)), t("c", children=(t("b"),))))
    diff = diff_plans(old, moved)
    assert diff.changed_ids == ("b",)
    assert diff.change("b").fields == (FieldChange("parent", "g1", "c"),)
    assert diff.summary() == ["~ b moved: under g1 → under c"]
    assert diff_plans(moved, old).summary() == ["~ b moved: under c → under g1"]

    reordered = Plan("g", (t("c"), t("g1", children=(t("b"), t("a")))))
    assert diff_plans(old, reordered).is_empty()


def test_diff_ignores_noise_and_long_values_are_shortened():
    old = current_plan()
    same = old.replace_task("t2", depends_on=("t1",), instructions="do t2\n")
    assert diff_plans(old, same).is_empty()
    group_old = Plan("g", (t("g", agent="writer", children=(t("a"),)),))
    group_new = Plan("g", (t("g", agent="analyst", children=(t("a"),)),))
    assert diff_plans(group_old, group_new).is_empty()  # a group runs no agent

    long = old.replace_task("t3", instructions="word " * 40)
    (line,) = diff_plans(old, long).summary()
    assert line.startswith("~ t3 instructions: do t3 → word word") and line.endswith("…")
    assert len(line) < 100


async def test_replan_then_diff_round_trip():
    new = Plan("x", (
        t("t1", title="Changed by the model"),
        t("t2", ["t1"], agent="analyst", title="Compare vendors"),
        t("t5", ["t2"], agent="researcher", title="Collect pricing"),
        t("t3", ["t2", "t5"], agent="writer", title="Draft the brief"),
    ))
    result, _, _ = await run_replan([reply(new)])
    validate_plan(result.plan, ROSTER.names)
    assert diff_plans(current_plan(), result.plan).summary() == [
        "+ t5 Collect pricing (researcher)",
        "- t4 Review the brief",
        "~ t3 depends on: t2 → t2, t5",
    ]
