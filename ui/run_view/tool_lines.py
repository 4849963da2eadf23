"""Tool calls as lines of the live output: "⚙ write_file {path: "a.txt"} → ok, 12 ms".

Plain text (no Qt) so the pane keeps one text buffer per task; the pane's
highlighter colours the lines by their TOOL_PREFIX / RESULT_PREFIX and the
" → " status words.
"""

from __future__ import annotations

from app.tools.history import cut, short_arguments

TOOL_PREFIX = "⚙ "
RESULT_PREFIX = "  │ "
ARGS_MAX = 100
VALUE_MAX = 40
RESULT_LINES = 3
RESULT_LINE_MAX = 160

ERROR_WORDS = (" → error", " → denied", " → rejected", " → skipped", " → invalid")
"""A finished line with one of these is shown in the failure colour."""

# permission -> (status word when it did not fail, mark appended after the duration)
_MARKS: dict[str, str] = {
    "overridden": "your answer used",
    "edited": "your edit",
    "invalid": "invalid arguments",
    "replayed": "replayed from before a restart",
    "in_doubt": "in doubt, not re-run",
    "in_doubt_rerun": "in doubt, re-run",
    "in_doubt_skipped": "in doubt, skipped",
    "in_doubt_overridden": "in doubt, your answer used",
}


def summarize_arguments(arguments: str) -> str:
    """'{"path": "a.txt", "n": 3}' -> '{path: "a.txt", n: 3}', shortened; raw text when not JSON."""
    return short_arguments(arguments, ARGS_MAX, VALUE_MAX)


def call_head(tool: str, arguments: str) -> str:
    """The start of a call's line (no newline)."""
    return f"{TOOL_PREFIX}{tool} {summarize_arguments(arguments)}"


def duration_text(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def outcome(error: bool, duration_ms: float, permission: str) -> str:
    """' → ok, 12 ms' / ' → error, 3 ms · denied by policy' (no newline)."""
    if not error:
        word = "ok"
    elif permission == "deny":
        word = "denied by policy"
    elif permission == "rejected":
        word = "rejected by you"
    elif permission == "in_doubt_skipped":
        word = "skipped"
    elif permission == "invalid":
        word = "invalid"
    else:
        word = "error"
    parts = [word]
    if duration_ms > 0 or permission not in ("deny", "rejected", "replayed", "in_doubt_skipped", "in_doubt"):
        parts.append(duration_text(duration_ms))
    text = " → " + ", ".join(parts)
    mark = _MARKS.get(permission)
    return f"{text} · {mark}" if mark else text


def result_lines(result: str, permission: str = "") -> str:
    """The first RESULT_LINES non-empty lines of a result, indented, each ending in a newline.

    None for calls refused by policy or by the person: the outcome already says so.
    """
    if permission in ("deny", "rejected"):
        return ""
    lines = [line.rstrip() for line in result.splitlines() if line.strip()]
    shown = [RESULT_PREFIX + cut(line, RESULT_LINE_MAX) + "\n" for line in lines[:RESULT_LINES]]
    if len(lines) > RESULT_LINES:
        more = len(lines) - RESULT_LINES
        shown.append(f"{RESULT_PREFIX}… {more} more line{'s' if more > 1 else ''}\n")
    return "".join(shown)
