"""MCP trouble during a RunService run is surfaced as RunWarning events, stored with the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agents.events import RunStarted, RunWarning, ToolCallFinished
from agents.plan import Plan, Task
from agents.plan.roster import Role, Roster
from agents.testing import RecordingSink, ScriptedGate
from agents.tools.base import Permission
from agents.tools.mcp_client import McpServerConfig
from app.cli.console import ProgressPrinter
from app.runs.service import RunService
from app.settings import Settings
from app.storage import Store
from app.tools.mcp_config import save_servers
from app.tools.settings import ToolPolicies, save_policies
from tests.support.scripted_server import Reply

ROOT = Path(__file__).resolve().parents[2]
BOSS = Role("orchestrator", "You plan and sum up.")


def calls_then_done(*names: str):
    """Ask for the tools `names`, one per step, then answer."""

    def handler(request):
        done = sum(m.get("role") == "tool" for m in request.messages)
        if (request.body or {}).get("tools") and done < len(names):
            return Reply("", tool_calls=({"name": names[done], "arguments": {}},))
        return "done"

    return handler


async def run(store: Store, llm_server, role: Role, capsys) -> tuple[RecordingSink, str]:
    settings = Settings(default_model="openai/test-model", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(store, settings=settings, roster=Roster((BOSS, role)))
    run_id = service.create_run("P", "goal", service.config())
    sink = RecordingSink()
    try:
        plan = Plan("goal", (Task("w", "Work", agent=role.name),))
        handle = service.start(run_id, plan, service.config(), ScriptedGate(), [sink, ProgressPrinter()])
        outcome = await handle.run()
    finally:
        await service.aclose_llm()
        service.close()
    assert outcome.status == "completed", outcome.error
    assert [e["type"] for e in store.events(run_id)].count("RunWarning") == len(sink.of(RunWarning))
    return sink, capsys.readouterr().err


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")


async def test_a_server_that_exits_at_once_is_a_warning_at_run_start(store, llm_server, capsys):
    save_servers([McpServerConfig("broken", command=sys.executable, args=("-c", "raise SystemExit(5)"),
                                  start_timeout=5)])
    llm_server.default = Reply("done")
    sink, err = await run(store, llm_server, Role("writer", "w", tools=("mcp__broken__lookup",)), capsys)
    [warning] = sink.of(RunWarning)
    assert sink.events.index(warning) == sink.events.index(sink.of(RunStarted)[0]) + 1
    assert warning.message.startswith("MCP server 'broken' is not available, its tools are left out")
    assert (warning.task_id, warning.source) == ("", "tools")
    assert "  ! warning: MCP server 'broken' is not available" in err


async def test_a_server_that_crashes_mid_run_is_one_warning(store, llm_server, capsys):
    echo = McpServerConfig("echo", command=sys.executable, args=("-m", "tests.support.mcp_echo_server"),
                           env={"PYTHONPATH": str(ROOT)}, timeout=10)
    save_servers([echo])
    save_policies(ToolPolicies().set("mcp__echo__crash", Permission.ALLOW))
    llm_server.script(calls_then_done("mcp__echo__crash", "mcp__echo__crash"))
    role = Role("writer", "w", tools=("mcp__echo__crash",))
    sink, err = await run(store, llm_server, role, capsys)
    assert [e.error for e in sink.of(ToolCallFinished)] == [True, True]
    [warning] = sink.of(RunWarning)  # once, though both calls met the dead server
    assert (warning.task_id, warning.source) == ("w", "mcp:echo")
    assert "closed the connection during call 'crash'" in warning.message
    assert warning.message.endswith("its tools may keep failing in this run")
    assert "  ! warning (w): MCP server 'echo'" in err
