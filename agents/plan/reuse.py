"""Which finished tasks a new run of a plan may keep instead of asking a model again."""

from __future__ import annotations

from collections.abc import Iterable

from agents.plan.model import Plan, Task, leaf_dependencies
from agents.plan.patterns import Route


def reusable_tasks(ran: Plan, new: Plan, finished: Iterable[str], retry: Iterable[str] = ()) -> set[str]:
    """Leaves of `new` whose finished result (from a run of `ran`) still holds.

    A leaf keeps its result when it finished, the person did not ask for it
    again (`retry`), its agent, instructions, pattern and dependencies are unchanged,
    and every task it depends on keeps its result too (new inputs, new answer), or
    is a route's task the route did not choose while that route keeps its choice.
    """
    done, again = set(finished), set(retry)
    old_tasks = {t.id: t for t in ran.iter_tasks()}
    old_deps, new_deps = leaf_dependencies(ran), leaf_dependencies(new)
    keep: dict[str, bool] = {}

    def holds(task: Task) -> bool:
        if task.id not in keep:
            keep[task.id] = False  # a cycle (invalid plan) keeps nothing
            before = old_tasks.get(task.id)
            keep[task.id] = (
                task.id in done and task.id not in again and before is not None
                and _same_work(before, task) and old_deps.get(task.id) == new_deps[task.id]
                and all(holds(by_id[d]) or not_chosen(d) for d in new_deps[task.id])
            )
        return keep[task.id]

    def not_chosen(tid: str) -> bool:
        # a finished task went on without this route's task: the route chose another
        router = routers.get(tid)
        return tid not in done and router is not None and holds(router)

    by_id = {t.id: t for t in new.iter_tasks() if not t.is_group}
    routers = {leaf: by_id[router] for leaf, router in _routers(new).items()}
    return {tid for tid, task in by_id.items() if holds(task)}


def reusable_steps(ran: Plan, new: Plan, finished: Iterable[str], kept: Iterable[str]) -> set[str]:
    """Leaves of `new` that run again and may replay the steps (drafts, votes, items,
    a person's answer to a conflict) an earlier start of `ran` finished, instead of
    asking again.

    The same rule as `reusable_tasks`, for work cut off rather than finished: a
    leaf's steps still hold when it did not finish (a task that finished and runs
    again does so on purpose or for new inputs: its steps are stale), its agent,
    instructions, pattern and dependencies are unchanged, and every task it
    depends on keeps its result in this start (`kept`), or is a route's task the
    route (kept) did not choose: its inputs are the ones its steps saw.
    """
    done, keep = set(finished), set(kept)
    old_tasks = {t.id: t for t in ran.iter_tasks()}
    old_deps, new_deps = leaf_dependencies(ran), leaf_dependencies(new)
    routers = _routers(new)
    out: set[str] = set()
    for task in new.leaves():
        before = old_tasks.get(task.id)
        inputs_kept = all(d in keep or (d not in done and routers.get(d) in keep) for d in new_deps[task.id])
        if (task.id not in done and before is not None and _same_work(before, task)
                and old_deps.get(task.id) == new_deps[task.id] and inputs_kept):
            out.add(task.id)
    return out


def _routers(plan: Plan) -> dict[str, str]:
    """Each leaf a route may choose (or not), by the id of its router."""
    return {leaf: task.id for task in plan.leaves() if isinstance(task.pattern, Route)
            for _, target in task.pattern.routes for leaf in _leaves(plan, target)}


def _leaves(plan: Plan, task_id: str) -> list[str]:
    """The leaf ids of a task (itself when it is a leaf); none for an unknown id."""
    try:
        task = plan.task(task_id)
    except KeyError:
        return []
    return [task.id] if not task.is_group else [t.id for t in Plan("", task.children).iter_tasks()
                                                  if not t.is_group]


def _same_work(before: Task, after: Task) -> bool:
    """The same agent, instructions and pattern (a new reviewer or vote is new work)."""
    return (before.agent == after.agent and before.instructions.strip() == after.instructions.strip()
            and before.pattern == after.pattern)
