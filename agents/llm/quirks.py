"""What a server cannot do, learned from its refusals and remembered for the process.

Local OpenAI-compatible servers each speak a part of the wire format:
llama-cpp-python's server refuses `response_format` of type `json_schema` (it takes
`json_object` with a `schema`), LM Studio refuses `json_object`, llama.cpp's
function-calling handler cannot stream tool calls. The adapter (client.py) asks
the best form first and, when the server rejects a form as invalid, notes it here
(per server and model) and sends the next form at once; later calls start from
what was learned.

    form = json_form(where, model)            # JsonForm.SCHEMA until refused
    json_refused(where, model, form)          # -> the next form, or None
    streams_tools(where, model) / tool_stream_refused(where, model)
"""

from __future__ import annotations

import re
import threading
from enum import StrEnum

__all__ = [
    "JsonForm",
    "forget",
    "json_form",
    "json_refused",
    "rejects_format",
    "rejects_tool_stream",
    "streams_tools",
    "tool_stream_refused",
]


class JsonForm(StrEnum):
    """How a call asks for JSON, best first."""

    SCHEMA = "json_schema"
    """`response_format: {"type": "json_schema", "json_schema": {...}}` (OpenAI's form)."""
    OBJECT = "json_object"
    """`response_format: {"type": "json_object", "schema": {...}}` (llama-cpp-python's form)."""
    PROMPT = "prompt"
    """No response_format: the prompt asks for JSON and the caller repairs what comes back."""


_ORDER = (JsonForm.SCHEMA, JsonForm.OBJECT, JsonForm.PROMPT)

_lock = threading.Lock()
_json: dict[tuple[str, str], JsonForm] = {}
"""(server, model) -> the form that server takes (absent: SCHEMA, untried)."""
_no_tool_stream: set[tuple[str, str]] = set()
"""(server, model) pairs that answer tool calls only without streaming."""


def json_form(where: str, model: str) -> JsonForm:
    """The form to ask `model` at `where` (a base URL or provider) for JSON in."""
    return _json.get((where, model), JsonForm.SCHEMA)


def json_refused(where: str, model: str, form: JsonForm) -> JsonForm | None:
    """The server refused `form`: remember the next one and return it (None: none left)."""
    later = _ORDER[_ORDER.index(form) + 1 :]
    if not later:
        return None
    with _lock:
        current = _json.get((where, model), JsonForm.SCHEMA)
        if _ORDER.index(current) <= _ORDER.index(form):  # a call already further on wins
            _json[(where, model)] = later[0]
        return _json[(where, model)]


def streams_tools(where: str, model: str) -> bool:
    """False once the server refused to stream an answer that may call tools."""
    return (where, model) not in _no_tool_stream


def tool_stream_refused(where: str, model: str) -> None:
    with _lock:
        _no_tool_stream.add((where, model))


def forget() -> None:
    """Forget everything learned (tests)."""
    with _lock:
        _json.clear()
        _no_tool_stream.clear()


# --- reading a refusal ----------------------------------------------------------------

_ABOUT_FORMAT = re.compile(r"response_format|json_schema|json_object|\bschema\b|\bformat\b|grammar", re.I)
_TOOL_STREAM = re.compile(r"stream", re.I)
_ABOUT_TOOLS = re.compile(r"\btool|function", re.I)


def rejects_format(said: str) -> bool:
    """An invalid-request message that is about the requested JSON format."""
    return bool(_ABOUT_FORMAT.search(said))


def rejects_tool_stream(said: str) -> bool:
    """An invalid-request message saying tool calls cannot be streamed
    (llama-cpp-python: "Automatic streaming tool choice is not supported")."""
    return bool(_TOOL_STREAM.search(said) and _ABOUT_TOOLS.search(said))
