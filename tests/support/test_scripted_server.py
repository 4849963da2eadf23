"""The scripted server itself, spoken to over plain HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import aiohttp
import httpx
import pytest

from tests.support.scripted_server import Gate, Reply, ScriptedServer, by_content

CHAT = "/chat/completions"


def chat(server: ScriptedServer, text: str = "hi", **body: Any) -> httpx.Response:
    payload = {"model": "m", "messages": [{"role": "user", "content": text}], **body}
    return httpx.post(server.base_url + CHAT, json=payload, timeout=5)


def events(response: httpx.Response) -> list[Any]:
    out: list[Any] = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_json_answer_with_usage(llm_server: ScriptedServer) -> None:
    llm_server.enqueue(Reply("Hello.", prompt_tokens=3, completion_tokens=2))

    answer = chat(llm_server).json()

    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "Hello."}
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_stream_in_chunks_then_usage_then_done(llm_server: ScriptedServer) -> None:
    llm_server.enqueue(Reply("abcdef", chunks=3, prompt_tokens=1, completion_tokens=3))

    got = events(chat(llm_server, stream=True, stream_options={"include_usage": True}))

    texts = [e["choices"][0]["delta"].get("content") for e in got[1:4]]
    assert texts == ["ab", "cd", "ef"]
    assert got[4]["choices"][0]["finish_reason"] == "stop"
    assert got[5]["choices"] == [] and got[5]["usage"]["completion_tokens"] == 3
    assert got[-1] == "[DONE]"


def test_stream_without_include_usage_has_no_usage_chunk(llm_server: ScriptedServer) -> None:
    got = events(chat(llm_server, stream=True))

    assert not any(isinstance(e, dict) and "usage" in e for e in got)


def test_choice_order_routes_handler_queue_default(llm_server: ScriptedServer) -> None:
    llm_server.default = Reply("default")
    llm_server.enqueue("queued")
    llm_server.script(lambda r: "handled" if "handler" in r.last_user else None)
    llm_server.on(contains="route", reply="routed", times=1)

    said = [
        chat(llm_server, t).json()["choices"][0]["message"]["content"]
        for t in ("route", "route", "handler", "x", "x")
    ]

    assert said == ["routed", "queued", "handled", "default", "default"]
    assert [r.index for r in llm_server.requests] == [0, 1, 2, 3, 4]
    assert llm_server.requests[2].last_user == "handler"


def test_by_content_helper(llm_server: ScriptedServer) -> None:
    llm_server.script(by_content({"plan": Reply("PLAN"), "write": "TEXT"}, default="?"))

    said = [
        chat(llm_server, t).json()["choices"][0]["message"]["content"] for t in ("plan it", "x")
    ]

    assert said == ["PLAN", "?"]


def test_error_replies(llm_server: ScriptedServer) -> None:
    llm_server.enqueue(
        Reply.rate_limited(retry_after=2), Reply.unauthorized(), Reply.server_error()
    )

    limited, denied, failed = chat(llm_server), chat(llm_server), chat(llm_server)

    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"
    assert failed.status_code == 500


def test_dropped_stream_closes_mid_body(llm_server: ScriptedServer) -> None:
    llm_server.enqueue(Reply.dropped("a b c d", after=2))

    with pytest.raises(httpx.RemoteProtocolError):
        chat(llm_server, stream=True)


def test_script_errors_are_kept_for_the_test() -> None:
    with ScriptedServer() as server:
        server.script(lambda r: 1 / 0)
        assert chat(server).status_code == 500
        assert isinstance(server.errors[0], ZeroDivisionError)


def test_models_endpoint_and_recorded_headers(llm_server: ScriptedServer) -> None:
    models = httpx.get(llm_server.base_url + "/models", headers={"X-Probe": "1"}).json()

    assert models["data"][0]["id"] == "test-model"
    assert llm_server.requests[0].headers["x-probe"] == "1"
    assert llm_server.chat_requests == []


async def test_gate_holds_replies_until_opened(llm_server: ScriptedServer) -> None:
    gate = Gate()
    llm_server.default = Reply("released", wait=gate)
    async with httpx.AsyncClient() as client:
        pending = asyncio.ensure_future(
            client.post(llm_server.base_url + CHAT, json={"model": "m", "messages": []})
        )
        await llm_server.until_requests(1)
        await asyncio.sleep(0.05)
        assert not pending.done()
        threading.Thread(target=gate.open).start()
        answer = await pending

    assert answer.json()["choices"][0]["message"]["content"] == "released"


async def test_latency_does_not_block_other_requests(llm_server: ScriptedServer) -> None:
    llm_server.on(contains="slow", reply=Reply("slow", latency=0.5))
    async with httpx.AsyncClient() as client:
        slow = asyncio.ensure_future(
            client.post(
                llm_server.base_url + CHAT,
                json={"model": "m", "messages": [{"role": "user", "content": "slow"}]},
            )
        )
        started = time.monotonic()
        fast = await client.post(
            llm_server.base_url + CHAT,
            json={"model": "m", "messages": [{"role": "user", "content": "fast"}]},
        )
        assert time.monotonic() - started < 0.4
        assert fast.json()["choices"][0]["message"]["content"] == "ok"
        assert (await slow).json()["choices"][0]["message"]["content"] == "slow"


async def test_hundreds_of_concurrent_streams(llm_server: ScriptedServer) -> None:
    llm_server.default = Reply(" ".join(f"w{i}" for i in range(20)), latency=0.05)
    body = {"model": "m", "messages": [], "stream": True, "stream_options": {"include_usage": True}}

    async def one(session: aiohttp.ClientSession) -> int:
        async with session.post(llm_server.base_url + CHAT, json=body) as response:
            return sum([1 async for line in response.content if line.startswith(b"data: ")])

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        counts = await asyncio.gather(*(one(session) for _ in range(320)))

    assert counts == [24] * 320  # role, 20 pieces, finish, usage, [DONE]
    assert len(llm_server.requests) == 320
