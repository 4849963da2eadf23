"""A cost estimate in words, the same in the terminal, the window and the exports."""

from __future__ import annotations

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
        return "estimated: price unknown"
    where = ("within the range" if estimate.total.low <= actual <= estimate.total.high
             else "above the range" if actual > estimate.total.high else "below the range")
    return f"estimated {span(estimate.total)}; actual {money(actual)} is {where}"


__all__ = ["compared", "headline", "money", "notes", "span", "task_cost"]
