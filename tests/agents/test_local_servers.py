"""Local OpenAI-compatible servers, as scripted servers that answer the way
llama-cpp-python's server, Ollama and LM Studio do (tests/support/server_dialects.py):
JSON forms each refuses, cut streams, tools only without streaming, usage where
each puts it. The real llama-cpp-python server: tests/agents/test_llama_cpp_server.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from agents.errors import BadRequest, EmptyAnswer, StreamInterrupted
from agents.events import LLMCallFinished, TaskRetried
from agents.llm import quirks
from agents.llm.calls import CallContext, RetryPolicy, call_model
from agents.llm.client import LOCAL_MAX_TOKENS, LiteLLMClient
from agents.llm.limiter import Limiter, limiter_for
from agents.llm.litellm_info import warm_up
from agents.plan import Plan, Task
from agents.plan.planner import Planner
from agents.plan.roster import Role, load_roster
from agents.ports import ApproveAll, Limits, LLMRequest, Message
from agents.run.agent import Endpoint, ModelSettings, call_with_fallbacks, run_task_agent
from agents.run.runner import Runner, RunOptions
from agents.run.state import TaskStatus
from agents.testing import RecordingSink
from agents.tools.base import Permission, ToolPolicy
from agents.tools.builtin import builtin_registry
from agents.tools.loop import ToolSetup
from tests.support.scripted_server import Reply, ScriptedServer
from tests.support.server_dialects import LLAMA_CPP, LM_STUDIO, OLLAMA, Dialect

REF = "llm/smol"
"""The person's reference; litellm's is openai/smol."""
FAST = RetryPolicy(base_delay=0.01, jitter=0.0)
PLAN = json.dumps({"goal": "g", "tasks": [
    {"id": "t1", "title": "Find facts", "agent": "researcher", "depends_on": []},
    {"id": "t2", "title": "Write it up", "agent": "writer", "depends_on": ["t1"]},
]})


@pytest.fixture(autouse=True)
def fresh_quirks() -> Iterator[None]:
    quirks.forget()
    yield
    quirks.forget()


@pytest.fixture
async def llm():
    await warm_up()
    client = LiteLLMClient()
    yield client
    await client.aclose()


def serve(dialect: Dialect) -> ScriptedServer:
    server = ScriptedServer(models=("smol",), dialect=dialect).start()
    return server


def settings(server: ScriptedServer) -> ModelSettings:
    return ModelSettings(model=REF, endpoints={REF: Endpoint("openai/smol", server.base_url, provider="llm")})


def formats(server: ScriptedServer) -> list[str | None]:
    return [(r.body or {}).get("response_format", {}).get("type") for r in server.chat_requests]


async def plan_with(llm: LiteLLMClient, server: ScriptedServer) -> tuple[Plan, RecordingSink]:
    sink = RecordingSink()
    planner = Planner(llm, load_roster(), settings(server), retry=FAST)
    result = await planner.plan(CallContext(run_id="r", sink=sink, purpose="plan"), "Write a report")
    return result.plan, sink


# --- structured output ------------------------------------------------------------------


async def test_llama_cpp_plans_with_json_object_after_refusing_json_schema_and_remembers(llm):
    with serve(LLAMA_CPP) as server:
        server.default = Reply(PLAN)
        plan, sink = await plan_with(llm, server)
        assert [t.id for t in plan.tasks] == ["t1", "t2"]
        assert formats(server) == ["json_schema", "json_object"]
        sent = server.chat_requests[1].body or {}
        assert sent["response_format"]["schema"]["properties"]["tasks"]  # the schema travels along
        assert not sink.of(TaskRetried)  # a refusal of the form is never retried as such
        await plan_with(llm, server)  # the next plan starts from what was learned
        assert formats(server) == ["json_schema", "json_object", "json_object"]


async def test_lm_studio_takes_json_schema_at_once(llm):
    with serve(LM_STUDIO) as server:
        server.default = Reply(PLAN)
        await plan_with(llm, server)
        assert formats(server) == ["json_schema"]


async def test_a_server_refusing_both_forms_gets_the_plain_prompt_and_the_plan_is_repaired(llm):
    both = Dialect("picky", refused_formats=frozenset({"json_schema", "json_object"}),
                   refusal=Reply.bad_request("response_format is not supported"))
    with serve(both) as server:
        server.default = Reply("Here is the plan:\n```json\n" + PLAN + "\n```")  # chatty, fenced
        plan, _ = await plan_with(llm, server)
        assert len(plan.tasks) == 2
        assert formats(server) == ["json_schema", "json_object", None]


async def test_a_500_saying_the_request_is_invalid_is_not_retried(llm):
    with serve(LLAMA_CPP) as server:
        server.default = Reply.error(500, "1 validation error: Input should be 'text' or 'json_object'",
                                     type="internal_server_error")
        sink = RecordingSink()
        request = settings(server).request(REF, [Message("user", "hi")])
        with pytest.raises(BadRequest, match="refused the request as invalid"):
            await call_model(llm, request, CallContext(run_id="r", sink=sink), FAST)
        assert len(server.chat_requests) == 1 and not sink.of(TaskRetried)


# --- streams cut short, empty answers ---------------------------------------------------


async def test_a_stream_ending_with_done_but_no_finish_reason_is_retried(llm):
    with serve(OLLAMA) as server:
        server.enqueue(Reply("the first half and the rest", done_early=2), Reply("the whole answer"))
        sink = RecordingSink()
        request = settings(server).request(REF, [Message("user", "hi")])
        response, attempts = await call_model(llm, request, CallContext(run_id="r", sink=sink), FAST)
        assert (response.text, attempts) == ("the whole answer", 2)
        assert "no finish reason" in sink.of(TaskRetried)[0].error


async def test_a_cut_stream_raises_stream_interrupted(llm):
    with serve(OLLAMA) as server:
        server.enqueue(Reply("cut short here", done_early=1))
        request = settings(server).request(REF, [Message("user", "hi")])
        with pytest.raises(StreamInterrupted):
            [d async for d in llm.stream(request)]


async def test_an_empty_answer_never_finishes_a_task(llm):
    with serve(LLAMA_CPP) as server:
        server.default = Reply("")
        sink = RecordingSink()
        with pytest.raises(EmptyAnswer):
            await call_with_fallbacks(llm, settings(server), [REF], [Message("user", "hi")],
                                      CallContext(run_id="r", sink=sink), FAST)
        runner = Runner(run_id="r", plan=Plan.from_dict({"goal": "g", "tasks": [
            {"id": "t1", "title": "T", "agent": "analyst"}]}), roster=load_roster(), llm=llm,
            settings=settings(server), sink=sink, gate=ApproveAll(),
            options=RunOptions(retry=FAST, synthesize=False))
        outcome = await runner.run()
        assert outcome.status != "completed" and runner.states["t1"].status == TaskStatus.FAILED


async def test_parallel_tasks_on_a_one_at_a_time_server_all_finish_whole(llm):
    """llama-cpp-python cuts a stream when another request waits: the limiter learns one at a time."""
    with serve(LLAMA_CPP) as server:
        server.default = Reply("a complete answer in six words", chunk_delay=0.01)
        tasks = [{"id": f"t{i}", "title": f"T{i}", "agent": "analyst"} for i in range(4)]
        sink = RecordingSink()
        runner = Runner(run_id="r", plan=Plan.from_dict({"goal": "g", "tasks": tasks}),
                        roster=load_roster(), llm=llm, settings=settings(server), sink=sink,
                        gate=ApproveAll(), options=RunOptions(retry=FAST, synthesize=False, max_parallel=4))
        outcome = await runner.run()
        assert outcome.status == "completed"
        assert {runner.states[t["id"]].output for t in tasks} == {"a complete answer in six words"}
        assert sink.of(TaskRetried)  # some were cut short first
        assert limiter_for(settings(server).request(REF, [])).cap == 1


async def test_a_cut_stream_sets_its_limiter_to_one_call_for_good():
    limiter = Limiter("llm", Limits(concurrent=4))
    first, second = await limiter.acquire(), await limiter.acquire()
    first.interrupted()
    assert limiter.cap == 1
    queued = [asyncio.ensure_future(limiter.acquire()) for _ in range(30)]
    second.succeeded()
    for turn in queued:  # each succeeds while the rest wait: never a probe past one
        permit = await asyncio.wait_for(turn, 1)
        assert limiter.in_flight == 1 and limiter.cap == 1
        permit.succeeded()
    limiter.configure(Limits(concurrent=8))  # new settings do not undo what the server showed
    assert limiter.cap == 1


# --- tools ---------------------------------------------------------------------------------


async def test_tools_are_offered_with_tool_choice_and_fall_back_to_unstreamed_steps(llm, tmp_path):
    with serve(LLAMA_CPP) as server:
        server.enqueue(
            Reply("", tool_calls=({"name": "write_file", "arguments": {"path": "a.py", "content": "x = 1\n"}},)),
            Reply("wrote a.py"),
        )
        role = Role("coder", "You write code.", tools=("write_file",))
        setup = ToolSetup(builtin_registry(), tmp_path, ToolPolicy(rules={"write_file": Permission.ALLOW}), max_steps=4)
        sink = RecordingSink()
        task = Task(id="t1", title="Write it", agent="coder", instructions="write a.py")
        response, _ = await run_task_agent(llm, settings(server), role, "goal", task, [],
                                           CallContext(run_id="r", sink=sink, task_id="t1"), FAST,
                                           tools=setup, gate=ApproveAll())
        assert response.text == "wrote a.py"
        assert (tmp_path / "a.py").read_text() == "x = 1\n"
        sent = server.chat_requests
        assert all((r.body or {}).get("tool_choice") == "auto" for r in sent)
        # the first streamed step was refused; every step after goes unstreamed at once
        assert [r.stream for r in sent] == [True, False, False]


# --- honest numbers --------------------------------------------------------------------------


async def test_without_usage_in_the_stream_counts_are_marked_estimated_and_named_by_reference(llm):
    with serve(LLAMA_CPP) as server:
        server.default = Reply("some answer")
        sink = RecordingSink()
        request = settings(server).request(REF, [Message("user", "hi")])
        response, _ = await call_model(llm, request, CallContext(run_id="r", sink=sink), FAST)
        assert response.usage.estimated and response.usage.total > 0
        (call,) = sink.of(LLMCallFinished)
        assert call.tokens_estimated and call.model == REF
        assert server.chat_requests[0].body["max_tokens"] == LOCAL_MAX_TOKENS


async def test_ollama_usage_in_the_finish_chunk_is_the_servers_own(llm):
    with serve(OLLAMA) as server:
        server.default = Reply("some answer", prompt_tokens=11, completion_tokens=3)
        request = settings(server).request(REF, [Message("user", "hi")], json_schema={"type": "object"})
        response, _ = await call_model(llm, request, CallContext(run_id="r", sink=RecordingSink()), FAST)
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 3)
        assert not response.usage.estimated
        assert formats(server) == ["json_schema"]


async def test_a_set_answer_length_is_kept_and_remote_servers_get_no_default(llm):
    with serve(OLLAMA) as server:
        request = LLMRequest("openai/smol", (Message("user", "hi"),), api_base=server.base_url, max_tokens=50)
        [d async for d in llm.stream(request)]
        assert server.chat_requests[0].body["max_tokens"] == 50
    from agents.llm.client import _on_this_machine

    assert _on_this_machine("http://localhost:11434/v1") and _on_this_machine("http://127.0.0.1:8080")
    assert not _on_this_machine("https://api.openai.com/v1") and not _on_this_machine(None)
