"""The window and the CLI start runs the same way (RunService.start -> RunHandle):
the same requests reach the model (tools array included), the same MCP server
answers, the same events are stored; and a window run killed with SIGKILL in
the middle of a tool call resumes in the window, replaying the finished call
and asking about the one in doubt.

Whole-window tests: the Makefile runs this file one process per test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agents.plan.roster import Role, Roster
from agents.tools.mcp_client import McpServerConfig
from app.roster_store import save_user_roster
from app.storage import open_database
from app.tools.mcp_config import save_servers
from app.tools.settings import workspace_dir
from tests.support.scripted_server import Reply
from tests.ui.test_main_window import open_window, qloop, until  # noqa: F401 - qloop is a fixture

GOAL = "Greet the team"
SECRET = "sk-test-window-run-path"
ECHO = {"name": "mcp__echo__echo", "arguments": {"text": "hello"}}
PLAN = {"goal": GOAL, "tasks": [{"id": "w", "title": "Greet", "instructions": "Say hello.",
                                 "agent": "writer", "depends_on": [], "children": []}]}


@pytest.fixture
def env(troupe_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    return {**os.environ, "TROUPE_HOME": str(troupe_home), "OPENAI_API_KEY": SECRET,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONUNBUFFERED": "1"}


def first_step_calls(call: dict[str, Any], task: str):  # type: ignore[no-untyped-def]
    """Task `task`'s first step (no tool results yet) asks for `call`."""

    def handler(request):  # type: ignore[no-untyped-def]
        if f"Your task ({task})" in request.last_user and not any(m["role"] == "tool" for m in request.messages):
            return Reply("", tool_calls=(call,))
        return None

    return handler


def comparable(request: Any) -> dict[str, Any]:
    """What a task's request asked the model, minus per-call ids."""
    body = {k: v for k, v in request.body.items() if k in ("model", "messages", "tools")}
    return _without_ids(body)


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "tool_call_id")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def run_events(db: Path, run_id: str) -> list[tuple[Any, ...]]:
    """The stored events from the run's start on, without ids and times."""
    store = open_database(db)
    try:
        events = store.events(run_id)
    finally:
        store.close()
    start = max(i for i, e in enumerate(events) if e["type"] == "RunStarted")
    return [(e["type"], e.get("task_id", ""), e.get("tool", ""), e.get("arguments", ""),
             e.get("result", ""), e.get("status", "")) for e in events[start:]
            if e["type"] not in ("LLMCallFinished",)]


def test_a_window_run_and_a_cli_run_send_the_same_requests_and_write_the_same_events(
        qloop, llm_server, troupe_home, env, tmp_path):  # noqa: F811 - the imported fixture
    save_user_roster(Roster((Role("orchestrator", "You plan and sum up."),
                             Role("writer", "You write.", tools=("read_file", "mcp__echo__echo")))))
    save_servers([McpServerConfig("echo", command=sys.executable, args=("-m", "tests.support.mcp_echo_server"))])
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(PLAN))
    llm_server.script(first_step_calls(ECHO, "w"))
    llm_server.default = Reply("Hello, team.")
    window = open_window(troupe_home / "troupe.db", llm_server)

    async def window_run() -> str:
        window.goal.setPlainText(GOAL)
        window.send.click()
        await until(lambda: window.plan_model.has_task("w"))
        window.run_action.trigger()
        await until(lambda: window.session._gate.pending())
        card = window.session._gate.pending()[0]
        # the card is built from the request's fields: the exact tool and arguments
        assert card.request.tool is not None and card.request.tool.tool == ECHO["name"]
        assert json.loads(card.request.tool.arguments) == ECHO["arguments"]
        assert not card.request.tool.in_doubt
        card.approve_button.click()
        await until(lambda: window.session.handle is None and not window.session._jobs)
        return window.session.run_id or ""

    window_id = qloop.run_until_complete(asyncio.wait_for(window_run(), 60))
    window_requests = [comparable(r) for r in llm_server.requests if "Your task (w)" in r.last_user]
    before = len(llm_server.requests)

    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(PLAN))
    cli = subprocess.run([sys.executable, "-m", "app.cli", "run", GOAL, "--plan", str(plan_file), "--yes",
                          "--allow-risky-tools",  # as the window's Approve did
                          "--model", "openai/test-model", "--api-base", llm_server.base_url],
                         env=env, capture_output=True, text=True, timeout=90)
    assert cli.returncode == 0, cli.stderr
    cli_requests = [comparable(r) for r in llm_server.requests[before:] if "Your task (w)" in r.last_user]

    assert len(window_requests) == 2 and window_requests == cli_requests
    assert [t["function"]["name"] for t in window_requests[0]["tools"]] == ["read_file", "mcp__echo__echo"]
    store = open_database(troupe_home / "troupe.db")
    cli_id = next(r.id for r in store.list_runs() if r.id != window_id)
    store.close()
    window_events, cli_events = run_events(troupe_home / "troupe.db", window_id), run_events(
        troupe_home / "troupe.db", cli_id)
    assert window_events == cli_events
    assert ("ToolCallFinished", "w", "mcp__echo__echo", "", "hello", "") in window_events  # the MCP server answered
    assert window_events[-1][0] == "RunFinished" and window_events[-1][5] == "completed"


# --- kill -9 in a window run, Resume in the window ---------------------------------------

APPEND = {"name": "run_shell", "arguments": {"command": "echo one >> log.txt"}}
# Blocks until the test lets it go (after the kill), so no orphan outlives the test.
HANG = {"name": "run_shell", "arguments": {"command": "touch started; while [ ! -f go ]; do sleep 0.05; done"}}
SHELL_PLAN = {"goal": GOAL, "tasks": [{"id": "a", "title": "Log it", "instructions": "Log one line.",
                                       "agent": "coder", "depends_on": [], "children": []}]}

PERSON = """
import asyncio, sys
import qasync
from PySide6.QtWidgets import QApplication
from app.paths import db_path
from app.runs.service import RunService
from app.settings import Settings
from app.storage import open_database
from ui.main_window import MainWindow

app = QApplication(sys.argv)
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
settings = Settings(default_model="openai/test-model", api_base=sys.argv[1])
window = MainWindow(RunService(open_database(db_path()), settings=settings))
window.show()

async def person():  # types the goal, runs the plan, approves every card, until killed
    window.goal.setPlainText(sys.argv[2])
    window.send.click()
    while not window.plan_model.has_task("a"):
        await asyncio.sleep(0.02)
    window.run_action.trigger()
    while True:
        for card in window.session._gate.pending():
            card.approve_button.click()
        await asyncio.sleep(0.02)

loop.run_until_complete(person())
"""


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_kill_9_mid_tool_call_in_the_window_then_resume_in_the_window(
        qloop, llm_server, troupe_home, env):  # noqa: F811 - the imported fixture
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(SHELL_PLAN))

    def tools_first(request):  # type: ignore[no-untyped-def]
        if "Your task (a)" in request.last_user and not any(m["role"] == "tool" for m in request.messages):
            return Reply("", tool_calls=(APPEND, HANG))
        return None

    llm_server.script(tools_first)
    llm_server.default = Reply("DONE")
    workspace = workspace_dir("Default")
    proc = subprocess.Popen([sys.executable, "-c", PERSON, llm_server.base_url, GOAL],
                            env={**env, "QT_QPA_PLATFORM": "offscreen"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(workspace / "started", proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        workspace.mkdir(parents=True, exist_ok=True)
        (workspace / "go").touch()  # the orphaned shell ends
    assert (workspace / "log.txt").read_text() == "one\n"

    window = open_window(troupe_home / "troupe.db", llm_server)
    run_id = window.session.latest_interrupted()
    assert run_id is not None

    async def resume_in_the_window() -> None:
        window.session.open_run(run_id)
        window.session.resume()  # the run view's Resume
        await until(lambda: window.session._gate.pending())
        [card] = window.session._gate.pending()
        assert card.request.tool is not None and card.request.tool.in_doubt
        assert json.loads(card.request.tool.arguments) == HANG["arguments"]  # the exact call that was cut off
        card.reject_button.click()  # do not run it again
        await until(lambda: window.session.handle is None and not window.session._jobs)

    qloop.run_until_complete(asyncio.wait_for(resume_in_the_window(), 60))
    assert (workspace / "log.txt").read_text() == "one\n"  # the finished call was replayed, not re-run
    store = open_database(troupe_home / "troupe.db")
    try:
        assert store.get_run(run_id).status == "completed"
        finished = [e for e in store.events(run_id) if e["type"] == "ToolCallFinished"]
        assert [e["permission"] for e in finished][-2:] == ["replayed", "in_doubt_skipped"]
    finally:
        store.close()
