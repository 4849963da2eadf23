"""Replanning: the orchestrator revises a plan after the person's comment.

    result = await replan(llm, roster, settings, ctx, plan, "split research in two",
                          keep={"t1", "t2"})   # finished or approved tasks
    diff_plans(plan, result.plan)

The orchestrator gets the goal, the current plan as JSON, the finished
tasks and the comment, and answers with a whole new plan. Its answer goes
through the planner's parse / validate / repair loop, with one more step
before validation: `restore_kept` puts every kept task back exactly as it
was (title, instructions, agent, depends_on, requires_approval), whatever
the model did to it, and re-inserts the ones it dropped. A kept task that
cannot be kept as it was (it depends on a task the new plan removes, the
model gave it new sub-tasks, ...) is a PlanError, which is sent back to the
model like any other problem; after `max_attempts` answers replan raises
PlannerError and the current plan stays as it is.

Unlike Planner.plan, replan emits no PlanProposed: storage records that
event as a plan version, and a revision only becomes one if the person
accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace

from agents.errors import PlanError, PlannerError
from agents.llm.calls import CallContext, RetryPolicy
from agents.plan import Plan, Task
from agents.plan.planner import Planner, PlanResult, planner_messages
from agents.plan.roster import Roster
from agents.ports import LLMClient, Message
from agents.run.agent import ModelSettings

KEPT_FIELDS: tuple[str, ...] = ("title", "instructions", "agent", "depends_on", "requires_approval")
"""What a kept task keeps, whatever the model answers."""

Fix = Callable[[Plan], Plan]


# --- the request ---------------------------------------------------------------


def replan_messages(roster: Roster, plan: Plan, comment: str, keep: Iterable[str]) -> list[Message]:
    """The planner's system prompt, then the goal, the plan, the kept ids and the comment."""
    system = planner_messages(roster, plan.goal)[0]
    kept = _kept_ids(plan, keep)
    if kept:
        finished = (
            "These tasks are finished or approved: " + ", ".join(kept) + ". Keep each of them "
            "exactly as it is, with the same id, title, instructions, agent, depends_on and "
            "requires_approval, and keep every task they depend on. Do not give them new "
            "sub-tasks; new tasks may depend on them."
        )
    else:
        finished = "No task has finished yet: every task may change."
    user = "\n\n".join([
        f"Goal: {plan.goal}",
        "The current plan, as JSON:\n" + json.dumps(plan.to_dict(), indent=2, ensure_ascii=False),
        finished,
        "The person's comment on this plan:\n" + comment.strip(),
        "Revise the plan to follow the comment. Keep the id of every task you keep, give new "
        "tasks new ids, and drop the tasks that are no longer needed. Reply with the whole "
        "revised plan as one JSON object in the same shape.",
    ])
    return [system, Message("user", user)]


# --- keeping finished tasks ------------------------------------------------------


def restore_kept(old: Plan, new: Plan, keep: Iterable[str]) -> Plan:
    """`new` with every task of `old` whose id is in `keep` exactly as it was.

    Kept tasks the model changed get their KEPT_FIELDS back (they may have
    moved: position is not kept). Kept tasks it dropped are put back, with
    those fields, under their old parent if the new plan has it, else at the
    top level, at their old row. Ids in `keep` that `old` does not have are
    ignored. Raises PlanError naming the kept tasks that cannot stay as they
    were; the result is not otherwise validated (call validate_plan).
    """
    kept = _kept_ids(old, keep)
    if not kept:
        return new
    before = {t.id: t for t in old.iter_tasks()}
    problems = _new_subtasks(before, new, kept)
    if problems:
        raise PlanError("; ".join(problems))
    result = replace(new, tasks=_restore_fields(new.tasks, {tid: before[tid] for tid in kept}))
    present = {t.id for t in result.iter_tasks()}
    for tid in kept:
        if tid not in present:
            parent, row = _old_place(old, tid, present)
            result = replace(result, tasks=_insert(result.tasks, parent, row, replace(before[tid], children=())))
            present.add(tid)
    problems = _missing_dependencies(result, [before[tid] for tid in kept])
    if problems:
        raise PlanError("; ".join(problems))
    return result


def _kept_ids(plan: Plan, keep: Iterable[str]) -> list[str]:
    """The ids of `plan` in `keep`, in plan order."""
    wanted = set(keep)
    return [t.id for t in plan.iter_tasks() if t.id in wanted]


def _new_subtasks(before: dict[str, Task], new: Plan, kept: list[str]) -> list[str]:
    problems = []
    for task in new.iter_tasks():
        if task.id not in kept:
            continue
        had = {c.id for c in before[task.id].children}
        gained = [c.id for c in task.children if c.id not in had]
        if gained:
            problems.append(
                f"task {task.id!r} is finished and cannot take new sub-tasks "
                f"({', '.join(gained)}); put them in a new group or at the top level"
            )
    return problems


def _missing_dependencies(plan: Plan, kept: list[Task]) -> list[str]:
    ids = {t.id for t in plan.iter_tasks()}
    return [
        f"task {task.id!r} is finished and depends on {dep!r}, which the new plan removes: keep {dep!r}"
        for task in kept
        for dep in task.depends_on
        if dep not in ids
    ]


def _restore_fields(tasks: tuple[Task, ...], kept: dict[str, Task]) -> tuple[Task, ...]:
    out = []
    for task in tasks:
        children = _restore_fields(task.children, kept)
        original = kept.get(task.id)
        if original is not None:
            task = replace(task, **{f: getattr(original, f) for f in KEPT_FIELDS})
        out.append(replace(task, children=children))
    return tuple(out)


def _insert(tasks: tuple[Task, ...], parent: str | None, row: int, task: Task) -> tuple[Task, ...]:
    if parent is None:
        at = min(row, len(tasks))
        return tasks[:at] + (task,) + tasks[at:]
    return tuple(
        replace(t, children=_insert(t.children, None, row, task))
        if t.id == parent
        else replace(t, children=_insert(t.children, parent, row, task))
        for t in tasks
    )


def _old_place(old: Plan, task_id: str, present: set[str]) -> tuple[str | None, int]:
    """Where to put back a dropped task: (parent id or None, row).

    Its old parent and row if the new plan has that parent, else the top
    level at the row of its old top-level ancestor.
    """
    parents = old.parents()
    parent = parents[task_id]
    if parent is not None and parent not in present:
        top = task_id
        while (up := parents[top]) is not None:
            top = up
        parent, task_id = None, top
    siblings = old.task(parent).children if parent is not None else old.tasks
    return parent, next(i for i, s in enumerate(siblings) if s.id == task_id)


# --- the call --------------------------------------------------------------------


async def replan(
    llm: LLMClient,
    roster: Roster,
    settings: ModelSettings,
    ctx: CallContext,
    plan: Plan,
    comment: str,
    keep: set[str],
    retry: RetryPolicy | None = None,
    max_attempts: int = 3,
) -> PlanResult:
    """Ask the orchestrator to revise `plan` after `comment`, keeping the `keep` tasks.

    Returns a validated plan (the goal is `plan.goal`) in which every kept
    task is exactly as in `plan`. Raises PlannerError when no valid answer
    came in `max_attempts` calls, LLMError when a call itself fails.
    """
    if not comment.strip():
        raise ValueError("replan needs a comment saying what to change")
    messages = replan_messages(roster, plan, comment, keep)
    planner = Planner(llm, roster, settings, max_attempts=max_attempts, retry=retry)
    try:
        return await planner.plan_from_messages(
            ctx, plan.goal, messages, fix=lambda new: restore_kept(plan, new, keep), announce=False
        )
    except PlannerError as exc:
        raise PlannerError(f"{exc} The current plan is unchanged.") from None

