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

from agents.run.state import RunState
from app.safe_text import safe_json, safe_text
from app.storage import RunDetail
from app.storage.run_state import stored_run_state
from app.tools.history import ToolCallRecord, tool_calls_from_events

if TYPE_CHECKING:
    from app.storage import Store

Calls = Sequence[ToolCallRecord]

FORMATS = ("md", "html", "json")


def run_to_dict(run: RunDetail, calls: Calls, state: RunState) -> dict[str, Any]:
    """The `troupe show --json` shape; each task lists its tool calls.

    Statuses, attempts, outputs and totals are the fold of the run's events
    (`state`, from app.storage.run_state.stored_run_state); the stored run
    gives its id, project, settings, deliverable and error.
    """
    wiring = dict(_wiring(state.plan.get("tasks") or ()))
    tasks = []
    for t in state.tasks.values():
        parent, depends_on = wiring.get(t.task_id, (None, []))
        tasks.append({
            "id": t.task_id, "title": t.title, "agent": t.agent, "status": t.status.value,
            "attempts": t.attempts, "output": t.output or None, "tokens": t.tokens, "cost": t.cost,
            "parent": parent, "depends_on": depends_on, "error": t.error or None,
            "tool_calls": [c.to_dict() for c in calls if c.task_id == t.task_id],
        })
    return {
        "id": run.id, "project": run.project, "goal": run.goal, "status": state.status.value,
        "partial": state.partial, "created": run.created, "settings": run.settings, "tasks": tasks,
        "deliverable": run.deliverable, "tokens": state.total_tokens, "cost": state.cost, "error": run.error,
    }


def _wiring(tasks: Iterable[Any], parent: str | None = None) -> Iterator[tuple[str, tuple[str | None, list[str]]]]:
    """(task id, (its group, what it depends on)) for every task of a plan dict's list."""
    for task in tasks:
        if isinstance(task, Mapping):
            yield str(task.get("id", "")), (parent, [str(d) for d in task.get("depends_on") or ()])
            yield from _wiring(task.get("children") or (), str(task.get("id", "")))


def to_markdown(run: RunDetail, calls: Calls = ()) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
    parts = [f"# {run.goal}", f"_Troupe run {run.id}, {when}, {run.status}; "
             f"{run.total_tokens} tokens, ${run.cost:.4f}_"]
    if run.deliverable:
        parts.append(run.deliverable.strip())
    parts.append("---\n\n## Appendix: task results")
    for task in run.tasks:
        body = (task.output or "").strip() or f"_{task.status}{': ' + task.error if task.error else ''}_"
        parts.append(f"### {task.title} ({task.agent}, {task.status})\n\n{body}")
        mine = [c for c in calls if c.task_id == task.task_id]
        if mine:
            parts.append("Tool calls:\n\n" + "\n".join(_markdown_call(c) for c in mine))
    return safe_text("\n\n".join(parts) + "\n")  # no NUL, no terminal escapes (the run keeps them)


def _markdown_call(call: ToolCallRecord) -> str:
    tail = ", ".join(p for p in (call.outcome, call.duration_text) if p)
    return f"- {_code(f'{call.tool} {call.arguments_summary}')} → {tail}"


def _code(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks it holds."""
    fence = "`"
    while fence in text:
        fence += "`"
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def to_html(run: RunDetail, calls: Calls = ()) -> str:
    body = markdown.markdown(to_markdown(run, calls), extensions=["fenced_code", "tables"])
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(safe_text(run.goal))}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.55}pre{background:#f4f4f6;padding:.8rem;overflow:auto}"
        "code{font-family:ui-monospace,monospace}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def export_run(run: RunDetail, fmt: str, calls: Calls, state: RunState) -> str:
    if fmt == "md":
        return to_markdown(run, calls)
    if fmt == "html":
        return to_html(run, calls)
    if fmt == "json":  # keeps every character: json escapes them
        return safe_json(run_to_dict(run, calls, state), indent=2) + "\n"
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")


def export_stored_run(store: Store, run_id: str, fmt: str) -> str:
    """A stored run with its tool calls (raises KeyError for an unknown run)."""
    run = store.get_run(run_id)
    return export_run(run, fmt, stored_tool_calls(store, run_id), stored_run_state(store, run))


def stored_tool_calls(store: Store, run_id: str) -> list[ToolCallRecord]:
    return tool_calls_from_events(store.events(run_id))
