"""Exports of a finished (or partial) run: Markdown, standalone HTML, JSON.

Built from the stored run only, which never holds keys: its RunDetail and
its tool calls (app/tools/history.py, from the stored events).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import markdown

from agents.plan.estimate import RunEstimate
from agents.run.state import RunState, StepState
from app.approval_text import kind_name
from app.cost_text import cost_text
from app.estimate_text import compared
from app.safe_text import safe_json, safe_text
from app.storage import RunDetail
from app.storage.run_state import stored_run_state
from app.team_history import ConflictRecord, conflicts_from_events, short_text, step_to_dict
from app.tools.history import ToolCallRecord, tool_calls_from_events

if TYPE_CHECKING:
    from app.storage import Store

Calls = Sequence[ToolCallRecord]
Conflicts = Sequence[ConflictRecord]

FORMATS = ("md", "html", "json")


def run_to_dict(run: RunDetail, calls: Calls, state: RunState, conflicts: Conflicts = ()) -> dict[str, Any]:
    """The `troupe show --json` shape; each task lists its tool calls, and a task with
    a pattern its steps (outputs in full) and conflicts; `conflicts` lists them all.

    Statuses, attempts, outputs and totals are the fold of the run's events
    (`state`, from app.storage.run_state.stored_run_state); the stored run
    gives its id, project, settings, deliverable and error.
    """
    wiring = dict(_wiring(state.plan.get("tasks") or ()))
    patterns = dict(_patterns(state.plan.get("tasks") or ()))
    tasks = []
    for t in state.tasks.values():
        parent, depends_on = wiring.get(t.task_id, (None, []))
        tasks.append({
            "id": t.task_id, "title": t.title, "agent": t.agent, "status": t.status.value,
            "attempts": t.attempts, "output": t.output or None, "tokens": t.tokens, "cost": t.cost,
            "parent": parent, "depends_on": depends_on, "error": t.error or None,
            "pattern": patterns.get(t.task_id),
            "tool_calls": [c.to_dict() for c in calls if c.task_id == t.task_id],
            "steps": [step_to_dict(s) for s in t.steps.values()],
            "conflicts": [c.to_dict() for c in conflicts if c.task_id == t.task_id],
        })
    return {
        "id": run.id, "project": run.project, "goal": run.goal, "status": state.status.value,
        "partial": state.partial, "created": run.created, "settings": run.settings, "tasks": tasks,
        "conflicts": [c.to_dict() for c in conflicts],
        "deliverable": run.deliverable, "tokens": state.total_tokens, "cost": state.cost, "error": run.error,
        "unpriced_calls": run.unpriced_calls, "tokens_estimated": run.estimated_calls > 0,
        "estimate": run.estimate,
        "budget_usd": state.budget_usd, "deadline": state.deadline,
    }


def _patterns(tasks: Iterable[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(task id, its pattern's plan-file fields) for every task of a plan dict's list with a pattern."""
    for task in tasks:
        if not isinstance(task, Mapping):
            continue
        if task.get("pattern") and task.get("pattern") != "single":
            keep = ("pattern", "reviewer", "max_rounds", "voters", "samples", "judge", "debaters", "rounds",
                    "max_subtasks", "max_depth", "over", "max_items", "routes")
            yield str(task.get("id", "")), {k: task[k] for k in keep if k in task}
        yield from _patterns(task.get("children") or ())


def _wiring(tasks: Iterable[Any], parent: str | None = None) -> Iterator[tuple[str, tuple[str | None, list[str]]]]:
    """(task id, (its group, what it depends on)) for every task of a plan dict's list."""
    for task in tasks:
        if isinstance(task, Mapping):
            yield str(task.get("id", "")), (parent, [str(d) for d in task.get("depends_on") or ()])
            yield from _wiring(task.get("children") or (), str(task.get("id", "")))


def to_markdown(run: RunDetail, calls: Calls = (), state: RunState | None = None,
                conflicts: Conflicts = ()) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
    parts = [f"# {run.goal}", f"_Troupe run {run.id}, {when}, {run.status}; "
             f"{'~' if run.estimated_calls else ''}{run.total_tokens} tokens, "
             f"{cost_text(run.cost, run.unpriced_calls)}_"]
    if run.estimate:
        said = compared(RunEstimate.from_dict(run.estimate), run.cost)
        parts.append(f"_{said[:1].upper() + said[1:]}_")
    if run.deliverable:
        parts.append(run.deliverable.strip())
    parts.append("---\n\n## Appendix: task results")
    for task in run.tasks:
        body = (task.output or "").strip() or f"_{task.status}{': ' + task.error if task.error else ''}_"
        parts.append(f"### {task.title} ({task.agent}, {task.status})\n\n{body}")
        mine = [c for c in calls if c.task_id == task.task_id]
        if mine:
            parts.append("Tool calls:\n\n" + "\n".join(_markdown_call(c) for c in mine))
        folded = state.tasks.get(task.task_id) if state is not None else None
        if folded is not None and folded.steps:
            parts.append("Steps:\n\n" + "\n".join(_markdown_step(s) for s in folded.steps.values()))
        parts += [_markdown_conflict(c) for c in conflicts if c.task_id == task.task_id]
    return safe_text("\n\n".join(parts) + "\n")  # no NUL, no terminal escapes (the run keeps them)


def _markdown_call(call: ToolCallRecord) -> str:
    tail = ", ".join(p for p in (call.outcome, call.duration_text) if p)
    return f"- {_code(f'{call.tool} {call.arguments_summary}')} → {tail}"


def _markdown_step(step: StepState) -> str:
    what = step.note or ("failed: " + step.error if step.status == "failed" else
                         "unfinished" if step.status == "running" else "")
    said = short_text(step.output, 100) if step.status == "done" else ""
    tail = " — ".join(p for p in (what, _code(said) if said else "") if p)
    return f"- **{_escape(step.step)}** ({_escape(step.agent)})" + (f": {tail}" if tail else "") + (
        " _(replayed)_" if step.replayed else "")


def _markdown_conflict(record: ConflictRecord) -> str:
    question = record.question
    lines = [f"**Conflict ({kind_name(question.kind)})**: {_escape(question.why)}", ""]
    for number, claim in enumerate(question.claims, 1):
        lines.append(f"{number}. **{_escape(claim.who)}**")
        lines.append("")
        lines += [f"   > {line}".rstrip() for line in claim.text.strip().splitlines() or [""]]
        lines.append("")
    who = record.decided_by
    lines.append(f"_{who[:1].upper() + who[1:]}: {_escape(record.resolution)}._" if who
                 else "_Not answered._")
    return "\n".join(lines)


def _escape(text: str) -> str:
    """Plain text inside Markdown: the characters that would start emphasis or code, escaped."""
    return "".join("\\" + ch if ch in "\\`*_[]<>" else ch for ch in text)


def _code(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks it holds."""
    fence = "`"
    while fence in text:
        fence += "`"
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def to_html(run: RunDetail, calls: Calls = (), state: RunState | None = None,
            conflicts: Conflicts = ()) -> str:
    body = markdown.markdown(to_markdown(run, calls, state, conflicts), extensions=["fenced_code", "tables"])
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(safe_text(run.goal))}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.55}pre{background:#f4f4f6;padding:.8rem;overflow:auto}"
        "code{font-family:ui-monospace,monospace}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def export_run(run: RunDetail, fmt: str, calls: Calls, state: RunState, conflicts: Conflicts = ()) -> str:
    if fmt == "md":
        return to_markdown(run, calls, state, conflicts)
    if fmt == "html":
        return to_html(run, calls, state, conflicts)
    if fmt == "json":  # keeps every character: json escapes them
        return safe_json(run_to_dict(run, calls, state, conflicts), indent=2) + "\n"
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")


def export_stored_run(store: Store, run_id: str, fmt: str) -> str:
    """A stored run with its tool calls (raises KeyError for an unknown run)."""
    run = store.get_run(run_id)
    events = store.events(run_id)
    return export_run(run, fmt, tool_calls_from_events(events), stored_run_state(store, run),
                      conflicts_from_events(events))


def stored_tool_calls(store: Store, run_id: str) -> list[ToolCallRecord]:
    return tool_calls_from_events(store.events(run_id))
