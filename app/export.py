"""Exports of a finished (or partial) run: Markdown, standalone HTML, JSON.

Built from the stored run only, which never holds keys.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

import markdown

from app.storage import RunDetail

FORMATS = ("md", "html", "json")


def run_to_dict(run: RunDetail) -> dict[str, Any]:
    """The `troupe show --json` shape."""
    return {
        "id": run.id,
        "project": run.project,
        "goal": run.goal,
        "status": run.status,
        "created": run.created,
        "settings": run.settings,
        "tasks": [
            {
                "id": t.task_id, "title": t.title, "agent": t.agent, "status": t.status,
                "attempts": t.attempts, "output": t.output,
                "tokens": t.prompt_tokens + t.completion_tokens, "cost": t.cost,
                "parent": t.parent_id, "depends_on": list(t.depends_on), "error": t.error,
            }
            for t in run.tasks
        ],
        "deliverable": run.deliverable,
        "tokens": run.total_tokens,
        "cost": run.cost,
        "error": run.error,
    }


def to_markdown(run: RunDetail) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
    parts = [f"# {run.goal}", f"_Troupe run {run.id}, {when}, {run.status}; "
             f"{run.total_tokens} tokens, ${run.cost:.4f}_"]
    if run.deliverable:
        parts.append(run.deliverable.strip())
    parts.append("---\n\n## Appendix: task results")
    for task in run.tasks:
        body = (task.output or "").strip() or f"_{task.status}{': ' + task.error if task.error else ''}_"
        parts.append(f"### {task.title} ({task.agent}, {task.status})\n\n{body}")
    return "\n\n".join(parts) + "\n"


def to_html(run: RunDetail) -> str:
    body = markdown.markdown(to_markdown(run), extensions=["fenced_code", "tables"])
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(run.goal)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.55}pre{background:#f4f4f6;padding:.8rem;overflow:auto}"
        "code{font-family:ui-monospace,monospace}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def export_run(run: RunDetail, fmt: str) -> str:
    if fmt == "md":
        return to_markdown(run)
    if fmt == "html":
        return to_html(run)
    if fmt == "json":
        return json.dumps(run_to_dict(run), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
