"""The one adapter over litellm: `LiteLLMClient` implements the `LLMClient` port.

This is the only module of Troupe that imports litellm, and it does so lazily
(importing litellm takes seconds; the window must appear first): call
`await warm_up()` early to import it in a worker thread.

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
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import re
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agents.errors import (
    AuthError,
    BadRequest,
    CallTimeout,
    LLMError,
    ModelNotFound,
    ProviderUnreachable,
    RateLimited,
    ServerError,
    StreamDropped,
)
from agents.llm_stream import SSEDecoder, ToolCallParts, decode_payloads, whole_tool_calls
from agents.pacing import Pacer, pace, pacer
from agents.ports import Delta, LLMRequest, Message, Response, ToolCall, Usage

__all__ = ["LiteLLMClient", "warm_up"]

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Providers whose litellm config speaks OpenAI's chat-completions format over SSE.
_OPENAI_WIRE = frozenset(
    {
        "openai", "custom_openai", "openai_like", "hosted_vllm", "lm_studio", "llamafile",
        "openrouter", "deepseek", "groq", "together_ai", "fireworks_ai", "xai", "mistral",
        "litellm_proxy", "deepinfra", "cerebras", "nvidia_nim", "perplexity",
    }
)  # fmt: skip
_OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"
# What litellm may map a request to and still have sent a plain OpenAI request.
_PLAIN_PARAMS = frozenset(
    {"temperature", "max_tokens", "max_completion_tokens", "stream", "stream_options",
     "response_format", "extra_body", "tools"}
)  # fmt: skip

def _proxies_configured() -> bool:
    import urllib.request  # noqa: PLC0415 - 20 ms to import, not at start-up

    return bool(urllib.request.getproxies())


# --- importing litellm lazily -----------------------------------------------------

_litellm: Any = None
_import_lock = threading.Lock()


def _load_litellm() -> Any:
    """Import and configure litellm once (thread-safe; blocking)."""
    global _litellm
    if _litellm is None:
        with _import_lock:
            if _litellm is None:
                import litellm

                litellm.suppress_debug_info = True  # no "Provider List: ..." prints
                litellm.drop_params = True
                litellm.num_retries = 0
                # what the first direct call would otherwise import on the loop
                import litellm.llms.litellm_proxy.chat.transformation  # noqa: F401
                from litellm.utils import get_optional_params  # noqa: F401

                from agents.local_model import register_local_models

                register_local_models(litellm)  # `local/<name>`: GGUF files run in process

                # litellm leaves ~300k objects that live as long as the process; every
                # full garbage collection walked them all, a 0.3 s stall of the window
                # in the middle of a run. Frozen, the collector skips them.
                gc.freeze()
                _litellm = litellm
    return _litellm


async def warm_up() -> None:
    """Import litellm in a worker thread so the first call does not stall the loop."""
    if _litellm is None:
        await asyncio.to_thread(_load_litellm)


async def _litellm_module() -> Any:
    if _litellm is None:
        await warm_up()
    return _litellm


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
    return {"role": m.role, "content": m.content or None, "tool_calls": calls}


@dataclass
class _Answer:
    """What a direct stream has said so far."""

    parts: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    finished: bool = False
    tools: ToolCallParts = field(default_factory=ToolCallParts)

    def add(self, chunk: Any, call: _Call) -> list[str]:
        """Take in one SSE chunk; returns its pieces of text."""
        _raise_error_payload(chunk, call)
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
        call = await self._prepare(request, stream=False)
        try:
            if call.optional is not None:
                return await self._direct_complete(call)
            return await self._litellm_complete(call)
        except LLMError:
            raise
        except Exception as exc:
            raise _translate(exc, call) from _cause(exc, call)

    async def stream(self, request: LLMRequest) -> AsyncIterator[Delta]:
        await pace()  # 300 calls starting together take turns with the window
        call = await self._prepare(request, stream=True)
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

    async def aclose(self) -> None:
        """Close the shared HTTP session (call on shutdown)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> LiteLLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- preparing ----------------------------------------------------------------

    async def _prepare(self, request: LLMRequest, *, stream: bool) -> _Call:
        litellm = await _litellm_module()
        started = time.perf_counter()
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
        response_format = None
        if request.json_schema is not None:
            response_format = _response_format(request.json_schema, model, provider)
        call = _Call(request, model, provider, api_base, api_key, response_format, None, started)
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
        timeout = aiohttp.ClientTimeout(total=call.request.timeout)
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
        response = await self._post(call, stream=True)
        answer, sse, turns = _Answer(), SSEDecoder(), pacer()
        async with response:
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
        if not (answer.finished or sse.done):
            raise _dropped(call, answer.parts)
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
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        if stream:
            kwargs.update(stream=True, stream_options={"include_usage": True})
        return kwargs

    async def _litellm_complete(self, call: _Call) -> Response:
        litellm = _litellm
        deadline = asyncio.get_running_loop().time() + call.request.timeout
        async with asyncio.timeout_at(deadline):
            result = await litellm.acompletion(**self._acompletion_kwargs(call, stream=False))
        message = result.choices[0].message if result.choices else None
        text = getattr(message, "content", None) or ""
        calls = whole_tool_calls(getattr(message, "tool_calls", None))
        return _finish(call, text, _usage_dict(getattr(result, "usage", None)), calls)

    async def _litellm_stream(self, call: _Call) -> AsyncGenerator[Delta, None]:
        litellm = _litellm
        deadline = asyncio.get_running_loop().time() + call.request.timeout
        async with asyncio.timeout_at(deadline):
            chunks = await litellm.acompletion(**self._acompletion_kwargs(call, stream=True))
        parts: list[str] = []
        usage: dict[str, Any] | None = None
        finished = False
        tools = ToolCallParts()
        turns = pacer()
        iterator = chunks.__aiter__()
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await iterator.__anext__()
            except StopAsyncIteration:
                break
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


# --- litellm knowledge, cached ------------------------------------------------------


def _openai_default_base() -> str:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_BASE"):
        if os.environ.get(name):
            return os.environ[name]
    return _OPENAI_DEFAULT_BASE


def _optional_params(call: _Call, *, stream: bool) -> dict[str, Any]:
    """litellm's mapping of the request's parameters for this provider and model."""
    request = call.request
    response_format = json.dumps(call.response_format) if call.response_format else None
    tools = json.dumps(request.tools) if request.tools else None
    mapped = _mapped_params(
        call.model, call.provider, request.temperature, request.max_tokens, response_format,
        stream, tools,
    )
    return json.loads(mapped)


@functools.lru_cache(maxsize=512)
def _mapped_params(
    model: str,
    provider: str,
    temperature: float | None,
    max_tokens: int | None,
    response_format: str | None,
    stream: bool,
    tools: str | None = None,
) -> str:
    """get_optional_params is a pure function of these (and takes ~0.3 ms): cache it,
    as JSON so every caller gets its own copy."""
    from litellm.utils import get_optional_params

    optional = get_optional_params(
        model=model,
        custom_llm_provider=provider,
        temperature=temperature,
        max_tokens=max_tokens,
        response_format=json.loads(response_format) if response_format else None,
        stream=stream,
        stream_options={"include_usage": True} if stream else None,
        tools=json.loads(tools) if tools else None,
        drop_params=True,
    )
    return json.dumps(optional)


@functools.lru_cache(maxsize=256)
def _chat_config(model: str, provider: str) -> Any:
    return _litellm.utils.ProviderConfigManager.get_provider_chat_config(
        model=model, provider=_litellm.LlmProviders(provider)
    )


@functools.lru_cache(maxsize=256)
def _speaks_openai(model: str, provider: str) -> bool:
    """True when the direct route may serve this model."""
    from litellm.llms.openai.chat.gpt_transformation import OpenAIGPTConfig

    if provider not in _OPENAI_WIRE:
        return False
    mode = (_model_entry(model, provider) or {}).get("mode")
    if mode not in (None, "chat"):
        return False  # e.g. models litellm bridges to the Responses API
    config = _chat_config(model, provider)
    return isinstance(config, OpenAIGPTConfig) and not config.has_custom_stream_wrapper


def _model_entry(model: str, provider: str) -> dict[str, Any] | None:
    """The model's entry in litellm's cost map, if it has one."""
    cost_map = _litellm.model_cost
    entry = cost_map.get(f"{provider}/{model}")
    if entry is None:
        entry = cost_map.get(model)
        if entry is not None and entry.get("litellm_provider") not in (provider, None):
            entry = None
    return entry


@functools.lru_cache(maxsize=256)
def _priced(model: str, provider: str) -> bool:
    entry = _model_entry(model, provider) or {}
    return (
        entry.get("input_cost_per_token") is not None
        or entry.get("output_cost_per_token") is not None
    )


def _price(model: str, provider: str, usage: Usage) -> tuple[float, bool]:
    """Cost in USD from litellm's cost map, and whether the price is known."""
    if not _priced(model, provider):
        return 0.0, False
    try:
        prompt, completion = _litellm.cost_per_token(
            model=model,
            custom_llm_provider=provider,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
    except Exception:  # a model the map only half knows: never fail a call over cost
        return 0.0, False
    return float(prompt) + float(completion), True


@functools.lru_cache(maxsize=256)
def _schema_support(model: str, provider: str) -> str:
    """How this model can be asked for JSON: "schema", "json" (object) or "none"."""
    if _model_entry(model, provider) is None:
        return "schema"  # unknown to litellm: send the standard form, the server decides
    try:
        if _litellm.supports_response_schema(model=model, custom_llm_provider=provider):
            return "schema"
        supported = _litellm.get_supported_openai_params(model=model, custom_llm_provider=provider)
    except Exception:
        return "schema"
    return "json" if supported and "response_format" in supported else "none"


def _response_format(schema: dict[str, Any], model: str, provider: str) -> dict[str, Any] | None:
    support = _schema_support(model, provider)
    if support == "none":
        return None
    if support == "json":
        return {"type": "json_object"}
    title = str(schema.get("title") or "plan")
    name = re.sub(r"[^A-Za-z0-9_-]", "_", title)[:64] or "plan"
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


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
    tokens = Usage()
    if usage:
        tokens = Usage(
            int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        )
    if tokens.total == 0:  # no usage reported (litellm reports zeros then)
        tokens = _count_tokens(call, text)
    cost, known = _price(call.model, call.provider, tokens)
    return Response(
        text=text,
        usage=tokens,
        cost=cost,
        cost_known=known,
        model=call.request.model,
        latency_ms=(time.perf_counter() - call.started) * 1000.0,
        tool_calls=tool_calls,
    )


def _count_tokens(call: _Call, text: str) -> Usage:
    """The provider sent no usage: count with litellm's tokenizer."""
    try:
        prompt = _litellm.token_counter(model=call.request.model, messages=call.messages())
        completion = _litellm.token_counter(model=call.request.model, text=text) if text else 0
    except Exception:
        return Usage()
    return Usage(int(prompt), int(completion))


# --- errors ----------------------------------------------------------------------------

_SECRETISH = re.compile(r"(Bearer\s+)\S+|\bsk-[A-Za-z0-9_\-]{6,}")


def _redact(text: str, key: str | None) -> str:
    if key:
        text = text.replace(key, "[redacted]")
    return _SECRETISH.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


def _leaks(exc: BaseException, key: str | None) -> bool:
    return key is not None and key != "" and key in f"{exc!r} {exc}"


def _cause(exc: BaseException, call: _Call) -> BaseException | None:
    """Chain the original error unless its text would leak the key."""
    return None if _leaks(exc, call.api_key) else exc


def _provider_says(text: str) -> str:
    """The provider's own error message out of an (OpenAI-style) error body."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or error)[:300]
    return str(error)[:300]


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get("retry-after-ms"):
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # noqa: PLC0415 - only for a Retry-After date

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _status_error(
    status: int, said: str, call: _Call, headers: Mapping[str, str] | None = None
) -> LLMError:
    """The LLMError for an HTTP error status, with a message for a person."""
    model, where = call.request.model, call.where
    said = _redact(said, call.api_key)
    tail = f" The provider said: {said}" if said else ""
    if status == 429:
        wait = _retry_after(headers)
        hint = f"; it asks to retry after {wait:g} s" if wait is not None else ""
        return RateLimited(
            f"{model}: rate limited by {where} (HTTP 429){hint}.{tail}", retry_after=wait
        )
    if status in (401, 403):
        what = "rejected the API key" if status == 401 else "refused access with this API key"
        message = f"{model}: {where} {what} (HTTP {status}); check the key in Settings.{tail}"
        return AuthError(message, status=status)
    if status == 404:
        message = f"model {model!r} not found at {where} (HTTP 404); check the model name.{tail}"
        return ModelNotFound(message, status=404)
    if status == 408:
        return CallTimeout(f"{model}: {where} timed out (HTTP 408).{tail}", status=408)
    if status >= 500:
        return ServerError(
            f"{model}: {where} failed on its side (HTTP {status}).{tail}", status=status
        )
    return BadRequest(f"{model}: {where} refused the request (HTTP {status}).{tail}", status=status)


def _http_error(status: int, text: str, headers: Mapping[str, str], call: _Call) -> LLMError:
    said = _provider_says(text)
    if status in (400, 422) and _mentions_unknown_model(said):
        return ModelNotFound(
            f"model {call.request.model!r} not found at {call.where} (HTTP {status}); "
            f"check the model name. The provider said: {_redact(said, call.api_key)}",
            status=status,
        )
    return _status_error(status, said, call, headers)


def _mentions_unknown_model(said: str) -> bool:
    lowered = said.lower()
    return "model" in lowered and any(
        s in lowered for s in ("not found", "does not exist", "unknown model", "no such model")
    )


def _raise_error_payload(data: Any, call: _Call) -> None:
    """Some providers report failures as a JSON error object with status 200."""
    if isinstance(data, dict) and data.get("error") and not data.get("choices"):
        error = data["error"]
        said = _provider_says(json.dumps(data))
        code = error.get("code") if isinstance(error, dict) else None
        status = code if isinstance(code, int) and code >= 400 else 500
        raise _status_error(status, said, call)


def _dropped(call: _Call, parts: list[str]) -> StreamDropped:
    got = sum(map(len, parts))
    return StreamDropped(
        f"{call.request.model}: the stream from {call.where} stopped before the answer "
        f"finished ({got} characters in); the connection closed early. Retrying may help."
    )


def _translate(exc: BaseException, call: _Call) -> LLMError:
    """Map an aiohttp / litellm / openai exception onto agents.errors."""
    if isinstance(exc, LLMError):
        return exc
    model, where = call.request.model, call.where
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or name in ("Timeout", "APITimeoutError"):
        return CallTimeout(
            f"{model}: no answer from {where} within {call.request.timeout:g} s (timeout)."
        )
    if _is_dropped_stream(exc):
        return _dropped(call, [])
    if _is_unreachable(exc):
        return ProviderUnreachable(
            f"cannot reach {where}: {_connection_reason(exc)} — is the server running "
            f"and is the address right?"
        )
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    if isinstance(status, int) and status >= 400:
        headers = _exception_headers(exc)
        said = _exception_message(exc)
        if status == 400 and _mentions_unknown_model(said):
            return _http_error(404, json.dumps({"error": {"message": said}}), headers or {}, call)
        return _status_error(status, said, call, headers)
    if isinstance(exc, ValueError):  # a body that is not JSON, a chunk we cannot read
        return ServerError(f"{model}: {where} sent an answer that is not valid JSON: {exc}")
    message = _redact(f"{name}: {exc}", call.api_key)
    return BadRequest(f"{model}: the call to {where} failed: {message}")


_BROKEN_BODY = frozenset(
    {"ClientPayloadError", "TransferEncodingError", "ContentLengthError", "RemoteProtocolError"}
)


def _is_dropped_stream(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    if names & _BROKEN_BODY:
        return True
    if "ServerDisconnectedError" in names and "ClientConnectorError" not in names:
        return True
    text = str(exc)
    return "incomplete chunked read" in text or "peer closed connection" in text


def _is_unreachable(exc: BaseException) -> bool:
    for e in _chain(exc):
        if isinstance(e, (ConnectionError, OSError)) and not isinstance(e, TimeoutError):
            return True
        if type(e).__name__ in ("ClientConnectorError", "APIConnectionError", "ConnectError"):
            return True
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _connection_reason(exc: BaseException) -> str:
    for e in _chain(exc):
        if isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower():
            return "connection refused"
        if "name or service not known" in str(e).lower() or "nodename nor servname" in str(e):
            return "unknown host name"
        if isinstance(e, ConnectionResetError):
            return "connection reset"
    return "connection failed"


def _exception_headers(exc: BaseException) -> Mapping[str, str] | None:
    for attr in ("litellm_response_headers", "headers"):
        headers = getattr(exc, attr, None)
        if headers:
            return dict(headers)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return dict(headers) if headers else None


def _exception_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    message = str(getattr(exc, "message", None) or exc)
    # litellm prefixes "litellm.RateLimitError: OpenAIException - "; keep the provider's words
    return re.sub(r"^(litellm\.\w+:\s*)?(\w+Exception\s*-\s*)?", "", message)[:300]
