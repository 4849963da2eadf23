"""Agents that call tools: the adapter over HTTP (both routes), the loop, the policy, the runner."""

from __future__ import annotations

import json

import pytest

from agents.approvals import Subject
from agents.errors import ToolStepsExhausted
from agents.events import (
    ApprovalRequested,
    ApprovalResolved,
    LLMCallFinished,
    TaskFailed,
    TaskFinished,
    ToolCallFinished,
    ToolCallRequested,
)
from agents.llm.calls import CallContext, RetryPolicy
from agents.llm.client import LiteLLMClient
from agents.llm.stream import ToolCallParts
from agents.plan import Plan, Task
from agents.plan.roster import Role, load_roster
from agents.ports import Action, ApproveAll, Decision, LLMRequest, Message, ToolCall
from agents.run.agent import ModelSettings, run_task_agent
from agents.run.runner import Runner, RunOptions
from agents.testing import RecordingSink, ScriptedGate
from agents.tools.base import Permission, ToolPolicy
from agents.tools.builtin import builtin_registry
from agents.tools.loop import ToolSetup
from tests.support.scripted_server import Reply

FAST = RetryPolicy(max_attempts=1)
CODER = Role("coder", "You write code.", tools=("read_file", "write_file", "run_python"))


@pytest.fixture(params=[True, False], ids=["direct", "acompletion"])
async def llm(request):
    client = LiteLLMClient(direct=request.param)
    yield client
    await client.aclose()


@pytest.fixture
def ws(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


def settings_for(server):
    return ModelSettings(model="openai/test-model", api_base=server.base_url, api_key="sk-test-x")


async def run_agent(llm, server, ws, *, role=CODER, policy=None, gate=None, max_steps=8):
    sink = RecordingSink()
    ctx = CallContext(run_id="r", sink=sink, task_id="t1")
    setup = ToolSetup(builtin_registry(), ws, policy or ToolPolicy(), max_steps=max_steps)
    task = Task(id="t1", title="Fix it", agent=role.name, instructions="fix the bug")
    response, attempts = await run_task_agent(
        llm, settings_for(server), role, "goal", task, [], ctx, FAST, tools=setup, gate=gate)
    return response, sink


# --- the adapter --------------------------------------------------------------------


async def test_tools_and_tool_messages_travel_on_both_routes(llm, llm_server):
    llm_server.enqueue(Reply("", tool_calls=(call("read_file", path="a.txt"),)))
    tools = tuple(builtin_registry().specs(["read_file"]))
    messages = (Message("user", "hi"),
                Message("assistant", "", tool_calls=(ToolCall("c1", "list_files", "{}"),)),
                Message("tool", "a.txt", tool_call_id="c1"))
    request = LLMRequest(model="openai/test-model", messages=messages,
                         api_base=llm_server.base_url, api_key="sk-test-x", tools=tools)
    final = None
    async for delta in llm.stream(request):
        final = delta.final or final
    assert final.tool_calls == (ToolCall("call_0", "read_file", '{"path": "a.txt"}'),)
    body = llm_server.requests[-1].body
    assert body["tools"] == list(tools)
    assert body["messages"][1]["tool_calls"][0]["function"] == {"name": "list_files", "arguments": "{}"}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "c1", "content": "a.txt"}
    llm_server.enqueue(Reply("", tool_calls=(call("read_file", path="b"),)))
    assert (await llm.complete(request)).tool_calls == (ToolCall("call_0", "read_file", '{"path": "b"}'),)


def test_streamed_fragments_join_by_index():
    parts = ToolCallParts()
    parts.add([{"index": 0, "id": "a", "function": {"name": "read_file", "arguments": '{"pa'}}])
    parts.add([{"index": 1, "id": "b", "function": {"name": "list_files", "arguments": ""}},
               {"index": 0, "function": {"arguments": 'th": "x"}'}}])
    assert parts.calls() == (ToolCall("a", "read_file", '{"path": "x"}'), ToolCall("b", "list_files", "{}"))


# --- the loop -------------------------------------------------------------------------


async def test_tool_result_reaches_the_model_and_the_answer_is_the_output(llm, llm_server, ws):
    (ws / "bug.py").write_text("print(1/0)")
    llm_server.enqueue(Reply("Let me look.", tool_calls=(call("read_file", path="bug.py"),)),
                       Reply("The bug is a division by zero."))
    response, sink = await run_agent(llm, llm_server, ws)
    assert response.text == "The bug is a division by zero."
    first, second = llm_server.chat_requests
    assert [t["function"]["name"] for t in first.body["tools"]] == ["read_file", "write_file", "run_python"]
    assistant, tool = second.messages[-2:]
    assert assistant["tool_calls"][0]["function"]["name"] == "read_file"
    assert tool == {"role": "tool", "tool_call_id": "call_0", "content": "print(1/0)"}
    [requested] = sink.of(ToolCallRequested)
    assert (requested.call_id, requested.tool, json.loads(requested.arguments)) == (
        "t1:1:0", "read_file", {"path": "bug.py"})
    [finished] = sink.of(ToolCallFinished)
    assert (finished.call_id, finished.result, finished.error, finished.permission) == (
        "t1:1:0", "print(1/0)", False, "allow")
    calls = sink.of(LLMCallFinished)
    assert len(calls) == 2  # usage and cost are summed over the task's model calls
    assert response.usage.prompt_tokens == sum(e.prompt_tokens for e in calls)
    assert not sink.of(ApprovalRequested)  # reading is allowed by default


async def test_risky_call_asks_with_the_exact_arguments(llm_server, ws):
    llm = LiteLLMClient()
    llm_server.enqueue(Reply("", tool_calls=(call("write_file", path="out.txt", content="héllo"),)),
                       Reply("written"))
    gate = ScriptedGate()
    response, sink = await run_agent(llm, llm_server, ws, gate=gate)
    await llm.aclose()
    [request] = gate.requests
    assert (request.subject, request.title, request.task_id) == (Subject.TOOL, "write_file", "t1")
    assert request.tool is not None and not request.tool.in_doubt and request.tool.risk == "write"
    assert json.loads(request.tool.arguments) == {"path": "out.txt", "content": "héllo"}
    assert '"héllo"' in request.tool.arguments and request.tool.arguments.startswith("{\n  ")
    assert request.edit_text == request.tool.arguments and request.task is None
    assert (ws / "out.txt").read_text() == "héllo"
    assert [e.subject for e in sink.of(ApprovalRequested)] == [Subject.TOOL]
    assert sink.of(ApprovalResolved)[0].action == "approve"
    assert sink.of(ToolCallFinished)[0].permission == "ask"


@pytest.mark.parametrize(
    ("decision", "policy", "result", "written"),
    [
        (Decision(Action.REJECT), None, "the person refused this call", None),
        (Decision(Action.REJECT, "refused: no one is there"), None, "refused: no one is there", None),
        (Decision(Action.OVERRIDE, "pretend it worked"), None, "pretend it worked", None),
        (Decision(Action.EDIT, '{"path": "other.txt", "content": "edited"}'), None,
         "wrote 6 characters to other.txt", ("other.txt", "edited")),
        (None, ToolPolicy(rules={"write_file": Permission.DENY}), "denied by policy", None),
        (None, ToolPolicy(roles={"coder": {"write_file": Permission.ALLOW}}),
         "wrote 1 characters to out.txt", ("out.txt", "x")),
    ],
    ids=["reject", "reject-with-a-reason", "override", "edit", "deny", "allow-for-role"],
)
async def test_policy_and_decisions(llm_server, ws, decision, policy, result, written):
    llm = LiteLLMClient()
    llm_server.enqueue(Reply("", tool_calls=(call("write_file", path="out.txt", content="x"),)),
                       Reply("done"))
    gate = ScriptedGate({"t1": decision} if decision else {})
    response, sink = await run_agent(llm, llm_server, ws, policy=policy, gate=gate)
    await llm.aclose()
    assert response.text == "done"
    assert llm_server.chat_requests[1].messages[-1]["content"] == result
    assert len(gate.requests) == (1 if decision else 0)
    files = {p.name: p.read_text() for p in ws.iterdir()}
    assert files == (dict([written]) if written else {})


async def test_unknown_tool_and_bad_json_go_back_to_the_model(llm_server, ws):
    llm = LiteLLMClient()
    llm_server.enqueue(Reply("", tool_calls=({"name": "run_shell", "arguments": "{}"},
                                             {"name": "read_file", "arguments": "{not json"})),
                       Reply("sorry"))
    response, sink = await run_agent(llm, llm_server, ws)
    await llm.aclose()
    results = [m["content"] for m in llm_server.chat_requests[1].messages if m["role"] == "tool"]
    assert results[0] == "error: there is no tool named 'run_shell' for you"
    assert results[1].startswith("error: the arguments are not valid JSON")
    assert [e.call_id for e in sink.of(ToolCallFinished)] == ["t1:1:0", "t1:1:1"]
    assert all(e.error for e in sink.of(ToolCallFinished))


async def test_max_steps_gives_a_clear_error(llm_server, ws):
    llm = LiteLLMClient()
    llm_server.default = Reply("", tool_calls=(call("list_files"),))
    with pytest.raises(ToolStepsExhausted, match="after 3 steps"):
        await run_agent(llm, llm_server, ws, max_steps=3)
    await llm.aclose()
    assert len(llm_server.chat_requests) == 3


async def test_ask_without_a_gate_is_refused(llm_server, ws):
    llm = LiteLLMClient()
    llm_server.enqueue(Reply("", tool_calls=(call("run_python", code="print(1)"),)), Reply("ok"))
    await run_agent(llm, llm_server, ws, gate=None)
    await llm.aclose()
    assert "no one can approve" in llm_server.chat_requests[1].messages[-1]["content"]


# --- the runner -----------------------------------------------------------------------


def make_runner(llm, server, ws, **options):
    plan = Plan.from_dict({"goal": "g", "tasks": [
        {"id": "a", "title": "Code it", "agent": "coder"},
        {"id": "b", "title": "Review it", "agent": "writer", "depends_on": ["a"]},
    ]})
    sink = RecordingSink()
    runner = Runner(run_id="r", plan=plan, roster=load_roster(), llm=llm, settings=settings_for(server),
                    sink=sink, gate=ApproveAll(), options=RunOptions(retry=FAST, synthesize=False, **options))
    return runner, sink


async def test_runner_without_tools_sends_no_tools(llm_server, ws):
    llm = LiteLLMClient()
    runner, _ = make_runner(llm, llm_server, ws)
    assert (await runner.run()).status == "completed"
    await llm.aclose()
    assert all("tools" not in r.body for r in llm_server.chat_requests)


async def test_runner_with_tools(llm_server, ws):
    llm = LiteLLMClient()
    llm_server.script(lambda r: Reply("", tool_calls=(call("run_python", code="print(6*7)"),))
                      if "Your task (a)" in r.last_user and len(r.messages) == 2 else None)
    llm_server.default = Reply("finished")
    setup = ToolSetup(builtin_registry(), ws, max_steps=2)
    runner, sink = make_runner(llm, llm_server, ws, tools=setup)
    outcome = await runner.run()
    await llm.aclose()
    assert outcome.status == "completed", sink.of(TaskFailed)
    assert [e.result for e in sink.of(ToolCallFinished)] == ["42\n"]
    assert [e.task_id for e in sink.of(TaskFinished)] == ["a", "b"]
    tools_of = {r.last_user.split("Your task (")[1][0]: [t["function"]["name"] for t in r.body.get("tools", [])]
                for r in llm_server.chat_requests}
    assert tools_of == {"a": ["read_file", "list_files", "write_file", "run_python", "run_shell"],
                        "b": ["read_file", "write_file"]}
