"""The direct route's pieces: one call prepared against litellm's knowledge (`_Call`),
the request parameters litellm maps for it, and reading an OpenAI-wire SSE answer off
the socket without starving the event loop.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agents.llm.errors import _dropped, _raise_error_payload
from agents.llm.litellm_info import _mapped_params
from agents.llm.pacing import Pacer
from agents.llm.quirks import JsonForm
from agents.llm.stream import ToolCallParts
from agents.ports import LLMRequest, Message

# What litellm may map a request to and still have sent a plain OpenAI request.
_PLAIN_PARAMS = frozenset(
    {"temperature", "max_tokens", "max_completion_tokens", "stream", "stream_options",
     "response_format", "extra_body", "tools", "tool_choice"}
)  # fmt: skip

def _proxies_configured() -> bool:
    import urllib.request  # noqa: PLC0415 - 20 ms to import, not at start-up

    return bool(urllib.request.getproxies())



# --- one prepared call ---------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    """A request resolved against litellm's provider knowledge."""

    request: LLMRequest
    model: str
    """The provider's own name for the model (no "openai/" prefix)."""
    provider: str
    api_base: str | None
    api_key: str | None = field(repr=False)
    response_format: dict[str, Any] | None
    optional: dict[str, Any] | None
    """The request's parameters as litellm maps them for the provider, when the
    direct route serves this call; None: the call goes through litellm.acompletion."""
    started: float
    """perf_counter() when the request was ready to send (a Response's latency starts here)."""
    json_form: JsonForm | None = None
    """The form JSON is asked in (agents/llm/quirks.py); None: no JSON asked for."""

    @property
    def server(self) -> tuple[str, str]:
        """(where, model): what quirks.py remembers a server's refusals under."""
        return (self.api_base or self.provider).rstrip("/"), self.model

    @property
    def where(self) -> str:
        """Where the call goes, for messages (without any user:password@)."""
        if self.api_base is None:
            return f"the {self.provider} API"
        return re.sub(r"//[^/@]*@", "//", self.api_base)

    def messages(self) -> list[dict[str, Any]]:
        return [_message_dict(m) for m in self.request.messages]


def _message_dict(m: Message) -> dict[str, Any]:
    """One message in OpenAI's form, tool calls and results included."""
    if m.tool_call_id is not None:
        return {"role": m.role, "tool_call_id": m.tool_call_id, "content": m.content}
    if not m.tool_calls:
        return {"role": m.role, "content": m.content}
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in m.tool_calls
    ]
    # "" rather than null: llama-cpp-python refuses a null, its templates need the field
    return {"role": m.role, "content": m.content or "", "tool_calls": calls}


@dataclass
class _Answer:
    """What a direct stream has said so far."""

    parts: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    finished: bool = False
    tools: ToolCallParts = field(default_factory=ToolCallParts)
    chunks: int = 0
    """SSE chunks taken in so far."""

    def add(self, chunk: Any, call: _Call) -> list[str]:
        """Take in one SSE chunk; returns its pieces of text."""
        _raise_error_payload(chunk, call)
        self.chunks += 1
        texts = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                texts.append(text)
            if delta.get("tool_calls"):
                self.tools.add(delta["tool_calls"])
            if choice.get("finish_reason"):
                self.finished = True
        self.parts += texts
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        return texts


async def _read_block(response: Any, call: _Call, parts: list[str]) -> bytes:
    """Whatever the connection has buffered (b"" at the end of the body)."""
    try:
        return await response.content.readany()
    except TimeoutError:
        raise
    except Exception as exc:  # the body broke off after a 200: a dropped stream
        raise _dropped(call, parts) from exc


async def _turn_with_socket_unread(response: Any, turns: Pacer) -> None:
    """Wait for a turn of the busy loop without reading this stream meanwhile.

    Under qasync each read of a socket costs ~0.1 ms of the UI thread (a
    notifier, two loop callbacks, a wake-up): 300 streams read a chunk at a time
    kept the thread saturated. Paused, the socket gathers what arrives and the
    next read takes it in one go.
    """
    connection = response.connection
    transport = connection.transport if connection is not None else None
    if transport is None or not transport.is_reading():  # e.g. aiohttp's own flow control
        await turns.wait()
        return
    transport.pause_reading()
    try:
        await turns.wait()
    finally:
        transport.resume_reading()



def _optional_params(call: _Call, *, stream: bool) -> dict[str, Any]:
    """litellm's mapping of the request's parameters for this provider and model."""
    request = call.request
    response_format = json.dumps(call.response_format) if call.response_format else None
    tools = json.dumps(request.tools) if request.tools else None
    mapped = _mapped_params(
        call.model, call.provider, request.temperature, request.max_tokens, response_format,
        stream, tools, "auto" if tools else None,  # without tool_choice some servers ignore tools
    )
    return json.loads(mapped)

