"""The in-process GGUF provider: a real model (SmolLM2-135M-Instruct), no mocks.

Every test shares one loaded model (module fixture) and asks for few tokens:
the model decodes ~30 tokens/s on one core.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.errors import BadRequest, ModelNotFound
from agents.llm.client import LiteLLMClient
from agents.llm.litellm_info import warm_up
from agents.llm.local_model import (
    LocalModelSpec,
    close_local_models,
    local_model,
    local_models,
    set_local_models,
)
from agents.ports import Delta, LLMRequest, Message, Response

MODEL = "local/smollm2-135m"


@pytest.fixture(scope="module", autouse=True)
def smollm2(embedded_gguf: Path) -> Iterator[Path]:
    """`local/smollm2-135m` for every test here (the GGUF's own ChatML template); the
    model is freed at the end."""
    before = local_models()
    set_local_models({"smollm2-135m": LocalModelSpec(embedded_gguf)})
    yield embedded_gguf
    close_local_models()
    set_local_models(before)


def request(text: str, max_tokens: int = 8, **options: object) -> LLMRequest:
    messages = (Message("system", "You answer briefly."), Message("user", text))
    return LLMRequest(MODEL, messages, max_tokens=max_tokens, temperature=0.0, **options)  # type: ignore[arg-type]


async def collect(client: LiteLLMClient, req: LLMRequest) -> tuple[list[Delta], list[float]]:
    """The deltas of one streamed call and when each arrived."""
    deltas: list[Delta] = []
    times: list[float] = []
    async for delta in client.stream(req):
        deltas.append(delta)
        times.append(time.perf_counter())
    return deltas, times


async def test_stream_yields_deltas_then_a_free_response_with_usage() -> None:
    await warm_up()
    deltas, _ = await collect(LiteLLMClient(), request("Name a colour."))
    final = deltas[-1].final
    assert isinstance(final, Response)
    texts = [d.text for d in deltas[:-1]]
    assert texts and all(texts)
    assert final.text == "".join(texts)
    assert final.model == MODEL
    assert final.usage.prompt_tokens > 5  # the system and user messages, formatted
    assert 0 < final.usage.completion_tokens <= 8
    assert (final.cost, final.cost_known) == (0.0, True)


async def test_json_schema_reaches_the_model_as_a_grammar() -> None:
    schema = {
        "type": "object",
        "properties": {
            "done": {"type": "boolean"},
            "colour": {"type": "string", "enum": ["red", "green", "blue"]},
        },
        "required": ["done", "colour"],
        "additionalProperties": False,
    }
    req = request("Pick a colour and say whether you are done.", max_tokens=40, json_schema=schema)
    response = await LiteLLMClient().complete(req)
    data = json.loads(response.text)  # a base model writes JSON only under a grammar
    assert set(data) == {"done", "colour"}
    assert isinstance(data["done"], bool)
    assert data["colour"] in ("red", "green", "blue")
    assert response.usage.completion_tokens > 0


async def test_cancelling_stops_generation_and_the_next_request_runs() -> None:
    client = LiteLLMClient()
    started = asyncio.Event()

    async def long_story() -> None:
        async for _ in client.stream(request("Tell a very long story.", max_tokens=400)):
            started.set()

    task = asyncio.create_task(long_story())
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled = time.perf_counter()
    deltas, times = await collect(client, request("Say hi.", max_tokens=4))
    assert deltas[-1].final is not None and deltas[-1].final.usage.completion_tokens > 0
    # 400 tokens would take >10 s: the worker stopped at the cancel
    assert times[0] - cancelled < 3.0


async def test_closing_a_stream_early_frees_the_worker() -> None:
    client = LiteLLMClient()
    stream = client.stream(request("Count to one hundred.", max_tokens=400))
    await anext(aiter(stream))
    await stream.aclose()
    closed = time.perf_counter()
    _, times = await collect(client, request("Say hi.", max_tokens=4))
    assert times[0] - closed < 3.0


async def test_concurrent_requests_are_served_one_after_the_other() -> None:
    client = LiteLLMClient()
    (a, a_times), (b, b_times) = await asyncio.gather(
        collect(client, request("Name a fruit.", max_tokens=6)),
        collect(client, request("Name a city.", max_tokens=6)),
    )
    assert a[-1].final is not None and b[-1].final is not None
    first, second = sorted([a_times, b_times])
    assert first[-1] < second[0]  # the single worker finished one before starting the other


async def test_a_request_given_up_while_queued_is_skipped() -> None:
    model, spec = local_model("smollm2-135m")
    messages = [{"role": "user", "content": "Name an animal."}]
    running = model.stream(messages, chat_format=spec.chat_format, max_tokens=12)
    await anext(running)  # the worker is busy with this one now
    waiting = model.stream(messages, chat_format=spec.chat_format, max_tokens=400)
    queued = asyncio.create_task(anext(waiting))
    await asyncio.sleep(0.05)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    rest = [chunk async for chunk in running]
    finished = time.perf_counter()
    assert rest[-1].finish_reason is not None
    after = model.stream(messages, chat_format=spec.chat_format, max_tokens=3)
    await anext(after)
    assert time.perf_counter() - finished < 3.0  # not behind 400 tokens nobody wants
    assert [chunk async for chunk in after][-1].completion_tokens > 0


async def test_the_loop_stays_responsive_while_the_model_generates() -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    deltas, _ = await collect(LiteLLMClient(), request("Describe the sea.", max_tokens=24))
    took = time.perf_counter() - started
    done.set()
    await ticker
    assert deltas[-1].final is not None and deltas[-1].final.usage.completion_tokens > 4
    # Generating on the loop would stall it for the whole call; off the loop it
    # keeps ticking. Relative to the call's length, so a busy machine can't fail it.
    assert len(gaps) > 20
    assert max(gaps) < took / 3, f"the loop stalled {max(gaps) * 1000:.0f} of {took * 1000:.0f} ms"


async def test_unknown_local_model_names_the_known_ones() -> None:
    req = LLMRequest("local/no-such-model", (Message("user", "hi"),))
    with pytest.raises(ModelNotFound, match="smollm2-135m"):
        await LiteLLMClient().complete(req)


async def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    set_local_models({**local_models(), "ghost": LocalModelSpec(tmp_path / "ghost.gguf")})
    req = LLMRequest("local/ghost", (Message("user", "hi"),))
    with pytest.raises(ModelNotFound, match=r"ghost\.gguf does not exist"):
        await LiteLLMClient().complete(req)


async def test_a_file_llama_cpp_cannot_load_is_a_permanent_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(100))  # the magic, then nothing usable
    set_local_models({**local_models(), "broken": LocalModelSpec(broken)})
    req = LLMRequest("local/broken", (Message("user", "hi"),))
    with pytest.raises(BadRequest, match=r"llama\.cpp cannot load .*broken\.gguf"):
        await LiteLLMClient().complete(req)
