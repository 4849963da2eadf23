"""Exactly-once tool calls across a real crash: `troupe run` is killed with
SIGKILL in the middle of a tool call, then `troupe resume` replays the call
that finished and asks the person about the one that was cut off."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.tools.loop import IN_DOUBT_SKIPPED
from app.approval_text import IN_DOUBT_NOTE
from app.storage import open_database
from tests.e2e.test_cli import SECRET, model_args, troupe, write_plan
from tests.support.scripted_server import Reply

APPEND = {"name": "run_shell", "arguments": {"command": "echo one >> log.txt"}}
# Blocks until the test lets it go (after the kill), so no orphan outlives the test.
HANG = {"name": "run_shell",
        "arguments": {"command": "touch started; while [ ! -f go ]; do sleep 0.05; done"}}


@pytest.fixture
def env(troupe_home: Path) -> dict[str, str]:
    return {**os.environ, "TROUPE_HOME": str(troupe_home), "OPENAI_API_KEY": SECRET,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONUNBUFFERED": "1"}


def _asks_for_tools(request) -> Reply | None:
    """Task a's first step (no tool results yet): append a line, then hang."""
    if "Your task (a)" in request.last_user and not any(m["role"] == "tool" for m in request.messages):
        return Reply("", tool_calls=(APPEND, HANG))
    return None


def _wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_kill_9_mid_tool_call_then_resume_replays_and_asks(llm_server, env, tmp_path, troupe_home):
    llm_server.script(_asks_for_tools)
    llm_server.default = Reply("DONE")
    plan = write_plan(tmp_path / "p.json", [{"id": "a", "title": "Log it", "instructions": "Log one line.",
                                             "agent": "coder", "depends_on": [], "children": []}])
    workspace = troupe_home / "workspaces" / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "g", "--plan", str(plan), "--yes",
                             "--project", "demo", *model_args(llm_server)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(workspace / "started")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
        workspace.mkdir(parents=True, exist_ok=True)
        (workspace / "go").touch()  # the orphaned shell ends
    assert "Traceback" not in err, err
    assert (workspace / "log.txt").read_text() == "one\n"

    # the person refuses to run the call in doubt again
    result = troupe(env, "resume", _run_id(troupe_home), input_text="r\n")
    assert result.returncode == 0, result.stderr
    assert "In doubt: run_shell" in result.stderr and IN_DOUBT_NOTE in result.stderr
    assert json.dumps(HANG["arguments"]["command"]) in result.stderr  # the exact arguments
    assert (workspace / "log.txt").read_text() == "one\n"  # the finished call was not run again
    store = open_database(troupe_home / "troupe.db")
    run_id = _run_id(troupe_home)
    assert store.get_run(run_id).status == "completed"
    calls = {c.key.rsplit(":", 1)[1]: c for c in store.tool_calls(run_id)}
    assert (calls["0"].status, calls["0"].result) == ("finished", "(no output)")
    assert (calls["1"].status, calls["1"].result) == ("finished", IN_DOUBT_SKIPPED)
    finished = [e for e in store.events(run_id) if e["type"] == "ToolCallFinished"]
    assert [e["permission"] for e in finished][-2:] == ["replayed", "in_doubt_skipped"]
    store.close()
    # what the model was told on resume: the replayed result and the skip
    last = [m["content"] for m in llm_server.chat_requests[-2].messages if m["role"] == "tool"]
    assert last == ["(no output)", IN_DOUBT_SKIPPED]


def _run_id(home: Path) -> str:
    store = open_database(home / "troupe.db")
    try:
        return store.list_runs()[0].id
    finally:
        store.close()
