"""Exactly-once tool calls across a real crash: `troupe run` is killed with
SIGKILL in the middle of a tool call, then `troupe resume` replays the call
that finished and asks the person about the one that was cut off (with
`--yes` no one is asked: it is not run again, unless `--allow-risky-tools`)."""

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
from app.cli.console import in_doubt_refusal
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


def _killed_mid_call(llm_server, env, tmp_path: Path, troupe_home: Path) -> Path:
    """`troupe run` killed with SIGKILL during task a's second call; the project's workspace."""
    llm_server.script(_asks_for_tools)
    llm_server.default = Reply("DONE")
    plan = write_plan(tmp_path / "p.json", [{"id": "a", "title": "Log it", "instructions": "Log one line.",
                                             "agent": "coder", "depends_on": [], "children": []}])
    workspace = troupe_home / "workspaces" / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "g", "--plan", str(plan), "--yes",
                             "--allow-risky-tools", "--project", "demo", *model_args(llm_server)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
    return workspace


def test_kill_9_mid_tool_call_then_resume_replays_and_asks(llm_server, env, tmp_path, troupe_home):
    workspace = _killed_mid_call(llm_server, env, tmp_path, troupe_home)
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


@pytest.mark.parametrize("rerun", [False, True], ids=["yes", "yes-allow-risky-tools"])
def test_resume_yes_skips_the_call_in_doubt_unless_allow_risky_tools(llm_server, env, tmp_path, troupe_home,
                                                                     rerun):
    workspace = _killed_mid_call(llm_server, env, tmp_path, troupe_home)
    (workspace / "started").unlink()
    run_id = _run_id(troupe_home)
    result = troupe(env, "resume", run_id, "--yes", *(["--allow-risky-tools"] if rerun else []))
    assert result.returncode == 0, result.stderr
    assert "In doubt" not in result.stderr  # no one was asked
    assert (workspace / "started").exists() is rerun
    assert (workspace / "log.txt").read_text() == "one\n"  # the finished call was not run again
    lines = result.stderr.splitlines()
    assert '  ⚙ a run_shell {command: "echo one >> log.txt"} → ok · replayed from before a restart' in lines
    store = open_database(troupe_home / "troupe.db")
    calls = {c.key.rsplit(":", 1)[1]: c for c in store.tool_calls(run_id)}
    finished = [e for e in store.events(run_id) if e["type"] == "ToolCallFinished"]
    store.close()
    if rerun:
        assert [e["permission"] for e in finished][-1] == "in_doubt_rerun"
        assert any(line.startswith("  ⚙ a run_shell {command: \"touch started;") and "→ ok · in doubt, re-run, "
                   in line for line in lines), result.stderr
        assert (calls["1"].status, calls["1"].error) == ("finished", False)
    else:
        assert [e["permission"] for e in finished][-1] == "in_doubt_skipped"
        assert any(line.startswith("  ! skipped run_shell {command: \"touch started;") and line.endswith(
            "(a): in doubt (it may or may not have run before Troupe stopped) and re-running it needs approval "
            "(--allow-risky-tools re-runs it)") for line in lines), result.stderr
        assert (calls["1"].status, calls["1"].result) == ("finished", in_doubt_refusal("run_shell"))
        told = [m["content"] for m in llm_server.chat_requests[-2].messages if m["role"] == "tool"]
        assert told == ["(no output)", in_doubt_refusal("run_shell")]


def _run_id(home: Path) -> str:
    store = open_database(home / "troupe.db")
    try:
        return store.list_runs()[0].id
    finally:
        store.close()
