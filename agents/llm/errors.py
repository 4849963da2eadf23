"""Every failure of a model call as an `agents.errors.LLMError` with a message meant for
a person: HTTP statuses, provider error bodies, and aiohttp / litellm / openai
exceptions. No message ever contains the API key.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agents.errors import (
    AuthError,
    BadRequest,
    CallStalled,
    CallTimeout,
    LLMError,
    ModelNotFound,
    ProviderUnreachable,
    RateLimited,
    ServerError,
    StreamDropped,
    StreamInterrupted,
)

if TYPE_CHECKING:
    from agents.llm.direct import _Call

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


# A 5xx whose words say the request itself is invalid: sent again it fails again.
_INVALID = re.compile(
    r"validation error|literal_error|invalid (request|value|parameter|argument)|not supported"
    r"|unsupported|input should be|must be one of",
    re.IGNORECASE,
)


def _status_error(
    status: int,
    said: str,
    call: _Call,
    headers: Mapping[str, str] | None = None,
    how: str | None = None,
) -> LLMError:
    """The LLMError for an HTTP error status, with a message for a person.

    `how` says how the error came when it was not that status ("HTTP 200 with an
    error body"); `status` is then the kind of failure the body names.
    """
    model, where = call.request.model, call.where
    how = how or f"HTTP {status}"
    said = _redact(said, call.api_key)
    tail = f" The provider said: {said}" if said else ""
    if status == 429:
        wait = _retry_after(headers)
        hint = f"; it asks to retry after {wait:g} s" if wait is not None else ""
        return RateLimited(f"{model}: rate limited by {where} ({how}){hint}.{tail}", retry_after=wait)
    if status in (401, 403):
        what = "rejected the API key" if status == 401 else "refused access with this API key"
        message = f"{model}: {where} {what} ({how}); check the key in Settings.{tail}"
        return AuthError(message, status=status)
    if status == 404:
        message = f"model {model!r} not found at {where} ({how}); check the model name.{tail}"
        return ModelNotFound(message, status=404)
    if status == 408:
        return CallTimeout(f"{model}: {where} timed out ({how}).{tail}", status=408)
    if status >= 500 and _INVALID.search(said):  # llama-cpp-python answers its validation errors so
        return BadRequest(f"{model}: {where} refused the request as invalid ({how}).{tail}", status=status)
    if status >= 500:
        return ServerError(f"{model}: {where} failed on its side ({how}).{tail}", status=status)
    return BadRequest(f"{model}: {where} refused the request ({how}).{tail}", status=status)


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
        said = _provider_says(json.dumps(data))
        status = _payload_status(data["error"], said)
        raise _status_error(status, said, call, how="HTTP 200 with an error body")


# An error body's type or code, as the HTTP status such a failure has (OpenAI's,
# Anthropic's and the local servers' words); anything else is the server's fault.
_ERROR_KINDS = (
    ("rate_limit", 429), ("quota", 429), ("auth", 401), ("api_key", 401), ("permission", 403),
    ("not_found", 404), ("timeout", 408), ("invalid_request", 400), ("bad_request", 400),
)  # fmt: skip


def _payload_status(error: Any, said: str) -> int:
    """The HTTP status an error body (sent with 200) stands for: its code, else its
    type's words, else its message's ("Rate limit reached", "Incorrect API key")."""
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and code >= 400:
        return code
    if _mentions_unknown_model(said):
        return 404
    kind = f"{error.get('type') or ''} {code or ''}" if isinstance(error, dict) else ""
    for words in (kind, said):
        words = re.sub(r"[\s-]+", "_", words.lower())
        for word, status in _ERROR_KINDS:
            if word in words:
                return status
    return 500


async def _raise_unstreamed_error(chunks: Any, call: _Call) -> None:
    """litellm's stream of an OpenAI-wire answer whose body is plain JSON (an error with
    status 200, not SSE): raise that error; litellm would read it as an empty answer."""
    response: Any = getattr(getattr(chunks, "completion_stream", None), "response", None)
    headers = getattr(response, "headers", None) or {}
    if response is None or not str(headers.get("content-type", "")).startswith("application/json"):
        return
    try:
        data = json.loads(await response.aread())
    except Exception:  # unreadable: litellm's stream reports what it can
        return
    _raise_error_payload(data, call)


def _not_a_stream(call: _Call, stray: list[bytes], parts: list[str]) -> LLMError:
    """A streamed call whose body ended unfinished: the server's error if the body
    was a JSON error instead of a stream, else a dropped stream."""
    try:
        data = json.loads(b"\n".join(stray)) if stray else None
    except ValueError:
        data = None
    try:
        _raise_error_payload(data, call)
    except LLMError as exc:
        return exc
    return _dropped(call, parts)


def _interrupted(call: _Call, parts: list[str]) -> StreamInterrupted:
    got = sum(map(len, parts))
    return StreamInterrupted(
        f"{call.request.model}: {call.where} ended the stream without finishing the answer "
        f"({got} characters in, no finish reason); it may have stopped it to serve another call."
    )


class EmptyStream(StreamDropped):
    """A stream closed before its first chunk: llama-cpp-python's server does so when its
    handler fails after the 200 went out (a tool call it cannot stream, a prompt longer
    than its context); the same call unstreamed gets the server's own answer or error."""


def _empty_stream(call: _Call) -> EmptyStream:
    return EmptyStream(
        f"{call.request.model}: {call.where} sent an empty stream (HTTP 200, no data); "
        f"it may not stream this call."
    )


def _dropped(call: _Call, parts: list[str]) -> StreamDropped:
    got = sum(map(len, parts))
    return StreamDropped(
        f"{call.request.model}: the stream from {call.where} stopped before the answer "
        f"finished ({got} characters in); the connection closed early. Retrying may help."
    )


def _stalled(call: _Call) -> CallStalled:
    idle = call.request.idle_timeout or 0.0
    return CallStalled(f"no data from {call.request.model} for {idle:g} s (idle timeout)")


def _translate(exc: BaseException, call: _Call) -> LLMError:
    """Map an aiohttp / litellm / openai exception onto agents.errors."""
    if isinstance(exc, LLMError):
        return exc
    model, where = call.request.model, call.where
    name = type(exc).__name__
    if name == "SocketTimeoutError" or (
        name == "ServerTimeoutError" and "reading data" in str(exc)
    ):  # aiohttp's sock_read: the direct route's idle timeout
        return _stalled(call)
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
    if name == "APIError" and status is None:  # litellm: the body was an error, the status 200
        said = _exception_message(exc)
        return _status_error(_payload_status({}, said), said, call, how="an error in its answer")
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
    return re.sub(r"^(litellm\.\w+:\s*)?(\w+Error:\s*)?(\w+Exception\s*-\s*)?", "", message)[:300]
