"""`troupe tools` and `troupe mcp` as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(troupe_home: Path) -> dict[str, str]:
    return {**os.environ, "TROUPE_HOME": str(troupe_home), "PYTHONPATH": str(ROOT)}


def troupe(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=90)


def tools(env, *args) -> dict[str, dict]:
    result = troupe(env, "tools", "list", "--json", *args)
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_allow_deny_ask_and_reset_by_project_and_role(env):
    assert tools(env)["write_file"] == {"name": "write_file", "risk": "write", "source": "builtin",
                                        "permission": "ask"}
    assert tools(env)["read_file"]["permission"] == "allow"

    assert troupe(env, "tools", "allow", "write_file", "--project", "Essay").returncode == 0
    assert troupe(env, "tools", "deny", "write_file", "--project", "Essay", "--role", "coder").returncode == 0
    assert troupe(env, "tools", "ask", "read_file").returncode == 0
    assert tools(env, "--project", "Essay")["write_file"]["permission"] == "allow"
    assert tools(env, "--project", "Essay", "--role", "coder")["write_file"]["permission"] == "deny"
    assert tools(env, "--project", "Other")["write_file"]["permission"] == "ask"
    assert tools(env)["read_file"]["permission"] == "ask"

    assert troupe(env, "tools", "reset", "read_file").returncode == 0
    assert tools(env)["read_file"]["permission"] == "allow"


def test_unknown_tool_or_role_is_one_line_and_exit_2(env):
    for args in (("tools", "allow", "rm_rf"), ("tools", "deny", "write_file", "--role", "nobody"),
                 ("mcp", "remove", "ghost")):
        result = troupe(env, *args)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("troupe: "), result.stderr


def test_import_claude_desktop_servers_and_list_their_tools(env, tmp_path):
    desktop = tmp_path / "claude_desktop_config.json"
    desktop.write_text(json.dumps({"mcpServers": {
        "echo": {"command": sys.executable, "args": ["-m", "tests.support.mcp_echo_server"],
                 "env": {"PYTHONPATH": str(ROOT), "ECHO_TOKEN": "s3cret-value"}},
        "dead": {"command": sys.executable, "args": ["-c", "raise SystemExit(4)"]},
    }}))
    imported = troupe(env, "mcp", "import", str(desktop))
    assert imported.returncode == 0, imported.stderr

    listed = troupe(env, "mcp", "list")
    assert listed.returncode == 0 and "echo" in listed.stdout and "stdio" in listed.stdout
    assert "ECHO_TOKEN" in listed.stdout and "s3cret-value" not in listed.stdout

    result = troupe(env, "tools", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["mcp__echo__echo"]["permission"] == "ask"
    assert rows["mcp__echo__echo"]["source"] == "mcp:echo"
    [problem] = result.stderr.strip().splitlines()
    assert problem.startswith("troupe: MCP server 'dead' is not available")

    assert troupe(env, "tools", "allow", "mcp__echo__echo").returncode == 0
    assert tools(env)["mcp__echo__echo"]["permission"] == "allow"
    assert troupe(env, "mcp", "remove", "dead").returncode == 0
    assert "dead" not in troupe(env, "mcp", "list").stdout


def test_a_malformed_import_is_one_line_and_changes_nothing(env, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"servers": {}}')
    result = troupe(env, "mcp", "import", str(bad))
    assert result.returncode == 2 and "mcpServers" in result.stderr
    assert result.stderr.count("\n") == 1
