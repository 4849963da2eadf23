"""Issue 13, item 1, end to end: a real `troupe run` whose agent asks the shell and Python
for the environment and reads a workspace file that holds the keys. No key reaches a
tool, the data folder, the exports, the search or the model; HOME is the workspace."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli import SECRET, model_args, troupe, write_plan
from tests.e2e.test_cli import env as cli_env  # noqa: F401 - a fixture, extended below
from tests.support.scripted_server import Reply

OTHER_KEY = "another-provider-key-51c8e0"  # in the environment, not used by the run
PROXY_PASSWORD = "proxy-pass-93ab"
CALLS = (
    {"name": "run_shell", "arguments": {"command": 'echo "key=$OPENAI_API_KEY"; echo "home=$HOME"; env'}},
    {"name": "run_python", "arguments": {"code": "import os; print(dict(os.environ))"}},
    {"name": "read_file", "arguments": {"path": "leak.txt"}},
)
LEAKS = (SECRET, OTHER_KEY, PROXY_PASSWORD)


def _naive_model(request) -> Reply | str | None:
    """Task a asks for CALLS, then answers with everything the tools returned."""
    if "Your task (a)" not in request.last_user:
        return None
    results = [m["content"] for m in request.messages if m["role"] == "tool"]
    return "\n---\n".join(results) if results else Reply("", tool_calls=CALLS)


def test_no_key_reaches_a_tool_the_data_folder_the_exports_or_the_model(
        llm_server, cli_env, tmp_path, troupe_home):  # noqa: F811
    env = {**cli_env, "ANTHROPIC_API_KEY": OTHER_KEY, "NO_PROXY": "127.0.0.1,localhost",
           "HTTPS_PROXY": f"http://me:{PROXY_PASSWORD}@127.0.0.1:9"}
    llm_server.script(_naive_model)
    llm_server.default = Reply("DONE")
    for tool in ("run_shell", "run_python"):
        assert troupe(env, "tools", "allow", tool, "--project", "demo").returncode == 0
    workspace = troupe_home / "workspaces" / "demo"
    workspace.mkdir(parents=True)
    (workspace / "leak.txt").write_text(f"openai={SECRET}\nanthropic={OTHER_KEY}\n")
    plan = write_plan(tmp_path / "p.json", [{"id": "a", "title": "Look around", "instructions": "Look.",
                                             "agent": "coder", "depends_on": [], "children": []}])

    ran = troupe(env, "run", "g", "--plan", str(plan), "--yes", "--project", "demo", *model_args(llm_server))
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(troupe(env, "runs", "--json").stdout)[0]["id"]

    # what the tools saw and gave back, as the model got it
    shell, python, read = _tool_messages(llm_server)
    assert "key=\n" in shell and f"home={workspace.resolve()}\n" in shell
    assert "PROXY" not in shell.upper() and "OPENAI_API_KEY" not in python and "PROXY" not in python.upper()
    assert read == "openai=[redacted]\nanthropic=[redacted]\n"
    bodies = json.dumps([r.body for r in llm_server.chat_requests])  # (the run's key is in its header only)
    assert not [leak for leak in LEAKS if leak in bodies]

    # the exports, the show, the search and the terminal
    outputs = [ran.stdout, ran.stderr]
    for fmt in ("md", "json", "html"):
        exported = troupe(env, "export", run_id, "--format", fmt)
        assert exported.returncode == 0, exported.stderr
        outputs.append(exported.stdout)
    assert "[redacted]" in outputs[2] and "[redacted]" in outputs[3]
    outputs.append(troupe(env, "show", run_id, "--json").stdout)
    for leak in LEAKS:
        assert json.loads(troupe(env, "runs", "--search", leak, "--json").stdout) == []
    assert json.loads(troupe(env, "runs", "--search", "redacted", "--json").stdout)[0]["id"] == run_id
    assert not [leak for leak in LEAKS for text in outputs if leak in text]

    # nothing in the data folder (the database, its WAL, logs, crash reports), the workspace aside
    for path in _files(troupe_home, but=workspace):
        data = path.read_bytes()
        assert not [leak for leak in LEAKS if leak.encode() in data], path


def _tool_messages(server) -> list[str]:
    """The tool results of the request that carried them (the synthesis may come later)."""
    for request in reversed(server.chat_requests):
        results = [m["content"] for m in request.messages if m["role"] == "tool"]
        if results:
            return results
    raise AssertionError("no request carried tool results")


def _files(root: Path, but: Path) -> list[Path]:
    found = [p for p in root.rglob("*") if p.is_file() and not p.is_relative_to(but)]
    assert any(p.name == "troupe.db" for p in found)
    return found
