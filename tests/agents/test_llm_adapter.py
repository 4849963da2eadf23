"""LiteLLMClient against the scripted OpenAI-compatible server.

Every test runs twice: through the direct route (litellm maps the request,
Troupe sends it) and through litellm.acompletion, so both stay correct.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
    TransientLLMError,
)
from agents.llm.client import LiteLLMClient
from agents.llm.litellm_info import warm_up
from agents.llm.prices import FREE, Price, PriceSource, map_price
from agents.ports import Delta, LLMRequest, Message, Response
from tests.support.scripted_server import Reply, ScriptedServer

KEY = "sk-test-0123456789abcdefSECRET"
UNKNOWN = "openai/troupe-test-model"  # not in litellm's cost map
KNOWN = "openai/gpt-4o-mini"  # in litellm's cost map


@pytest.fixture(params=["direct", "litellm"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[LiteLLMClient]:
    await warm_up()
    llm = LiteLLMClient(direct=request.param == "direct")
    yield llm
    await llm.aclose()


def ask(server: ScriptedServer, model: str = UNKNOWN, **changes: object) -> LLMRequest:
    fields: dict[str, object] = {
        "model": model,
        "messages": (Message("system", "You are terse."), Message("user", "Say hello.")),
        "api_base": server.base_url,
        "api_key": KEY,
        "timeout": 10.0,
    }
    fields.update(changes)
    return LLMRequest(**fields)  # type: ignore[arg-type]


async def collect(llm: LiteLLMClient, request: LLMRequest) -> tuple[list[Delta], Response]:
    deltas = [d async for d in llm.stream(request)]
    final = deltas[-1].final
    assert final is not None, "the last Delta carries the Response"
    assert all(d.final is None for d in deltas[:-1])
    return deltas, final


def no_key_in(error: BaseException) -> None:
    """Neither the message nor anything chained to it shows the key."""
    seen: BaseException | None = error
    while seen is not None:
        assert KEY not in str(seen) and KEY not in repr(seen)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)


# --- answers ------------------------------------------------------------------------


async def test_stream_yields_text_usage_and_unknown_cost(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(
        Reply("Hello brave new world", chunks=4, prompt_tokens=12, completion_tokens=5)
    )

    deltas, final = await collect(client, ask(llm_server))

    assert "".join(d.text for d in deltas) == "Hello brave new world"
    assert len([d for d in deltas if d.text]) == 4
    assert final.text == "Hello brave new world"
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (12, 5)
    assert final.cost == 0.0 and final.cost_known is False
    assert final.model == UNKNOWN
    assert final.latency_ms > 0
    [seen] = llm_server.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.body is not None and seen.body["stream"] is True
    assert seen.body["stream_options"] == {"include_usage": True}
    assert seen.model == "troupe-test-model"
    assert seen.messages == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello."},
    ]
    assert seen.headers["authorization"] == f"Bearer {KEY}"


async def test_known_model_is_priced_from_the_cost_map(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.default = Reply("priced", prompt_tokens=1000, completion_tokens=500)

    _, streamed = await collect(client, ask(llm_server, KNOWN))
    completed = await client.complete(ask(llm_server, KNOWN))

    for response in (streamed, completed):
        assert response.cost_known is True
        assert response.cost > 0
        # gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output (litellm 1.106.2's map)
        assert response.cost == pytest.approx(1000 * 0.15e-6 + 500 * 0.60e-6)


async def test_a_price_on_the_request_wins_over_the_cost_map(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    # the person's price for a model litellm does not know, and free for one on this machine
    llm_server.default = Reply("priced", prompt_tokens=1000, completion_tokens=500)
    person = Price.per_million(2.0, 8.0)

    _, streamed = await collect(client, ask(llm_server, UNKNOWN, price=person))
    completed = await client.complete(ask(llm_server, KNOWN, price=FREE))

    assert (streamed.cost_known, streamed.cost) == (True, pytest.approx(1000 * 2e-6 + 500 * 8e-6))
    assert (completed.cost_known, completed.cost) == (True, 0.0)


def test_map_price_reads_litellm_cost_map() -> None:
    assert map_price(KNOWN) == Price(0.15e-6, 0.60e-6, PriceSource.MAP)
    assert map_price(UNKNOWN) is None


async def test_complete_returns_the_whole_answer(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply("All done.", prompt_tokens=7, completion_tokens=3))

    response = await client.complete(ask(llm_server))

    assert response.text == "All done."
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (7, 3)
    assert response.cost_known is False and response.cost == 0.0
    [seen] = llm_server.requests
    assert seen.body is not None and not seen.body.get("stream")


async def test_parameters_reach_the_server(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    await client.complete(ask(llm_server, temperature=0.25, max_tokens=321))

    [seen] = llm_server.requests
    assert seen.body is not None
    assert seen.body["temperature"] == 0.25
    assert seen.body["max_tokens"] == 321


async def test_json_schema_is_sent_as_response_format(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    schema = {"type": "object", "properties": {"tasks": {"type": "array"}}, "required": ["tasks"]}
    llm_server.enqueue(Reply('{"tasks": []}'))

    response = await client.complete(ask(llm_server, json_schema=schema))

    assert response.text == '{"tasks": []}'
    [seen] = llm_server.requests
    assert seen.body is not None
    assert seen.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "plan", "schema": schema},
    }


async def test_json_schema_with_a_known_model_streams(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply('{"tasks": []}'))

    _, final = await collect(client, ask(llm_server, KNOWN, json_schema={"type": "object"}))

    assert final.text == '{"tasks": []}'
    body = llm_server.requests[0].body
    assert body is not None and body["response_format"]["type"] == "json_schema"


async def test_each_route_is_what_it_says(
    client: LiteLLMClient, llm_server: ScriptedServer, request: pytest.FixtureRequest
) -> None:
    await client.complete(ask(llm_server))

    headers = llm_server.requests[0].headers
    through_openai_sdk = "x-stainless-lang" in headers
    assert through_openai_sdk is (request.node.callspec.params["client"] == "litellm")


async def test_many_concurrent_streams(client: LiteLLMClient, llm_server: ScriptedServer) -> None:
    llm_server.script(lambda r: Reply(f"echo {r.last_user}", chunks=3))
    requests = [ask(llm_server, messages=(Message("user", f"n{i}"),)) for i in range(40)]

    results = await asyncio.gather(*(collect(client, r) for r in requests))

    assert sorted(final.text for _, final in results) == sorted(f"echo n{i}" for i in range(40))
    assert len(llm_server.requests) == 40


async def test_breaking_out_of_a_stream_releases_it(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.default = Reply("one two three four five six", chunk_delay=0.01)

    async for delta in client.stream(ask(llm_server)):
        if delta.text:
            break
    response = await client.complete(ask(llm_server))

    assert response.text == "one two three four five six"


# --- failures -----------------------------------------------------------------------

ERRORS = [
    pytest.param(Reply.server_error(500), ServerError, 500, id="500"),
    pytest.param(Reply.server_error(503, "overloaded"), ServerError, 503, id="503"),
    pytest.param(Reply.rate_limited(retry_after=2), RateLimited, 429, id="429"),
    pytest.param(Reply.unauthorized(), AuthError, 401, id="401"),
    pytest.param(Reply.forbidden(), AuthError, 403, id="403"),
    pytest.param(Reply.model_not_found("troupe-test-model"), ModelNotFound, 404, id="404"),
    pytest.param(Reply.bad_request("messages: too long"), BadRequest, 400, id="400"),
]


@pytest.mark.parametrize(("reply", "error", "status"), ERRORS)
@pytest.mark.parametrize("mode", ["stream", "complete"])
async def test_http_errors_are_mapped(
    client: LiteLLMClient,
    llm_server: ScriptedServer,
    reply: Reply,
    error: type[LLMError],
    status: int,
    mode: str,
) -> None:
    llm_server.enqueue(reply)

    with pytest.raises(error) as caught:
        if mode == "stream":
            await collect(client, ask(llm_server))
        else:
            await client.complete(ask(llm_server))

    assert caught.value.status == status
    assert str(status) in str(caught.value)
    assert llm_server.base_url in str(caught.value)
    assert len(llm_server.requests) == 1, "exactly one HTTP request: no hidden retries"
    no_key_in(caught.value)


async def test_rate_limit_carries_retry_after(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply.rate_limited(retry_after=2))

    with pytest.raises(RateLimited) as caught:
        await collect(client, ask(llm_server))

    assert caught.value.retry_after == 2
    assert isinstance(caught.value, TransientLLMError)
    assert "retry after 2 s" in str(caught.value)


async def test_retry_after_as_http_date(client: LiteLLMClient, llm_server: ScriptedServer) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    llm_server.enqueue(Reply.rate_limited(retry_after=when))

    with pytest.raises(RateLimited) as caught:
        await client.complete(ask(llm_server))

    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 31


async def test_rate_limit_without_retry_after(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply.rate_limited())

    with pytest.raises(RateLimited) as caught:
        await client.complete(ask(llm_server))

    assert caught.value.retry_after is None or caught.value.retry_after >= 0
    assert len(llm_server.requests) == 1


async def test_stream_cut_mid_way_is_dropped(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply.dropped("partial answer that never ends", after=2))
    received: list[str] = []

    with pytest.raises(StreamDropped) as caught:
        async for delta in client.stream(ask(llm_server)):
            received.append(delta.text)

    assert "".join(received) == "partial answer "
    assert "stopped before the answer finished" in str(caught.value)
    assert len(llm_server.requests) == 1
    no_key_in(caught.value)


async def test_stream_ending_without_finish_is_dropped(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply("cut short here", end_early=1))

    with pytest.raises(StreamDropped):
        await collect(client, ask(llm_server))


async def test_unreachable_server(client: LiteLLMClient) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1"
    request = LLMRequest(
        model=UNKNOWN, messages=(Message("user", "hi"),), api_base=base, api_key=KEY, timeout=5
    )

    for call in (client.complete(request), collect(client, request)):
        with pytest.raises(ProviderUnreachable) as caught:
            await call
        assert f"cannot reach {base}" in str(caught.value)
        assert "connection refused" in str(caught.value)
        no_key_in(caught.value)


async def test_no_first_byte_within_timeout(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.default = Reply("too late", latency=5)
    started = time.monotonic()

    with pytest.raises(CallTimeout) as caught:
        await collect(client, ask(llm_server, timeout=0.3))
    with pytest.raises(CallTimeout):
        await client.complete(ask(llm_server, timeout=0.3))

    assert time.monotonic() - started < 3
    assert "0.3 s" in str(caught.value)
    assert len(llm_server.requests) == 2
    no_key_in(caught.value)


async def test_timeout_covers_the_whole_stream(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply("a b c d e f g h i j", chunk_delay=0.1))
    started = time.monotonic()

    with pytest.raises(CallTimeout):
        await collect(client, ask(llm_server, timeout=0.35))

    assert time.monotonic() - started < 2


async def test_an_answer_still_streaming_is_not_cut(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    """Issue 13, item 5: a chunk every 0.3 s for ~3 s, idle 1 s, overall 10 s, arrives
    whole (a 2 s deadline for the whole call used to cut it)."""
    words = [f"w{i}" for i in range(10)]
    llm_server.enqueue(Reply(" ".join(words), chunk_delay=0.3))
    started = time.monotonic()

    deltas, final = await collect(client, ask(llm_server, timeout=10.0, idle_timeout=1.0))

    assert final.text == " ".join(words)
    assert "".join(d.text for d in deltas) == final.text
    assert time.monotonic() - started > 2.5  # it really streamed past the old 2 s deadline
    assert len(llm_server.requests) == 1


async def test_a_stalled_stream_fails_within_the_idle_timeout(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply("first then nothing more", stall_after=1))
    received: list[str] = []
    started = time.monotonic()

    with pytest.raises(CallStalled) as caught:
        async for delta in client.stream(ask(llm_server, timeout=30.0, idle_timeout=1.0)):
            received.append(delta.text)

    assert time.monotonic() - started < 10  # the idle 1 s, far before the overall 30 s
    assert "".join(received) == "first "
    assert str(caught.value) == f"no data from {UNKNOWN} for 1 s (idle timeout)"
    assert isinstance(caught.value, TransientLLMError)  # retried like a timeout
    no_key_in(caught.value)


async def test_no_first_byte_within_the_idle_timeout(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply("too late", latency=20))
    started = time.monotonic()

    with pytest.raises(CallStalled):
        await collect(client, ask(llm_server, timeout=30.0, idle_timeout=0.5))

    assert time.monotonic() - started < 10


async def test_a_whole_answer_has_only_the_overall_limit(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    """Not streamed, nothing comes until the answer is done: the idle timeout does not
    apply, the overall limit does."""
    llm_server.enqueue(Reply("slow but whole", latency=1.0))
    response = await client.complete(ask(llm_server, timeout=10.0, idle_timeout=0.3))
    assert response.text == "slow but whole"

    llm_server.enqueue(Reply("too late", latency=20))
    started = time.monotonic()
    with pytest.raises(CallTimeout) as caught:
        await client.complete(ask(llm_server, timeout=1.0, idle_timeout=0.3))
    assert time.monotonic() - started < 10
    assert not isinstance(caught.value, CallStalled)
    assert "1 s" in str(caught.value)


async def test_key_echoed_by_the_provider_is_redacted(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.enqueue(Reply.unauthorized(f"Incorrect API key provided: {KEY}."))

    with pytest.raises(AuthError) as caught:
        await client.complete(ask(llm_server))

    assert "Incorrect API key provided" in str(caught.value)
    no_key_in(caught.value)


async def test_model_without_provider_is_not_found(client: LiteLLMClient) -> None:
    request = LLMRequest(model="no-such-model-xyz", messages=(Message("user", "hi"),))

    with pytest.raises(ModelNotFound) as caught:
        await client.complete(request)

    assert "openai/" in str(caught.value)


# --- loading ----------------------------------------------------------------------------


def test_importing_the_adapter_does_not_import_litellm() -> None:
    root = Path(__file__).resolve().parents[2]
    code = "import sys, agents.llm.client; assert 'litellm' not in sys.modules, 'litellm imported early'"
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)


async def test_usage_is_counted_when_the_server_reports_none(
    client: LiteLLMClient, llm_server: ScriptedServer
) -> None:
    llm_server.default = Reply("four words of text", send_usage=False)

    _, streamed = await collect(client, ask(llm_server, KNOWN))
    completed = await client.complete(ask(llm_server, KNOWN))

    for response in (streamed, completed):
        assert response.usage.prompt_tokens > 0
        assert response.usage.completion_tokens > 0
        assert response.cost > 0


# --- an error body with status 200 (some proxies and local servers answer so) -------------

ERRORS_WITH_200 = [
    pytest.param(Reply.error(200, "The model is overloaded, try later", type="server_error"),
                 ServerError, id="server"),
    pytest.param(Reply.error(200, "Rate limit reached for requests", type="rate_limit_error"),
                 RateLimited, id="rate-limit"),
    pytest.param(Reply.error(200, "Incorrect API key provided", type="authentication_error"),
                 AuthError, id="auth"),
]


@pytest.mark.parametrize(("reply", "error"), ERRORS_WITH_200)
@pytest.mark.parametrize("mode", ["stream", "complete"])
async def test_an_error_body_with_status_200_is_the_servers_error(
    client: LiteLLMClient, llm_server: ScriptedServer, reply: Reply, error: type[LLMError], mode: str
) -> None:
    llm_server.enqueue(reply)

    with pytest.raises(LLMError) as caught:
        if mode == "stream":
            await collect(client, ask(llm_server))
        else:
            await client.complete(ask(llm_server))

    said = reply.error_body["error"]["message"]  # type: ignore[index]
    assert type(caught.value) is error, caught.value
    assert said in str(caught.value) and "closed early" not in str(caught.value)
    assert len(llm_server.requests) == 1
    no_key_in(caught.value)
