"""RunService gives a run its project's tools: workspace, policy, search, MCP servers."""

from __future__ import annotations

import json
import sys

import pytest

from agents.approvals import Subject
from agents.events import ToolCallFinished
from agents.plan import Plan, Task
from agents.plan.roster import Role, Roster
from agents.ports import Action, ApprovalRequest, Decision
from agents.testing import RecordingSink, ScriptedGate
from agents.tools.base import Permission
from app.runs.service import RunService
from app.settings import Settings
from app.storage import Store
from app.tools.mcp_config import save_servers
from app.tools.run_tools import project_search
from app.tools.settings import ToolPolicies, save_policies, workspace_dir
from tests.support.scripted_server import Reply

WRITER = Role("writer", "You write files.", tools=("write_file", "read_file"))
SHELL = Role("sysadmin", "You run commands.", tools=("run_shell",))
BOSS = Role("orchestrator", "You plan and sum up.")


def tool_then_done(name, **arguments):
    """The first request with tools asks for one call; every later one answers."""

    def handler(request):
        sent_tool_result = any(m.get("role") == "tool" for m in request.messages)
        if (request.body or {}).get("tools") and not sent_tool_result:
            return Reply("", tool_calls=({"name": name, "arguments": arguments},))
        return "done"

    return handler


@pytest.fixture
def service(store: Store, llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    settings = Settings(default_model="openai/test-model", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(store, settings=settings, roster=Roster((BOSS, WRITER, SHELL)))
    yield service
    service.close()


async def run_one(service: RunService, project: str, task: Task, gate=None):
    run_id = service.create_run(project, "goal", service.config())
    sink = RecordingSink()
    try:
        handle = service.start(run_id, Plan("goal", (task,)), service.config(), gate or ScriptedGate(), [sink])
        outcome = await handle.run()
    finally:
        await service.aclose_llm()
    return outcome, sink


async def test_an_allowed_write_lands_in_the_projects_workspace(service, llm_server):
    save_policies(ToolPolicies().set("write_file", Permission.ALLOW, project="Essay", role="writer"))
    llm_server.script(tool_then_done("write_file", path="notes/draft.md", content="# Draft"))
    gate = ScriptedGate()

    outcome, sink = await run_one(service, "Essay", Task("w", "Write", agent="writer"), gate)

    assert outcome.status == "completed", outcome.error
    assert (workspace_dir("Essay") / "notes" / "draft.md").read_text() == "# Draft"
    assert gate.requests == []  # allowed: nobody was asked
    assert [e.permission for e in sink.of(ToolCallFinished)] == ["allow"]
    assert not (workspace_dir("Other") / "notes").exists()


async def test_a_risky_tool_waits_on_the_gate_and_a_refusal_runs_nothing(service, llm_server):
    llm_server.script(tool_then_done("run_shell", command="touch made-it"))
    gate = ScriptedGate({"s": Decision(Action.REJECT)})

    outcome, sink = await run_one(service, "Ops", Task("s", "Shell", agent="sysadmin"), gate)

    assert outcome.status == "completed", outcome.error
    [request] = gate.requests
    assert isinstance(request, ApprovalRequest) and request.subject is Subject.TOOL and request.tool
    assert request.title == "run_shell" and json.loads(request.tool.arguments) == {"command": "touch made-it"}
    assert not (workspace_dir("Ops") / "made-it").exists()
    assert [e.permission for e in sink.of(ToolCallFinished)] == ["rejected"]


async def test_a_project_deny_refuses_without_asking(service, llm_server):
    save_policies(ToolPolicies().set("run_shell", Permission.DENY, project="Ops"))
    llm_server.script(tool_then_done("run_shell", command="true"))
    gate = ScriptedGate()
    _, sink = await run_one(service, "Ops", Task("s", "Shell", agent="sysadmin"), gate)
    assert gate.requests == [] and [e.result for e in sink.of(ToolCallFinished)] == ["denied by policy"]


async def test_a_server_that_does_not_start_leaves_the_run_going(store, llm_server, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    from agents.tools.mcp_client import McpServerConfig  # noqa: PLC0415

    save_servers([McpServerConfig("broken", command=sys.executable, args=("-c", "raise SystemExit(5)"),
                                  start_timeout=5)])
    role = Role("writer", "w", tools=("write_file", "mcp__broken__anything"))
    settings = Settings(default_model="openai/test-model", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(store, settings=settings, roster=Roster((BOSS, role)))
    save_policies(ToolPolicies().set("write_file", Permission.ALLOW))
    llm_server.script(tool_then_done("write_file", path="a.txt", content="x"))
    try:
        outcome, _ = await run_one(service, "P", Task("w", "Write", agent="writer"))
    finally:
        service.close()
    assert outcome.status == "completed", outcome.error
    assert (workspace_dir("P") / "a.txt").read_text() == "x"
    assert any("MCP server 'broken' is not available" in r.getMessage() for r in caplog.records)


async def test_search_history_finds_this_projects_earlier_outputs_only(service, llm_server):
    llm_server.default = Reply("the walrus report")
    await run_one(service, "Zoo", Task("a", "Write", agent="writer"))
    await run_one(service, "Farm", Task("a", "Write", agent="writer"))
    zoo = await project_search(service.store, "Zoo")("walrus")
    assert "the walrus report" in zoo and zoo.count("run ") == 1
    assert "nothing" in await project_search(service.store, "Garden")("walrus")
    by_goal = await project_search(service.store, "Zoo")("goal")  # no output holds the word
    assert "task a: the walrus report" in by_goal
