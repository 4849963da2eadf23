"""A cost estimate in words, the same in the terminal, the window and the exports."""

from __future__ import annotations

import math

from agents.plan.estimate import DEFAULT_OUTPUT, CostRange, RunEstimate, TaskEstimate


def money(amount: float) -> str:
    """Dollars to about two significant figures: $0.0031, $0.042, $0.12, $3.40."""
    if amount == 0:
        return "$0"
    if amount < 0.01:
        return f"${amount:.4f}"
    if amount < 0.1:
        return f"${amount:.3f}"
    return f"${amount:,.2f}"


def span(cost: CostRange) -> str:
    """"~$0.012 ($0.0040–$0.031)"."""
    if cost.high == 0:
        return "free"
    return f"~{money(cost.expected)} ({money(cost.low)}–{money(cost.high)})"


def task_cost(task: TaskEstimate) -> str:
    """One task's estimate for a table cell: "~$0.003", "free", "price unknown", per item for a map."""
    if task.cost is None:
        return "price unknown"
    if task.per_item is not None:
        return "free" if task.per_item.high == 0 else f"~{money(task.per_item.expected)}/item"
    return "free" if task.cost.high == 0 else f"~{money(task.cost.expected)}"


def estimate_tip(task: TaskEstimate) -> str:
    """A task's estimate in full, for a tooltip."""
    low, expected, high = task.calls
    calls = f"{round(expected)} model call{'s' if round(expected) != 1 else ''}" + (
        f" ({math.ceil(low)}–{math.ceil(high)})" if math.ceil(low) != math.ceil(high) else "")
    source = (f"answer lengths from {task.history_samples} earlier calls" if task.history_samples
              else f"no history: ~{DEFAULT_OUTPUT.expected:.0f} tokens an answer assumed")
    lines = [f"Estimated before the run: {task_cost(task)}"]
    if task.per_item is not None and task.cost is not None:
        lines.append(f"{span(task.per_item)} per item; at most {task.max_items} items ({money(task.cost.high)})")
    elif task.cost is not None:
        lines.append(span(task.cost))
    else:
        lines.append("Its model has no known price: set one in Settings › Providers")
    if task.one_of:
        lines.append("Runs only if its route chooses it")
    lines.append(f"{calls}, ~{task.usage.total:,} tokens; {source}")
    return "\n".join(lines)


def headline(estimate: RunEstimate) -> str:
    """One line: "Estimated cost: ~$0.012 ($0.0040–$0.031)", "free", or what could not be priced."""
    if estimate.free:
        return "Estimated cost: free (every model runs on this machine)"
    if estimate.unpriced and estimate.total.high == 0:
        return "Estimated cost: price unknown (no known price for the models it uses)"
    more = " + tasks of unknown price" if estimate.unpriced else ""
    return f"Estimated cost: {span(estimate.total)}{more}"


def notes(estimate: RunEstimate) -> list[str]:
    """What the person should know to trust the figure (each a short sentence)."""
    out = []
    for task in estimate.tasks:
        if task.per_item is not None and task.cost is not None and task.per_item.high > 0:
            out.append(f"“{task.title}” works through a list not made yet: "
                       f"~{money(task.per_item.expected)} per item, at most {task.max_items} items "
                       f"({money(task.cost.high)})")
    if estimate.unpriced:
        names = ", ".join(f"“{t}”" for t in estimate.unpriced[:4]) + (" …" if len(estimate.unpriced) > 4 else "")
        out.append(f"No known price for {names}: set one in Settings › Providers "
                   "or `troupe providers price`")
    if estimate.defaults_used and not estimate.free:
        out.append(f"No history yet for some roles: assumes ~{DEFAULT_OUTPUT.expected:.0f} tokens an answer")
    return out


def compared(estimate: RunEstimate, actual: float) -> str:
    """After a run: "estimated ~$0.012 ($0.0040–$0.031); actual is within the range"."""
    if estimate.free:
        return "estimated free"
    if estimate.unpriced and estimate.total.high == 0:
        return "estimated: price unknown (no known price for its models)"
    whole = estimate.whole_run
    where = ("within the range" if whole.low <= actual <= whole.high
             else "above the range" if actual > whole.high else "below the range")
    planning = f" with planning's {money(estimate.spent_before)}" if estimate.spent_before else ""
    return f"estimated {span(whole)}{planning}; actual {money(actual)} is {where}"


__all__ = ["compared", "estimate_tip", "headline", "money", "notes", "span", "task_cost"]
