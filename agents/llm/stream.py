"""Server-sent events out of the bytes of a streamed answer, as they arrive.

The direct route (agents/llm/client.py, direct.py) reads whatever the connection has buffered
in one go and splits it here, instead of one `readline()` per line: aiohttp's
readline costs ~15 µs a line (buffer bookkeeping, flow control), twice per
chunk with SSE's blank lines, which at 300 streams was most of a chunk's cost.
A burst of payloads is then parsed in one json.loads (a third of the cost).
"""

from __future__ import annotations

import json
from typing import Any

from agents.ports import ToolCall

__all__ = ["SSEDecoder", "ToolCallParts", "decode_payloads", "whole_tool_calls"]


class SSEDecoder:
    """Splits arriving bytes into the payloads of `data:` lines, across reads."""

    STRAY_LIMIT = 64 * 1024
    """At most this much of what is not SSE is kept (`stray`)."""

    def __init__(self) -> None:
        self._tail = b""
        self.done = False
        """The `data: [DONE]` line has been seen; nothing after it is read."""
        self.stray: list[bytes] = []
        """Lines that are not SSE at all (up to STRAY_LIMIT): a server that answered
        a stream with a plain JSON body (an error with status 200) said it here."""
        self._stray_size = 0

    def feed(self, block: bytes) -> list[bytes]:
        """The payloads of the lines `block` completes (the last line may be partial)."""
        if self.done:
            return []
        lines = (self._tail + block).split(b"\n") if self._tail else block.split(b"\n")
        self._tail = lines.pop()
        return self._payloads(lines)

    def close(self) -> list[bytes]:
        """The end of the body: the last line, if it had no newline."""
        tail, self._tail = self._tail, b""
        return [] if self.done or not tail else self._payloads([tail])

    def _payloads(self, lines: list[bytes]) -> list[bytes]:
        out = []
        for line in lines:
            if not line.startswith(b"data:"):
                if line.strip() and not line.startswith(_SSE_FIELDS):
                    self._keep_stray(line)
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
                break
            out.append(payload)
        return out

    def _keep_stray(self, line: bytes) -> None:
        if self._stray_size < self.STRAY_LIMIT:
            self.stray.append(line)
            self._stray_size += len(line)


_SSE_FIELDS = (b":", b"event:", b"id:", b"retry:")
"""Line starts SSE allows besides data: (a comment, the other fields)."""


def decode_payloads(payloads: list[bytes]) -> list[Any]:
    """The JSON values of `payloads`, in one parse when there are several.

    Raises ValueError, as json.loads would on the first bad payload.
    """
    if len(payloads) <= 1:
        return [json.loads(payload) for payload in payloads]
    try:
        values = json.loads(b"[" + b",".join(payloads) + b"]")
    except ValueError:
        values = None
    if values is None or len(values) != len(payloads):  # a bad payload: find and raise it
        return [json.loads(payload) for payload in payloads]
    return values


def _get(obj: Any, key: str) -> Any:
    """A field of a JSON dict or of litellm's object for it."""
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


class ToolCallParts:
    """Tool calls put together from streamed fragments (`delta.tool_calls`).

    A call's first fragment has its index, id and name; later ones with the
    same index carry more of the arguments text. Works on JSON dicts (the
    direct route) and on litellm's objects alike.
    """

    def __init__(self) -> None:
        self._calls: dict[int, tuple[list[str], list[str]]] = {}
        """index -> ([id, name], argument pieces)"""

    def add(self, fragments: Any) -> None:
        for fragment in fragments or ():
            index = _get(fragment, "index")
            if index is None:  # some providers send whole calls without an index
                index = len(self._calls)
            head, args = self._calls.setdefault(index, (["", ""], []))
            head[0] = _get(fragment, "id") or head[0]
            function = _get(fragment, "function")
            if function is not None:
                head[1] = _get(function, "name") or head[1]
                args.append(_get(function, "arguments") or "")

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(id=head[0] or f"call_{index}", name=head[1], arguments="".join(args) or "{}")
            for index, (head, args) in sorted(self._calls.items())
        )


def whole_tool_calls(calls: Any) -> tuple[ToolCall, ...]:
    """The tool calls of a non-streamed message (`message.tool_calls`)."""
    parts = ToolCallParts()
    for index, call in enumerate(calls or ()):
        parts.add([{"index": index, "id": _get(call, "id"), "function": _get(call, "function")}])
    return parts.calls()
