"""An MCP server that does not start is surfaced, not only logged: `troupe run`
prints a warning (and a RunWarning JSON line), the history keeps it, and the run
goes on without that server's tools."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from agents.plan.roster import Roster
from agents.tools.mcp_client import McpServerConfig
from app.roster_store import default_roster, save_user_roster
from app.storage import open_database
from app.tools.mcp_config import save_servers
from tests.e2e.test_cli import env, model_args, task, troupe, write_plan  # noqa: F401 - env is a fixture
from tests.support.scripted_server import Reply


def broken_server_for_writers() -> None:
    save_servers([McpServerConfig("broken", command=sys.executable,
                                  args=("-c", "import sys; sys.exit('no config file, giving up')"),
                                  start_timeout=10)])
    roster = default_roster()
    writer = roster.get("writer")
    save_user_roster(Roster(tuple(replace(r, tools=(*r.tools, "mcp__broken__lookup")) if r is writer else r
                                  for r in roster)))


def test_a_server_that_exits_at_once_is_a_printed_and_stored_warning(llm_server, env, tmp_path, troupe_home):  # noqa: F811
    broken_server_for_writers()
    llm_server.default = Reply("done")
    plan = write_plan(tmp_path / "p.json", [task("a")])
    result = troupe(env, "run", "g", "--plan", str(plan), "--yes", *model_args(llm_server))
    assert result.returncode == 0, result.stderr
    [line] = [x for x in result.stderr.splitlines() if "! warning" in x]
    assert line.startswith("  ! warning: MCP server 'broken' is not available, its tools are left out")
    # printed after the run started, before the task did
    lines = result.stderr.splitlines()
    assert lines.index(line) < next(i for i, x in enumerate(lines) if "a started" in x)

    store = open_database(troupe_home / "troupe.db")
    try:
        [run] = store.list_runs()
        stored = [e for e in store.events(run.id) if e["type"] == "RunWarning"]
    finally:
        store.close()
    assert [e["source"] for e in stored] == ["tools"] and "'broken'" in stored[0]["message"]


def test_json_mode_prints_the_warning_event(llm_server, env, tmp_path, troupe_home):  # noqa: F811
    broken_server_for_writers()
    llm_server.default = Reply("done")
    plan = write_plan(tmp_path / "p.json", [task("a")])
    result = troupe(env, "run", "g", "--plan", str(plan), "--yes", "--json", *model_args(llm_server))
    assert result.returncode == 0, result.stderr
    events = [json.loads(x) for x in result.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds.index("RunStarted") < kinds.index("RunWarning") < kinds.index("TaskStarted")
    assert "MCP server 'broken'" in events[kinds.index("RunWarning")]["message"]
    assert Path(troupe_home / "troupe.db").exists()
