"""A real `troupe run` whose agent calls tools, then `troupe show` and `troupe export` list the calls."""

from __future__ import annotations

import json

from tests.e2e.test_cli import env, model_args, troupe, write_plan  # noqa: F401 - env is a fixture
from tests.support.scripted_server import Reply

WRITE = {"name": "write_file", "arguments": {"path": "notes.txt", "content": "penguins huddle"}}
SHELL = {"name": "run_shell", "arguments": {"command": "rm -rf /"}}


def _asks_for_tools(request) -> Reply | None:
    """Task a's first step (no tool results yet): write a file, and try a command the policy denies."""
    if "Your task (a)" in request.last_user and not any(m["role"] == "tool" for m in request.messages):
        return Reply("", tool_calls=(WRITE, SHELL))
    return None


def test_show_and_export_list_the_runs_tool_calls(llm_server, env, tmp_path, troupe_home):  # noqa: F811
    llm_server.script(_asks_for_tools)
    llm_server.default = Reply("DONE")
    assert troupe(env, "tools", "deny", "run_shell").returncode == 0
    plan = write_plan(tmp_path / "p.json", [{"id": "a", "title": "Take notes", "instructions": "Note it.",
                                             "agent": "coder", "depends_on": [], "children": []}])
    ran = troupe(env, "run", "g", "--plan", str(plan), "--yes", "--allow-risky-tools", "--project", "demo",
                 *model_args(llm_server))
    assert ran.returncode == 0, ran.stderr
    assert (troupe_home / "workspaces" / "demo" / "notes.txt").read_text() == "penguins huddle"
    run_id = json.loads(troupe(env, "runs", "--json").stdout)[0]["id"]

    shown = troupe(env, "show", run_id)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    task_line = next(i for i, line in enumerate(lines) if line.split()[:1] == ["a"])
    write, shell = lines[task_line + 1], lines[task_line + 2]
    assert write.strip().startswith('⚙ write_file {path: "notes.txt", content: "penguins huddle"} → ok · approved, ')
    assert write.endswith(" ms") or write.endswith(" s")
    assert shell.strip() == '⚙ run_shell {command: "rm -rf /"} → denied by policy'

    data = json.loads(troupe(env, "show", run_id, "--json").stdout)
    calls = data["tasks"][0]["tool_calls"]
    assert [(c["tool"], c["outcome"], c["permission"]) for c in calls] == [
        ("write_file", "ok · approved", "ask"), ("run_shell", "denied by policy", "deny")]  # --allow-risky-tools approved it
    assert json.loads(calls[0]["arguments"]) == WRITE["arguments"]
    assert calls[0]["duration_ms"] >= 0 and calls[0]["finished"]

    md = troupe(env, "export", run_id, "--format", "md")
    assert '- `run_shell {command: "rm -rf /"}` → denied by policy' in md.stdout
    exported = json.loads(troupe(env, "export", run_id, "--format", "json").stdout)
    assert exported["tasks"][0]["tool_calls"] == calls
