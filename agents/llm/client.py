"""The one adapter over litellm: `LiteLLMClient` implements the `LLMClient` port.

agents.llm is the only package of Troupe that imports litellm, and it does so
lazily (importing litellm takes seconds; the window must appear first): call
`await agents.llm.litellm_info.warm_up()` early to import it in a worker thread.

Two ways through litellm, chosen per call:

- Providers that speak OpenAI's chat-completions wire format (openai and the
  OpenAI-compatible ones: local servers, OpenRouter, Groq, ...) take the
  *direct* route. litellm still resolves the provider, maps and drops the
  parameters for the model and builds the URL, headers and body (its provider
  config: `get_optional_params`, `transform_request`, ...) and prices the call
  from its cost map; Troupe sends the request over one shared aiohttp session
  and reads the SSE stream itself. This skips litellm's per-chunk wrapper
  (pydantic objects per chunk), its logging and its rebuilding of the whole
  stream at the end: about 20x less CPU per streamed call (bench/llm_overhead.py).
- Every other provider (Anthropic, Gemini, Bedrock, ...) goes through
  `litellm.acompletion`, with litellm's own retries disabled.

Either way one call is exactly one HTTP request, every failure is raised as an
`agents.errors.LLMError` with a message meant for a person, and no message
ever contains the API key.

The pieces: litellm_info.py (importing litellm, its cached knowledge of models and
prices), direct.py (the direct route's request and SSE reading), errors.py (every
failure translated for a person), this module (the client and both routes).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from agents.errors import (
    BadRequest,
    LLMError,
    ModelNotFound,
    ProviderUnreachable,
    ServerError,
    StreamDropped,
)
from agents.llm import litellm_info, quirks
from agents.llm.direct import (
    _PLAIN_PARAMS,
    _Answer,
    _Call,
    _optional_params,
    _proxies_configured,
    _read_block,
    _turn_with_socket_unread,
)
from agents.llm.errors import (
    EmptyStream,
    _cause,
    _dropped,
    _empty_stream,
    _http_error,
    _interrupted,
    _is_dropped_stream,
    _leaks,
    _not_a_stream,
    _raise_error_payload,
    _raise_unstreamed_error,
    _stalled,
    _translate,
)
from agents.llm.litellm_info import (
    _chat_config,
    _litellm_module,
    _openai_default_base,
    _price,
    _response_format,
    _speaks_openai,
)
from agents.llm.pacing import pace, pacer
from agents.llm.quirks import JsonForm
from agents.llm.stream import SSEDecoder, ToolCallParts, decode_payloads, whole_tool_calls
from agents.ports import Delta, LLMRequest, Response, ToolCall, Usage

__all__ = ["LiteLLMClient"]


class LiteLLMClient:
    """The `LLMClient` port over litellm (see the module docstring)."""

    def __init__(self, *, direct: bool = True, max_connections: int = 1000) -> None:
        """`direct=False` sends every call through litellm.acompletion."""
        self._direct = direct
        self._max_connections = max_connections
        self._session: Any = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    # --- the port ---------------------------------------------------------------

    async def complete(self, request: LLMRequest) -> Response:
        await pace()
        while True:
            call = await self._prepare(request, stream=False)
            try:
                return await self._complete_call(call)
            except LLMError as exc:
                if not _fall_back(call, exc):
                    raise

    async def stream(self, request: LLMRequest) -> AsyncIterator[Delta]:
        await pace()  # 300 calls starting together take turns with the window
        unstreamed = False
        while True:
            call = await self._prepare(request, stream=True)
            if unstreamed or (request.tools and not quirks.streams_tools(*call.server)):
                call = await self._prepare(request, stream=False)
                pieces = self._unstreamed(call)
            else:
                pieces = self._stream_call(call)
            started = False
            try:
                async for delta in pieces:
                    started = True
                    yield delta
                return
            except EmptyStream:  # unstreamed, the server answers or says what is wrong
                if request.tools:
                    quirks.tool_stream_refused(*call.server)
                unstreamed = True
            except LLMError as exc:  # refused before a word came: another form may do
                if started or not _fall_back(call, exc):
                    raise
            finally:
                await pieces.aclose()

    async def aclose(self) -> None:
        """Close the shared HTTP session (call on shutdown)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> LiteLLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _complete_call(self, call: _Call) -> Response:
        try:
            if call.optional is not None:
                return await self._direct_complete(call)
            return await self._litellm_complete(call)
        except LLMError:
            raise
        except Exception as exc:
            raise _translate(exc, call) from _cause(exc, call)

    async def _stream_call(self, call: _Call) -> AsyncGenerator[Delta, None]:
        pieces = (
            self._direct_stream(call) if call.optional is not None else self._litellm_stream(call)
        )
        try:
            async for delta in pieces:
                yield delta
        except LLMError:
            raise
        except Exception as exc:
            raise _translate(exc, call) from _cause(exc, call)
        finally:
            await pieces.aclose()

    async def _unstreamed(self, call: _Call) -> AsyncGenerator[Delta, None]:
        """A step for a server that answers tool calls only without streaming: one
        non-streamed call, given out as a stream."""
        try:
            response = await self._complete_call(call)
        except (StreamDropped, ProviderUnreachable):
            # the pooled connection may have died with the refused stream (aiohttp pooled
            # it when the empty body ended; the server closed it): once more, on a new one
            response = await self._complete_call(call)
        if response.text:
            yield Delta(response.text)
        yield Delta(final=response)

    # --- preparing ----------------------------------------------------------------

    async def _prepare(self, request: LLMRequest, *, stream: bool) -> _Call:
        call = await self._resolve(request, stream=stream)
        # a Response's latency is the request's alone: not litellm's import, not its mapping
        return replace(call, started=time.perf_counter())

    async def _resolve(self, request: LLMRequest, *, stream: bool) -> _Call:
        litellm = await _litellm_module()
        try:
            model, provider, key, base = litellm.get_llm_provider(
                model=request.model, api_base=request.api_base, api_key=request.api_key
            )
        except Exception as exc:
            message = (
                f"unknown model {request.model!r}: name it with its provider, "
                f'e.g. "openai/gpt-4o-mini" or "anthropic/claude-3-5-sonnet-latest"'
            )
            raise ModelNotFound(message) from None if _leaks(exc, request.api_key) else exc
        api_key = request.api_key or key
        api_base = request.api_base or base
        if request.max_tokens is None and _on_this_machine(api_base):
            # a small local model otherwise writes to the end of its context (88 s for 4k tokens)
            request = replace(request, max_tokens=LOCAL_MAX_TOKENS)
        call = _Call(request, model, provider, api_base, api_key, None, None, 0.0)
        if request.json_schema is not None:
            form = quirks.json_form(*call.server)
            call = replace(call, json_form=form,
                           response_format=_json_format(request.json_schema, model, provider, form))
        if not (self._direct and _speaks_openai(model, provider)):
            return call
        if api_base is None and provider == "openai":
            api_base = _openai_default_base()
        if api_base is None:
            return call  # let litellm find the provider's default address
        try:
            optional = _optional_params(call, stream=stream)
        except Exception:
            return call  # litellm.acompletion will raise the same problem, mapped
        if not optional.keys() <= _PLAIN_PARAMS:
            return call  # litellm rewrote the request (e.g. JSON via a tool): it must read the answer too
        return replace(call, api_base=api_base, optional=optional)

    # --- the direct route (OpenAI wire format, shared aiohttp session) -------------

    def _http(self) -> Any:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=0, ttl_dns_cache=300
            )
            # trust_env costs two thread hops per request (proxy and netrc lookups):
            # only pay for it when a proxy is configured.
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=_proxies_configured()
            )
            self._session_loop = loop
        return self._session

    def _build(self, call: _Call, *, stream: bool) -> tuple[str, dict[str, str], bytes]:
        config = _chat_config(call.model, call.provider)
        optional = dict(call.optional or {})
        params = {"api_base": call.api_base, "custom_llm_provider": call.provider}
        messages = call.messages()
        headers = config.validate_environment(
            headers={},
            model=call.model,
            messages=messages,
            optional_params=optional,
            litellm_params=params,
            api_key=call.api_key,
            api_base=call.api_base,
        )
        url = config.get_complete_url(
            api_base=call.api_base,
            api_key=call.api_key,
            model=call.model,
            optional_params=optional,
            litellm_params=params,
            stream=stream,
        )
        body = config.transform_request(call.model, messages, dict(optional), params, headers)
        extra = body.pop("extra_body", None)
        if isinstance(extra, dict):
            body.update(extra)
        extra_headers = body.pop("extra_headers", None)
        if isinstance(extra_headers, dict):
            headers.update(extra_headers)
        return url, headers, json.dumps(body).encode()

    async def _post(self, call: _Call, *, stream: bool) -> Any:
        import aiohttp

        url, headers, body = self._build(call, stream=stream)
        # a stream's idle timeout is aiohttp's sock_read: rescheduled as data arrives, so it
        # costs nothing per chunk; a non-streamed answer has only the overall limit
        idle = call.request.idle_timeout if stream else None
        timeout = aiohttp.ClientTimeout(total=call.request.timeout, sock_read=idle)
        response = await self._http().post(url, data=body, headers=headers, timeout=timeout)
        if response.status >= 400:
            try:
                text = await response.text()
            finally:
                response.release()
            raise _http_error(response.status, text, response.headers, call)
        return response

    async def _direct_complete(self, call: _Call) -> Response:
        response = await self._post(call, stream=False)
        async with response:
            data = await response.json(content_type=None)
        _raise_error_payload(data, call)
        message = (data.get("choices") or [{}])[0].get("message") or {}
        calls = whole_tool_calls(message.get("tool_calls"))
        return _finish(call, message.get("content") or "", data.get("usage"), calls)

    async def _direct_stream(self, call: _Call) -> AsyncGenerator[Delta, None]:
        try:
            response = await self._post(call, stream=True)
        except Exception as exc:  # closed before its headers: as good as an empty stream
            if _is_dropped_stream(exc):
                raise _empty_stream(call) from exc
            raise
        answer, sse, turns = _Answer(), SSEDecoder(), pacer()
        async with response:
            try:
                while not sse.done:
                    if turns.due() and not response.content.at_eof():
                        await _turn_with_socket_unread(response, turns)
                    block = await _read_block(response, call, answer.parts)
                    chunks = decode_payloads(sse.feed(block) if block else sse.close())
                    for i, chunk in enumerate(chunks):
                        if i and turns.due():  # a burst of buffered chunks takes turns too
                            await turns.wait()
                        for text in answer.add(chunk, call):
                            yield Delta(text)
                    if not block:
                        break
            except StreamDropped:
                response.close()  # never back to the pool: the server may have reset it
                if not answer.chunks:
                    raise _empty_stream(call) from None
                raise
            if not answer.finished:  # no finish reason: cut short, even with [DONE]
                response.close()  # a server that gave up on a stream may give up on its connection
                if not answer.chunks and not sse.stray and not sse.done:
                    raise _empty_stream(call)
                if sse.done:
                    raise _interrupted(call, answer.parts)
                raise _not_a_stream(call, sse.stray, answer.parts)
        yield Delta(final=_finish(call, "".join(answer.parts), answer.usage, answer.tools.calls()))

    # --- through litellm.acompletion ------------------------------------------------

    def _acompletion_kwargs(self, call: _Call, *, stream: bool) -> dict[str, Any]:
        request = call.request
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": call.messages(),
            "timeout": request.timeout,
            "num_retries": 0,
            "max_retries": 0,
            "drop_params": True,
        }
        optional = {
            "api_base": request.api_base,
            "api_key": call.api_key,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "response_format": call.response_format,
            "tools": list(request.tools) if request.tools else None,
            "repeat_penalty": request.repeat_penalty,  # the local provider reads it
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        if request.tools:
            kwargs["tool_choice"] = "auto"
        if stream:
            kwargs.update(stream=True, stream_options={"include_usage": True})
        return kwargs

    async def _litellm_complete(self, call: _Call) -> Response:
        litellm = litellm_info._litellm
        deadline = asyncio.get_running_loop().time() + call.request.timeout
        async with asyncio.timeout_at(deadline):
            result = await litellm.acompletion(**self._acompletion_kwargs(call, stream=False))
        message = result.choices[0].message if result.choices else None
        text = getattr(message, "content", None) or ""
        calls = whole_tool_calls(getattr(message, "tool_calls", None))
        return _finish(call, text, _usage_dict(getattr(result, "usage", None)), calls)

    async def _litellm_stream(self, call: _Call) -> AsyncGenerator[Delta, None]:
        litellm = litellm_info._litellm
        loop = asyncio.get_running_loop()
        deadline = loop.time() + call.request.timeout
        idle = call.request.idle_timeout
        limit = deadline if idle is None else min(deadline, loop.time() + idle)
        try:
            async with asyncio.timeout_at(limit):
                chunks = await litellm.acompletion(**self._acompletion_kwargs(call, stream=True))
            await _raise_unstreamed_error(chunks, call)
        except TimeoutError:
            if limit < deadline:
                raise _stalled(call) from None
            raise
        parts: list[str] = []
        usage: dict[str, Any] | None = None
        finished = False
        tools = ToolCallParts()
        turns = pacer()
        iterator = chunks.__aiter__()
        while True:
            limit = deadline if idle is None else min(deadline, loop.time() + idle)
            try:
                async with asyncio.timeout_at(limit):
                    chunk = await iterator.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError:
                if limit < deadline:
                    raise _stalled(call) from None
                raise
            except Exception as exc:
                if _is_dropped_stream(exc):
                    raise _dropped(call, parts) from _cause(exc, call)
                raise
            for choice in chunk.choices or ():
                text = choice.delta.content if choice.delta is not None else None
                if text:
                    parts.append(text)
                    yield Delta(text)
                if choice.delta is not None and getattr(choice.delta, "tool_calls", None):
                    tools.add(choice.delta.tool_calls)
            usage = _usage_dict(getattr(chunk, "usage", None)) or usage
            if turns.due():
                await turns.wait()
        # litellm makes up a finish_reason when a stream just stops; ask what it received
        finished = bool(
            getattr(chunks, "received_finish_reason", None)
            or getattr(chunks, "intermittent_finish_reason", None)
        )
        if not finished:
            raise _dropped(call, parts)
        yield Delta(final=_finish(call, "".join(parts), usage, tools.calls()))



# --- building the Response -----------------------------------------------------------


def _usage_dict(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    if isinstance(usage, Mapping):
        return dict(usage)
    return {
        "prompt_tokens": getattr(usage, "prompt_tokens", 0),
        "completion_tokens": getattr(usage, "completion_tokens", 0),
    }


def _finish(
    call: _Call, text: str, usage: Mapping[str, Any] | None, tool_calls: tuple[ToolCall, ...] = ()
) -> Response:
    latency_ms = (time.perf_counter() - call.started) * 1000.0  # the answer is in: before counting
    tokens = Usage()
    if usage:
        tokens = Usage(
            int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        )
    if tokens.total == 0:  # no usage reported (litellm reports zeros then)
        tokens = _count_tokens(call, text, tool_calls)
    if call.request.price is not None:
        cost, known = call.request.price.cost(tokens), True
    else:
        cost, known = _price(call.model, call.provider, tokens)
    return Response(
        text=text,
        usage=tokens,
        cost=cost,
        cost_known=known,
        model=call.request.model,
        latency_ms=latency_ms,
        tool_calls=tool_calls,
    )


def _count_tokens(call: _Call, text: str, tool_calls: tuple[ToolCall, ...] = ()) -> Usage:
    """The provider sent no usage: count with litellm's tokenizer (an estimate: the
    server's own tokenizer may differ, and its chat template adds tokens)."""
    said = text + "".join(c.name + c.arguments for c in tool_calls)
    try:
        prompt = litellm_info._litellm.token_counter(model=call.request.model, messages=call.messages())
        completion = litellm_info._litellm.token_counter(model=call.request.model, text=said) if said else 0
    except Exception:
        return Usage(estimated=True)
    return Usage(int(prompt), int(completion), estimated=True)


# --- what local servers cannot do (agents/llm/quirks.py) -------------------------------

LOCAL_MAX_TOKENS = 1024
"""The answer length of a call to a server on this machine when none is set."""
_LOOPBACK = re.compile(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)", re.IGNORECASE)


def _on_this_machine(api_base: str | None) -> bool:
    return bool(api_base and _LOOPBACK.match(api_base))


def _json_format(schema: dict[str, Any], model: str, provider: str, form: JsonForm) -> dict[str, Any] | None:
    """The response_format that asks for JSON in `form`."""
    if form is JsonForm.SCHEMA:
        return _response_format(schema, model, provider)
    if form is JsonForm.OBJECT:
        return {"type": "json_object", "schema": schema}
    return None  # the prompt asks; the caller repairs


def _fall_back(call: _Call, exc: LLMError) -> bool:
    """The server refused the request as invalid for something another form of it avoids:
    remember what it cannot do and say whether to send the call again at once."""
    said = str(exc)
    if call.request.tools and quirks.streams_tools(*call.server):
        if isinstance(exc, (BadRequest, ServerError, StreamDropped)) and quirks.rejects_tool_stream(said):
            quirks.tool_stream_refused(*call.server)
            return True
    if call.json_form is None or not isinstance(exc, BadRequest) or isinstance(exc, ModelNotFound):
        return False
    if not quirks.rejects_format(said):
        return False
    return quirks.json_refused(*call.server, call.json_form) is not None

