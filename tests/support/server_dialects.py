"""How local OpenAI-compatible servers depart from OpenAI's wire format, for the
ScriptedServer to play (`ScriptedServer(dialect=LLAMA_CPP)`).

Each dialect is what was seen of the real server:

- LLAMA_CPP (llama-cpp-python's server): `response_format` may only be `text` or
  `json_object` (with a `schema`); anything else is a 500 naming the validation
  error. Tools are ignored without `tool_choice`; with `tool_choice: "auto"` a
  streamed request gets a 200 and an empty body (its handler raises "Automatic
  streaming tool choice is not supported" after the headers went out), a
  non-streamed one answers the tool calls. No usage in streams. One request at
  a time: a stream is cut with `[DONE]` and no finish reason as soon as another
  request waits (its `interrupt_requests`).
- OLLAMA: takes `json_schema` (as its `format`), sends usage in the chunk that
  carries the finish reason.
- LM_STUDIO: refuses `json_object` (400: it wants `json_schema` or `text`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.llm_script import RecordedRequest, Reply


@dataclass(frozen=True)
class Dialect:
    """What one kind of local server does differently."""

    name: str
    refused_formats: frozenset[str] = frozenset()
    """response_format types it refuses."""
    refusal: Reply | None = None
    """What it answers a refused response_format."""
    streams_tools: bool = True
    """False: a streamed request with tools and tool_choice "auto" gets an empty 200."""
    needs_tool_choice: bool = False
    """True: without tool_choice it ignores the tools (answers text only)."""
    usage_in_stream: bool = True
    """False: streams carry no usage, whatever stream_options say."""
    usage_with_finish: bool = False
    """Usage rides in the chunk with the finish reason (Ollama), not a chunk of its own."""
    one_at_a_time: bool = False
    """Serves one request at a time and cuts a stream short ([DONE], no finish reason)
    when another request waits."""

    def refuses(self, request: RecordedRequest) -> Reply | None:
        """What this server answers a request it refuses (before any script is asked)."""
        body = request.body or {}
        kind = (body.get("response_format") or {}).get("type")
        if kind in self.refused_formats and self.refusal is not None:
            return self.refusal
        tools, choice = body.get("tools"), body.get("tool_choice")
        if tools and choice == "auto" and request.stream and not self.streams_tools:
            # "Automatic streaming tool choice is not supported", raised after the 200 went out
            return Reply(empty_stream=True)
        return None

    def answer(self, request: RecordedRequest, reply: Reply) -> Reply:
        """The reply this server really gives where the script says `reply`."""
        if reply.tool_calls and self.needs_tool_choice and not (request.body or {}).get("tool_choice"):
            return reply.but(tool_calls=(), text=reply.text or "I would call a tool here.")
        return reply


LLAMA_CPP = Dialect(
    "llama-cpp-python",
    refused_formats=frozenset({"json_schema"}),
    refusal=Reply.error(
        500,
        "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', "
        "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}",
        type="internal_server_error",
    ),
    streams_tools=False,
    needs_tool_choice=True,
    usage_in_stream=False,
    one_at_a_time=True,
)
OLLAMA = Dialect("ollama", usage_with_finish=True)
LM_STUDIO = Dialect(
    "lmstudio",
    refused_formats=frozenset({"json_object"}),
    refusal=Reply.error(400, "'response_format.type' must be 'json_schema' or 'text'"),
)
