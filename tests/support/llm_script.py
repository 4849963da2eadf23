"""What a test scripts into the ScriptedServer: requests seen, replies to give.

Re-exported by tests.support.scripted_server; import from there.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# --- requests ----------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the server saw it."""

    index: int
    """0-based arrival order among all requests to this server."""
    method: str
    path: str
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: dict[str, Any] | None
    """Parsed JSON body, None for bodies that are empty or not JSON."""
    received_at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or [])

    @property
    def model(self) -> str | None:
        return (self.body or {}).get("model")

    @property
    def stream(self) -> bool:
        return bool((self.body or {}).get("stream"))

    @property
    def last_user(self) -> str:
        """Text of the last user message ("" if none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""

    @property
    def system(self) -> str:
        """Text of the system messages, joined by newlines."""
        return "\n".join(
            _content_text(m.get("content")) for m in self.messages if m.get("role") == "system"
        )

    @property
    def all_text(self) -> str:
        """Every message's text, joined by newlines (for `in` checks)."""
        return "\n".join(_content_text(m.get("content")) for m in self.messages)


# A chat completion request is a recorded request; the alias names the role.
ChatRequest = RecordedRequest


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI "content parts"
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


# --- replies -----------------------------------------------------------------


class Gate:
    """A thread-safe latch a Reply can wait on (`Reply(wait=gate)`).

    Open it from any thread or loop with `gate.open()`; every reply waiting on
    it then proceeds. Use it to hold requests in flight while a test looks.
    """

    def __init__(self) -> None:
        self._opened = threading.Event()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        with self._lock:
            self._opened.set()
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    @property
    def is_open(self) -> bool:
        return self._opened.is_set()

    async def wait(self) -> None:
        event = asyncio.Event()
        with self._lock:
            if self._opened.is_set():
                return
            self._waiters.append((asyncio.get_running_loop(), event))
        await event.wait()


@dataclass(frozen=True)
class Reply:
    """What the server answers to one chat request.

    A success by default; the class methods build the error replies.
    """

    text: str = "ok"
    """The assistant's answer."""
    chunks: int | None = None
    """How many content chunks to stream it in (default: one per word)."""
    prompt_tokens: int | None = None
    """Reported usage; default: about one token per 4 characters of prompt."""
    completion_tokens: int | None = None
    """Reported usage; default: about one token per 4 characters of text."""
    send_usage: bool = True
    """False: report no usage at all (like servers that ignore include_usage)."""
    latency: float = 0.0
    """Seconds before the first byte (asyncio.sleep on the server loop)."""
    chunk_delay: float = 0.0
    """Seconds between streamed chunks."""
    wait: Gate | None = None
    """Hold the reply (before the first byte) until this gate opens."""
    finish_reason: str = "stop"
    model: str | None = None
    """Model name to report; default: echo the request's."""
    tool_calls: tuple[dict[str, Any], ...] = ()
    """OpenAI tool_calls to return (function name + JSON arguments string)."""
    status: int = 200
    """HTTP status; anything but 200 answers with `error_body`."""
    error_body: dict[str, Any] | None = None
    """The JSON body of an error; with status 200 too (some proxies and local servers
    answer a failure so), as a plain JSON body even to a streamed request."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra response headers (e.g. Retry-After)."""
    drop_after: int | None = None
    """Streaming only: send this many content chunks, then cut the connection."""
    stall_after: int | None = None
    """Streaming only: send this many content chunks, then send nothing more (the
    connection stays open) until the client goes away (at most 30 s)."""
    end_early: int | None = None
    """Streaming only: send this many content chunks, then end the body cleanly
    without a finish_reason, usage or [DONE]."""
    empty_stream: bool = False
    """Streaming only: send the headers (200), then close the connection with no body
    (llama-cpp-python's server when its handler fails after the response started)."""
    done_early: int | None = None
    """Streaming only: send this many content chunks, then `data: [DONE]` with no
    finish_reason (llama-cpp-python's server ends an interrupted stream so)."""

    # --- builders ------------------------------------------------------------

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - OpenAI's field name
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        latency: float = 0.0,
    ) -> Reply:
        """Any error status with an OpenAI-style error body."""
        body = {"error": {"message": message, "type": type, "param": None, "code": code}}
        return cls(
            text="", status=status, error_body=body, headers=dict(headers or {}), latency=latency
        )

    @classmethod
    def server_error(cls, status: int = 500, message: str = "The server had an error") -> Reply:
        return cls.error(status, message, type="server_error")

    @classmethod
    def rate_limited(
        cls, retry_after: float | str | None = None, message: str = "Rate limit reached"
    ) -> Reply:
        """HTTP 429; `retry_after` becomes the Retry-After header (seconds or HTTP date)."""
        headers = {} if retry_after is None else {"Retry-After": _header_number(retry_after)}
        return cls.error(
            429, message, type="rate_limit_exceeded", code="rate_limit_exceeded", headers=headers
        )

    @classmethod
    def unauthorized(cls, message: str = "Incorrect API key provided.") -> Reply:
        return cls.error(401, message, code="invalid_api_key")

    @classmethod
    def forbidden(cls, message: str = "You are not allowed to use this model.") -> Reply:
        return cls.error(403, message, type="permission_error")

    @classmethod
    def model_not_found(cls, model: str = "the model") -> Reply:
        message = f"The model `{model}` does not exist or you do not have access to it."
        return cls.error(404, message, code="model_not_found")

    @classmethod
    def bad_request(cls, message: str = "Invalid request.") -> Reply:
        return cls.error(400, message)

    @classmethod
    def dropped(cls, text: str = "partial answer cut off", *, after: int = 1) -> Reply:
        """Stream `after` chunks of `text`, then close the connection mid-stream."""
        return cls(text=text, drop_after=after)

    def but(self, **changes: Any) -> Reply:
        """A copy with some fields changed: `Reply("x").but(latency=1)`."""
        return replace(self, **changes)


def _header_number(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


Handler = Callable[[RecordedRequest], "Reply | str | None | Awaitable[Reply | str | None]"]


# --- routing helpers -----------------------------------------------------------


def last_user_contains(substring: str) -> Callable[[RecordedRequest], bool]:
    """A predicate: the last user message contains `substring`."""
    return lambda request: substring in request.last_user


def by_content(
    table: Mapping[str, Reply | str], default: Reply | str | None = None
) -> Callable[[RecordedRequest], Reply | str | None]:
    """A handler choosing a reply by a substring of the last user message.

    Keys are tried in order; `default` (None: fall through) when none matches.
    """
    items = list(table.items())

    def handler(request: RecordedRequest) -> Reply | str | None:
        text = request.last_user
        for needle, reply in items:
            if needle in text:
                return reply
        return default

    return handler


def as_reply(value: Reply | str) -> Reply:
    if isinstance(value, Reply):
        return value
    if isinstance(value, str):
        return Reply(value)
    raise TypeError(f"a script must return Reply, str or None, not {type(value).__name__}")
