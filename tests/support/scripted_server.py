"""A real, local, scriptable OpenAI-compatible HTTP server for tests.

The server runs aiohttp on its own event loop in a daemon thread, bound to
127.0.0.1 on an ephemeral port, so a test can use it from any loop (pytest's,
qasync's) or from plain synchronous code.

    server = ScriptedServer().start()        # or the `llm_server` fixture
    server.enqueue(Reply("first"), Reply.rate_limited(retry_after=2))
    server.on(contains="review", reply=Reply("LGTM"))
    server.script(lambda req: Reply(f"echo {req.last_user}"))
    server.default = Reply("fallback")
    ... point a client at server.base_url ("http://127.0.0.1:PORT/v1") ...
    assert len(server.requests) == 3
    server.stop()

How a reply is chosen for each chat request, first match wins:

1. routes added with `on(...)`, in the order they were added (a route with
   `times=n` retires after n uses);
2. the handler set with `script(handler)`; returning None falls through;
3. the queue filled by `enqueue(...)`, oldest first;
4. `default` (Reply("ok") unless changed).

`ScriptedServer(dialect=LLAMA_CPP)` (tests/support/server_dialects.py) answers the
way llama-cpp-python's server, Ollama or LM Studio do: what each refuses, where
each puts usage, llama.cpp's one request at a time.

`limit(n, retry_after=...)` makes it a rate-limited server: at most n chat
requests are answered at once and the rest get 429 with Retry-After (`peak`,
`refused` and `answered` say what happened, also as JSON at GET /stats for a server
in another process); `drop_to=m, after=k` lowers the cap to m once k requests were
answered.

A handler receives a `ChatRequest` and returns a `Reply`, a plain `str`
(shorthand for `Reply(text)`), or None; it may be sync or async. It runs on
the server's loop, so it must not block; use `Reply.latency` / `Reply.wait`
for timing instead of sleeping.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.llm_script import (
    ChatRequest,
    Gate,
    Handler,
    RecordedRequest,
    Reply,
    as_reply,
    by_content,
    last_user_contains,
)
from tests.support.server_dialects import Dialect

__all__ = [
    "ChatRequest",
    "Gate",
    "Handler",
    "RecordedRequest",
    "Reply",
    "ScriptedServer",
    "by_content",
    "last_user_contains",
]


@dataclass
class _Route:
    predicate: Callable[[RecordedRequest], bool]
    reply: Reply | Callable[[RecordedRequest], Reply | str]
    times: int | None
    used: int = 0


# --- the server ----------------------------------------------------------------


class ScriptedServer:
    """An OpenAI-compatible server on 127.0.0.1, scripted per test."""

    def __init__(self, *, models: Iterable[str] = ("test-model",), dialect: Dialect | None = None) -> None:
        self.models = list(models)
        """Model ids listed by GET /v1/models."""
        self.dialect = dialect
        """The local server it plays (None: OpenAI's own behaviour)."""
        self._slot: asyncio.Lock | None = None
        self.slot_waiting = 0
        """Chat requests waiting for the one slot of a `one_at_a_time` dialect."""
        self.default: Reply = Reply("ok")
        self.errors: list[BaseException] = []
        """Exceptions raised by scripts (handlers, route predicates); the
        `llm_server` fixture fails the test when this is not empty."""
        self._handler: Handler | None = None
        self._queue: deque[Reply] = deque()
        self._routes: list[_Route] = []
        self._requests: list[RecordedRequest] = []
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.ServerRunner | None = None
        self._port = 0
        self._ids = itertools.count(1)
        self._created = int(time.time())
        self._cap: int | None = None
        self._cap_retry_after: float | str | None = None
        self._drop: tuple[int, int] | None = None
        self.in_flight = 0
        """Chat requests being answered now."""
        self.peak = 0
        """Most chat requests answered at once."""
        self.refused = 0
        """Chat requests answered 429 because of `limit`."""
        self.answered = 0
        """Chat requests answered (not refused by `limit`) to the end."""

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> ScriptedServer:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(ready, failure), name="scripted-llm-server", daemon=True
        )
        self._thread.start()
        ready.wait(10)
        if failure:
            raise RuntimeError("scripted server failed to start") from failure[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._loop = self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (no /v1)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style api_base: http://127.0.0.1:PORT/v1."""
        return f"{self.url}/v1"

    # --- scripting -------------------------------------------------------------

    def script(self, handler: Handler | None) -> ScriptedServer:
        """Answer with `handler(request)`; None removes the handler."""
        self._handler = handler
        return self

    def enqueue(self, *replies: Reply | str) -> ScriptedServer:
        """Queue replies, used one per request in order."""
        with self._lock:
            self._queue.extend(as_reply(r) for r in replies)
        return self

    def on(
        self,
        *,
        contains: str | None = None,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        reply: Reply | str | Callable[[RecordedRequest], Reply | str],
        times: int | None = None,
    ) -> ScriptedServer:
        """Answer with `reply` whenever the last user message contains `contains`
        (and/or `predicate(request)` holds); at most `times` times if given."""
        checks: list[Callable[[RecordedRequest], bool]] = []
        if contains is not None:
            checks.append(last_user_contains(contains))
        if predicate is not None:
            checks.append(predicate)
        if not checks:
            raise ValueError("on() needs contains= or predicate=")
        chosen = reply if callable(reply) else as_reply(reply)
        with self._lock:
            self._routes.append(_Route(lambda r: all(c(r) for c in checks), chosen, times))
        return self

    def limit(self, cap: int | None, retry_after: float | str | None = 1, *,
              drop_to: int | None = None, after: int = 0) -> ScriptedServer:
        """Answer at most `cap` chat requests at once, 429 (with `retry_after`) to the rest;
        with `drop_to`, the cap becomes that once `after` requests were answered."""
        with self._lock:
            self._cap, self._cap_retry_after = cap, retry_after
            self._drop = (after, drop_to) if drop_to is not None else None
        return self

    def _admit(self) -> bool:
        with self._lock:
            if self._drop is not None and self.answered >= self._drop[0]:
                self._cap, self._drop = self._drop[1], None
            if self._cap is not None and self.in_flight >= self._cap:
                self.refused += 1
                return False
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return True

    def stats(self) -> dict[str, int]:
        """What `limit` counted: answered, refused (429), peak and now in flight."""
        with self._lock:
            return {"answered": self.answered, "refused": self.refused, "peak": self.peak,
                    "in_flight": self.in_flight}

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self.answered += 1

    def reset(self) -> None:
        """Forget routes, handler, queue and recorded requests."""
        with self._lock:
            self._routes.clear()
            self._queue.clear()
            self._requests.clear()
            self._handler = None
            self.default = Reply("ok")

    # --- inspection ------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the chat completion requests."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def pending(self) -> int:
        """Replies left in the queue."""
        with self._lock:
            return len(self._queue)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `count` requests arrived (thread-safe; from sync code)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"got {len(self._requests)} requests, wanted {count}")
            return list(self._requests)

    async def until_requests(self, count: int, within: float = 5.0) -> list[RecordedRequest]:
        """Await (from any loop) until at least `count` requests arrived."""
        deadline = time.monotonic() + within
        while True:
            with self._lock:
                if len(self._requests) >= count:
                    return list(self._requests)
            if time.monotonic() > deadline:
                raise TimeoutError(f"got {len(self.requests)} requests, wanted {count}")
            await asyncio.sleep(0.005)

    # --- server thread ---------------------------------------------------------

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to start()
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        server = web.Server(self._dispatch, handler_cancellation=True, access_log=None)
        self._runner = web.ServerRunner(server, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        recorded = RecordedRequest(
            index=next(self._counter),
            method=request.method,
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body if isinstance(body, dict) else None,
        )
        with self._cond:
            self._requests.append(recorded)
            self._cond.notify_all()
        path = request.path.rstrip("/")
        if request.method == "GET" and path in ("/v1/models", "/models"):
            return self._models_response()
        if request.method == "GET" and path == "/stats":
            return web.json_response(self.stats())
        if request.method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            if recorded.body is None:
                return _json_error(400, "We could not parse the JSON body of your request.")
            if not self._admit():
                reply = Reply.rate_limited(self._cap_retry_after, "Too many requests at once")
                return await self._respond(request, recorded, reply)
            try:
                refusal = self.dialect.refuses(recorded) if self.dialect is not None else None
                try:
                    reply = refusal or await self._choose(recorded)
                except Exception as exc:  # a bug in the test's script: keep it for the test
                    self.errors.append(exc)
                    return _json_error(500, f"the test's script raised {exc!r}")
                if self.dialect is None:
                    return await self._respond(request, recorded, reply)
                reply = self.dialect.answer(recorded, reply)
                if not self.dialect.one_at_a_time:
                    return await self._respond(request, recorded, reply)
                return await self._respond_alone(request, recorded, reply)
            finally:
                self._leave()
        return _json_error(404, f"Unknown endpoint {request.method} {request.path}")

    async def _choose(self, request: RecordedRequest) -> Reply:
        with self._lock:
            for route in self._routes:
                if (route.times is None or route.used < route.times) and route.predicate(request):
                    route.used += 1
                    chosen = route.reply
                    break
            else:
                chosen = None
        if chosen is not None:
            return as_reply(chosen(request) if callable(chosen) else chosen)
        if self._handler is not None:
            result = self._handler(request)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                return as_reply(result)
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.default

    async def _respond_alone(
        self, http: web.BaseRequest, request: RecordedRequest, reply: Reply
    ) -> web.StreamResponse:
        """One request at a time (llama-cpp-python's lock); the others wait their turn."""
        if self._slot is None:
            self._slot = asyncio.Lock()
        self.slot_waiting += 1
        try:
            await self._slot.acquire()
        finally:
            self.slot_waiting -= 1
        try:
            return await self._respond(http, request, reply)
        finally:
            self._slot.release()

    def _models_response(self) -> web.Response:
        data = [
            {"id": m, "object": "model", "created": self._created, "owned_by": "troupe-tests"}
            for m in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _respond(
        self, http: web.BaseRequest, request: RecordedRequest, reply: Reply
    ) -> web.StreamResponse:
        if reply.wait is not None:
            await reply.wait.wait()
        if reply.latency > 0:
            await asyncio.sleep(reply.latency)
        if reply.status != 200 or reply.error_body is not None:  # Reply.error(200, ...): an error body with 200
            body = reply.error_body or {"error": {"message": "error", "type": "error"}}
            return web.json_response(body, status=reply.status, headers=dict(reply.headers))
        answer = _Answer(self, request, reply)
        if request.stream:
            return await answer.stream(http)
        return web.json_response(answer.whole(), headers=dict(reply.headers))


class _Answer:
    """Renders one successful reply as JSON or as SSE chunks."""

    def __init__(self, server: ScriptedServer, request: RecordedRequest, reply: Reply) -> None:
        self.reply = reply
        self.request = request
        self.server = server
        self.dialect = server.dialect
        self.id = f"chatcmpl-{next(server._ids)}"
        self.created = server._created
        self.model = reply.model or request.model or "unknown"
        self._frame: tuple[bytes, bytes] | None = None

    def usage(self) -> dict[str, int]:
        reply = self.reply
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = max(1, len(self.request.all_text) // 4)
        completion = reply.completion_tokens
        if completion is None:
            completion = max(1, len(reply.text) // 4)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.reply.text}
        if self.reply.tool_calls:
            message["tool_calls"] = [_tool_call(i, c) for i, c in enumerate(self.reply.tool_calls)]
        return message

    def whole(self) -> dict[str, Any]:
        finish = "tool_calls" if self.reply.tool_calls else self.reply.finish_reason
        answer: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": self.message(), "finish_reason": finish}],
        }
        if self.reply.send_usage:
            answer["usage"] = self.usage()
        return answer

    def pieces(self) -> list[str]:
        text, n = self.reply.text, self.reply.chunks
        if not text:
            return []
        if n is None:
            words = text.split(" ")
            return [w + " " for w in words[:-1]] + [words[-1]] if len(words) > 1 else [text]
        n = max(1, min(n, len(text)))
        size, extra = divmod(len(text), n)
        out, pos = [], 0
        for i in range(n):
            step = size + (1 if i < extra else 0)
            out.append(text[pos : pos + step])
            pos += step
        return out

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    def _content(self, piece: str) -> bytes:
        """One content chunk, from a pre-rendered frame (the hot path)."""
        if self._frame is None:
            head = self._chunk({"content": ""}).split(b'{"content":""}')
            self._frame = (head[0] + b'{"content":', b"}" + head[1])
        return self._frame[0] + json.dumps(piece).encode() + self._frame[1]

    async def stream(self, http: web.BaseRequest) -> web.StreamResponse:
        reply = self.reply
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                **reply.headers,
            }
        )
        await response.prepare(http)
        if reply.empty_stream:
            return _cut(http, response)
        pieces = self.pieces()
        stop = len(pieces)
        for limit in (reply.drop_after, reply.end_early, reply.stall_after, reply.done_early):
            if limit is not None:
                stop = min(stop, limit)
        out = self._chunk({"role": "assistant", "content": ""})
        if self.dialect is not None and self.dialect.one_at_a_time:
            if await self._cut_when_another_waits(response, out, pieces[:stop]):
                return response
            out = b""
        elif reply.chunk_delay > 0:
            await response.write(out)
            out = b""
            for piece in pieces[:stop]:
                await asyncio.sleep(reply.chunk_delay)
                await response.write(self._content(piece))
        else:  # one write for the whole answer: still valid SSE, far less server CPU
            out += b"".join(self._content(piece) for piece in pieces[:stop])
        if reply.drop_after is not None:
            if out:
                await response.write(out)
            return _cut(http, response)
        if reply.stall_after is not None:
            if out:
                await response.write(out)
            await _until_gone(http, 30.0)
            return _cut(http, response)
        if reply.done_early is not None:
            out += b"data: [DONE]\n\n"
        elif reply.end_early is None:
            out += self._tail()
        await response.write(out)
        await response.write_eof()
        return response

    async def _cut_when_another_waits(
        self, response: web.StreamResponse, first: bytes, pieces: list[str]
    ) -> bool:
        """Write chunk by chunk; when another request waits for the slot, end the stream
        with [DONE] and no finish reason, as llama-cpp-python's server does (True)."""
        for out in [first, *(self._content(p) for p in pieces)]:
            await response.write(out)
            await asyncio.sleep(self.reply.chunk_delay)
            if self.server.slot_waiting:
                await response.write(b"data: [DONE]\n\n")
                await response.write_eof()
                return True
        return False

    def _tail(self) -> bytes:
        """Tool calls, the finish chunk, the usage chunk (when asked for) and [DONE]."""
        reply = self.reply
        tail = b""
        if reply.tool_calls:
            calls = [_tool_call(i, c, index=True) for i, c in enumerate(reply.tool_calls)]
            tail += self._chunk({"tool_calls": calls})
        finish = self._chunk({}, "tool_calls" if reply.tool_calls else reply.finish_reason)
        options = (self.request.body or {}).get("stream_options") or {}
        usage = options.get("include_usage") and reply.send_usage
        if usage and self.dialect is not None and self.dialect.usage_with_finish:  # Ollama
            payload = json.loads(finish[len(b"data: "):])
            payload["usage"] = self.usage()
            return tail + b"data: " + json.dumps(payload).encode() + b"\n\n" + b"data: [DONE]\n\n"
        tail += finish
        if usage and (self.dialect is None or self.dialect.usage_in_stream):
            payload = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": self.usage(),
            }
            tail += b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
        return tail + b"data: [DONE]\n\n"


async def _until_gone(http: web.BaseRequest, most: float) -> None:
    """Wait (sending nothing) until the client closes the connection, or `most` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + most
    while loop.time() < end:
        transport = http.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.02)


def _cut(http: web.BaseRequest, response: web.StreamResponse) -> web.StreamResponse:
    """Close the connection mid-body (after flushing what was written): the
    client sees an incomplete chunked read."""
    response.force_close()
    transport = http.transport
    if transport is not None:
        transport.close()
    return response


def _tool_call(i: int, call: Mapping[str, Any], *, index: bool = False) -> dict[str, Any]:
    arguments = call.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    out: dict[str, Any] = {
        "id": call.get("id", f"call_{i}"),
        "type": "function",
        "function": {"name": call["name"], "arguments": arguments},
    }
    if index:
        out["index"] = i
    return out


def _json_error(status: int, message: str) -> web.Response:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }
    return web.json_response(body, status=status)
