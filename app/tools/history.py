"""A run's tool calls as history shows them: `troupe show`, the exports.

Built from the stored events (ToolCallRequested / ToolCallFinished), which
also hold the calls that never ran (denied by policy, rejected by the person)
and those replayed after a restart. Each request is one call; a finished
event closes the latest open request with its call id, so a call replayed on
resume is listed again, marked as replayed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agents.events import ToolCallFinished, ToolCallRequested, event_from_dict

__all__ = ["ToolCallRecord", "short_arguments", "tool_calls_from_events"]

ARGS_MAX = 80
VALUE_MAX = 30

# permission -> how the outcome reads when the call did not fail, or what it says about it
_FAILED_WORDS = {"deny": "denied by policy", "rejected": "rejected by you", "in_doubt_skipped": "skipped",
                 "invalid": "invalid arguments"}
_MARKS = {"ask": "approved", "edited": "with your edit", "overridden": "your answer used",
          "replayed": "replayed from before a restart", "in_doubt_rerun": "in doubt, re-run",
          "in_doubt_overridden": "in doubt, your answer used"}
_DID_NOT_RUN = frozenset({"deny", "rejected", "replayed", "in_doubt_skipped", "in_doubt", "overridden",
                          "in_doubt_overridden", "invalid"})


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call of a run, as stored."""

    task_id: str
    """The task whose agent called it."""
    call_id: str
    """"<task>:<step>:<index>"; the same for a call replayed after a restart."""
    tool: str
    """The tool's name."""
    arguments: str
    """The arguments as the model wrote them (JSON text)."""
    finished: bool
    """False when no result was stored (the run stopped during the call)."""
    error: bool = False
    """The tool failed, or the call was refused."""
    permission: str = ""
    """How it was let through: allow / ask / deny / rejected / replayed / in_doubt_... (events.py)."""
    duration_ms: float = 0.0
    """How long the tool ran."""
    result: str = ""
    """What went back to the model (as cut for the event)."""

    @property
    def outcome(self) -> str:
        """"ok", "error", "denied by policy", "ok · replayed from before a restart", ..."""
        if not self.finished:
            return "no result (the run stopped during the call)"
        word = _FAILED_WORDS.get(self.permission, "error") if self.error else "ok"
        mark = _MARKS.get(self.permission)
        return f"{word} · {mark}" if mark and not self.error else word

    @property
    def duration_text(self) -> str:
        """"12 ms", "1.5 s", or "" for calls that did not run."""
        if not self.finished or self.permission in _DID_NOT_RUN:
            return ""
        ms = self.duration_ms
        return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"

    @property
    def arguments_summary(self) -> str:
        """'{path: "a.txt", n: 3}', cut short."""
        return short_arguments(self.arguments)

    def line(self) -> str:
        """'write_file {path: "a.txt"} → ok, 12 ms'."""
        tail = ", ".join(p for p in (self.outcome, self.duration_text) if p)
        return f"{self.tool} {self.arguments_summary} → {tail}"

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task_id, "call_id": self.call_id, "tool": self.tool,
                "arguments": self.arguments, "outcome": self.outcome, "error": self.error,
                "permission": self.permission, "duration_ms": round(self.duration_ms, 1),
                "finished": self.finished, "result": self.result}


def tool_calls_from_events(events: Iterable[dict[str, Any]]) -> list[ToolCallRecord]:
    """The calls in the order they were requested (stored event dicts in, as Store.events gives)."""
    calls: list[ToolCallRecord] = []
    open_calls: dict[str, int] = {}  # call id -> index of its latest request without a result
    for data in events:
        if data.get("type") not in (ToolCallRequested.kind, ToolCallFinished.kind):
            continue
        event = event_from_dict(data)
        if isinstance(event, ToolCallRequested):
            open_calls[event.call_id] = len(calls)
            calls.append(ToolCallRecord(event.task_id, event.call_id, event.tool, event.arguments, finished=False))
        elif isinstance(event, ToolCallFinished):
            index = open_calls.pop(event.call_id, None)
            arguments = calls[index].arguments if index is not None else ""
            done = ToolCallRecord(event.task_id, event.call_id, event.tool, arguments, finished=True,
                                  error=event.error, permission=event.permission,
                                  duration_ms=event.duration_ms, result=event.result)
            if index is None:
                calls.append(done)
            else:
                calls[index] = done
    return calls


def short_arguments(arguments: str, limit: int = ARGS_MAX, value_limit: int = VALUE_MAX) -> str:
    """'{"path": "a.txt", "n": 3}' -> '{path: "a.txt", n: 3}', cut short; raw text when not JSON."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return cut(" ".join(arguments.split()), limit)
    if not isinstance(value, dict):
        return cut(json.dumps(value, ensure_ascii=False), limit)
    parts = [f"{key}: {cut(json.dumps(item, ensure_ascii=False), value_limit)}" for key, item in value.items()]
    return "{" + cut(", ".join(parts), limit - 2) + "}"


def cut(text: str, limit: int) -> str:
    """`text`, or its first `limit` - 1 characters and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
