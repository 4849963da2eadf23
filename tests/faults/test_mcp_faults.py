"""MCP servers as people configure them (issue 13): against real servers, each a
child process (tests/support/mcp_fault_server.py) or PyPI's mcp-server-time."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agents.events import ToolCallProgress
from agents.tools.base import ToolContext, invoke
from agents.tools.mcp_client import TASK_ONLY, McpError, McpManager, McpServerConfig, server_env
from agents.tools.mcp_tools import mcp_tools
from app.cli.console import ProgressPrinter
from app.logs import setup_logging

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ("-m", "tests.support.mcp_fault_server")

StartServer = Callable[[str], str]
"""Starts the fault server over "http" or "sse" on 127.0.0.1; returns its base URL."""


@pytest.fixture
def serve() -> Iterator[StartServer]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(transport: str) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, *FAULTS, transport, str(port)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        _wait_for_port(port, proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the MCP fault server did not start")


@pytest.fixture
def troupe_log(troupe_home: Path) -> Iterator[Path]:
    """Troupe's own logging (as the CLI and the window set it up), removed afterwards."""
    root = logging.getLogger()
    level = root.level
    setup_logging()
    yield troupe_home / "logs" / "troupe.log"
    for handler in [h for h in root.handlers if getattr(h, "_troupe", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    logging.getLogger("httpx2").setLevel(logging.WARNING)


# --- 1. a key in the server's URL never reaches troupe.log ----------------------------


async def test_a_key_in_an_mcp_url_is_redacted_in_every_log_line(serve, troupe_log) -> None:
    # a library that logs every request (as httpx2 does at INFO) must not leak the key either
    logging.getLogger("httpx2").setLevel(logging.INFO)
    url = serve("http").replace("http://", "http://me:PASSW0RD@") + "/mcp?key=SECRET123&region=eu"
    manager = McpManager([McpServerConfig("hosted", "http", url=url, timeout=10)])
    try:
        await manager.list_tools()
        assert await manager.call("mcp__hosted__echo", {"text": "hi"}) == "hi"
        logging.getLogger("somelib").warning("could not reach %s", url)
        try:
            raise ConnectionError(f"gave up on {url}")
        except ConnectionError:
            logging.getLogger("otherlib").exception("request failed")
    finally:
        await manager.close_all()
    text = troupe_log.read_text(encoding="utf-8")
    assert "SECRET123" not in text and "PASSW0RD" not in text
    assert "/mcp?key=[redacted]&region=eu" in text  # the request lines were logged, redacted
    assert "could not reach http://[redacted]@127.0.0.1" in text
    assert "gave up on http://[redacted]@" in text  # the traceback too


def test_log_redaction_keeps_harmless_query_values() -> None:
    from app.logs import redact_log_text  # noqa: PLC0415

    line = "GET https://a:b@h/x?page=2&api_key=K1&access_token=T2&X-Amz-Signature=S3&q=cats"
    assert redact_log_text(line) == ("GET https://[redacted]@h/x?page=2&api_key=[redacted]"
                                     "&access_token=[redacted]&X-Amz-Signature=[redacted]&q=cats")


# --- 2. the command line gives a role an MCP tool (and takes it away) -------------------


def troupe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=90)


def role_tools(env: dict[str, str], role: str) -> dict[str, dict[str, str]]:
    result = troupe(env, "tools", "list", "--role", role, "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def one_line_refusal(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("troupe: "), result.stderr
    assert words in result.stderr


@pytest.fixture
def cli_env(troupe_home: Path, tmp_path: Path) -> dict[str, str]:
    """A data dir whose MCP servers were imported from a Claude Desktop file."""
    env = {**os.environ, "TROUPE_HOME": str(troupe_home), "PYTHONPATH": str(ROOT)}
    desktop = tmp_path / "claude_desktop_config.json"
    desktop.write_text(json.dumps({"mcpServers": {
        "faults": {"command": sys.executable, "args": list(FAULTS), "env": {"PYTHONPATH": str(ROOT)}}}}))
    assert troupe(env, "mcp", "import", str(desktop)).returncode == 0
    return env


def test_grant_and_revoke_give_a_role_mcp_tools_from_the_command_line(cli_env, troupe_home) -> None:
    before = role_tools(cli_env, "researcher")
    assert list(before) == ["read_file", "list_files", "fetch_url", "search_history"]  # no MCP tool yet
    assert before["fetch_url"] == {"name": "fetch_url", "risk": "network", "source": "builtin",
                                   "permission": "ask"}
    # a rule for a tool the role cannot call is refused, not pretended
    one_line_refusal(troupe(cli_env, "tools", "allow", "mcp__faults__echo", "--role", "researcher"),
                     "troupe tools grant mcp__faults__echo --role researcher")
    assert not (troupe_home / "tool_policies.json").exists()

    granted = troupe(cli_env, "tools", "grant", "mcp__faults__echo", "mcp__faults__sh*", "--role", "researcher")
    assert granted.returncode == 0, granted.stderr
    assert "mcp__faults__echo, mcp__faults__show_env" in granted.stdout
    assert troupe(cli_env, "tools", "allow", "mcp__faults__echo", "--role", "researcher").returncode == 0
    after = role_tools(cli_env, "researcher")
    assert after["mcp__faults__echo"] == {"name": "mcp__faults__echo", "risk": "execute",
                                          "source": "mcp:faults", "permission": "allow"}
    assert after["mcp__faults__show_env"]["permission"] == "ask"
    assert "mcp__faults__slow" not in after  # only what was granted
    # the same roster file Settings › Agents edits
    roles = {r["name"]: r for r in json.loads((troupe_home / "roster.json").read_text())["roles"]}
    assert roles["researcher"]["tools"][-2:] == ["mcp__faults__echo", "mcp__faults__show_env"]

    one_line_refusal(troupe(cli_env, "tools", "grant", "mcp__faults__ech", "--role", "researcher"),
                     "MCP server 'faults' has no tool 'mcp__faults__ech'; it has: mcp__faults__echo")
    one_line_refusal(troupe(cli_env, "tools", "grant", "echo", "--role", "nobody"), "no role named 'nobody'")
    assert troupe(cli_env, "tools", "revoke", "mcp__faults__*", "--role", "researcher").returncode == 0
    assert list(role_tools(cli_env, "researcher")) == list(before)
    one_line_refusal(troupe(cli_env, "tools", "revoke", "mcp__faults__echo", "--role", "researcher"),
                     "role 'researcher' has no tool 'mcp__faults__echo'")


# --- 3. imports keep what they can; SSE servers work ------------------------------------


def test_import_skips_what_it_cannot_use_and_names_why(cli_env, serve, tmp_path) -> None:
    sse_url = serve("sse") + "/sse"
    cursor = tmp_path / "mcp.json"
    cursor.write_text(json.dumps({"mcpServers": {
        "old": {"type": "sse", "url": sse_url, "headers": {"Authorization": "Bearer abc"}},
        "broken": {"command": 3},
        "ws": {"type": "websocket", "url": "ws://127.0.0.1:1/x"},
    }}))
    result = troupe(cli_env, "mcp", "import", str(cursor))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "troupe: skipped server 'broken': command must be a non-empty string",
        "troupe: skipped server 'ws': unknown \"type\" 'websocket' (stdio, http, streamable-http or sse)",
    ]
    assert "imported old from" in result.stdout and "faults, old" in result.stdout
    listed = troupe(cli_env, "mcp", "list")
    assert f"old              sse    {sse_url}" in listed.stdout
    rows = {r["name"]: r for r in json.loads(troupe(cli_env, "tools", "list", "--json").stdout)}
    assert rows["mcp__old__echo"] == {"name": "mcp__old__echo", "risk": "network",
                                      "source": "mcp:old", "permission": "ask"}


def test_a_file_with_nothing_usable_imports_nothing(cli_env, tmp_path, troupe_home) -> None:
    before = (troupe_home / "mcp_servers.json").read_text()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mcpServers": {"ws": {"type": "websocket", "url": "ws://h"}}}))
    one_line_refusal(troupe(cli_env, "mcp", "import", str(bad)), "unknown \"type\" 'websocket'")
    assert (troupe_home / "mcp_servers.json").read_text() == before


async def test_sse_server_lists_and_calls_tools(serve) -> None:
    manager = McpManager([McpServerConfig("old", "sse", url=serve("sse") + "/sse", timeout=10)])
    try:
        assert "mcp__old__echo" in {t.qualified_name for t in await manager.list_tools()}
        assert await manager.call("mcp__old__echo", {"text": "over sse"}) == "over sse"
    finally:
        await manager.close_all()


async def test_an_http_url_ending_in_sse_falls_back_to_sse(serve) -> None:
    manager = McpManager([McpServerConfig("guess", "http", url=serve("sse") + "/sse", timeout=10)])
    try:
        await manager.list_tools()
        assert await manager.call("mcp__guess__echo", {"text": "found it"}) == "found it"
        assert manager.connections["guess"].transport == "sse"
    finally:
        await manager.close_all()


async def test_an_sse_url_that_fails_both_ways_says_it_looks_like_sse(serve) -> None:
    # a streamable-HTTP server answers neither protocol at /sse
    manager = McpManager([McpServerConfig("odd", "http", url=serve("http") + "/sse", timeout=5)])
    try:
        await manager.list_tools()
    finally:
        await manager.close_all()
    message = str(manager.failures["odd"])
    assert message.startswith("MCP server 'odd' did not start")
    assert message.endswith('this looks like an SSE server: set "type": "sse"')


# --- 4. tools that only run as MCP tasks are never offered ------------------------------


async def test_task_only_tools_are_left_out_and_say_why(tmp_path) -> None:
    config = McpServerConfig("faults", command=sys.executable, args=FAULTS, env={"PYTHONPATH": str(ROOT)})
    manager = McpManager([config])
    try:
        offered = {t.name for t in await mcp_tools(manager)}
        assert {"mcp__faults__echo", "mcp__faults__slow"} <= offered
        assert "mcp__faults__needs_task" not in offered
        assert manager.left_out == {"mcp__faults__needs_task": TASK_ONLY}
        assert "taskSupport" in TASK_ONLY
    finally:
        await manager.close_all()


def test_tools_list_and_grant_name_the_task_only_tool(cli_env) -> None:
    listed = troupe(cli_env, "tools", "list", "--json")
    assert listed.returncode == 0
    assert "mcp__faults__needs_task" not in {r["name"] for r in json.loads(listed.stdout)}
    assert listed.stderr == f"troupe: MCP tool mcp__faults__needs_task is left out: {TASK_ONLY}\n"
    one_line_refusal(troupe(cli_env, "tools", "grant", "mcp__faults__needs_task", "--role", "analyst"),
                     "mcp__faults__needs_task cannot be used: it runs only as an MCP task")


# --- 6. progress reports are shown and keep a long call alive --------------------------


def faults_config(**limits: float) -> McpServerConfig:
    return McpServerConfig("faults", command=sys.executable, args=FAULTS, env={"PYTHONPATH": str(ROOT)},
                           **limits)  # type: ignore[arg-type]


async def test_progress_keeps_a_call_alive_past_its_timeout_and_is_shown(tmp_path) -> None:
    manager = McpManager([faults_config(timeout=1.0, call_limit=30.0)])
    lines: list[str] = []
    try:
        slow = {t.name: t for t in await mcp_tools(manager)}["mcp__faults__slow"]
        ctx = ToolContext(workspace=tmp_path, progress=lines.append)
        result = await invoke(slow, {"seconds": 2.5, "every": 0.3}, ctx)
    finally:
        await manager.close_all()
    assert result[1] is False and result[0].startswith("done after ")
    assert lines[0] == "step 1 (0%)" and len(lines) >= 5  # one report every 0.3 s for 2.5 s


async def test_a_call_silent_for_its_timeout_still_fails() -> None:
    manager = McpManager([faults_config(timeout=1.0, call_limit=30.0)])
    try:
        await manager.list_tools()
        with pytest.raises(McpError, match=r"did not answer call 'slow' within 1 s"):
            await manager.call("mcp__faults__slow", {"seconds": 30, "every": 20})
    finally:
        await manager.close_all()


async def test_progress_does_not_extend_a_call_past_its_call_limit() -> None:
    manager = McpManager([faults_config(timeout=1.0, call_limit=1.5)])
    try:
        await manager.list_tools()
        with pytest.raises(McpError, match=r"did not finish call 'slow' within 1.5 s \(its call limit\)"):
            await manager.call("mcp__faults__slow", {"seconds": 30, "every": 0.3})
    finally:
        await manager.close_all()


def test_progress_events_are_one_line_of_the_cli_progress() -> None:
    out = io.StringIO()
    ProgressPrinter(out).emit(ToolCallProgress(run_id="r", task_id="t1", call_id="t1:1:0",
                                               tool="mcp__faults__slow", message="step 3 (40%)"))
    assert out.getvalue() == "  … t1 mcp__faults__slow: step 3 (40%)\n"
    assert not ToolCallProgress.persist  # live only: the history keeps the call, not its ticks


# --- 5. stdio servers get Troupe's proxy settings, never its keys ------------------------


async def test_stdio_servers_get_the_proxy_settings_but_no_key(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    monkeypatch.setenv("no_proxy", "localhost,.corp.example")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-notforservers0123456789")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_notforservers")
    config = McpServerConfig("faults", command=sys.executable, args=FAULTS,
                             env={"PYTHONPATH": str(ROOT), "HTTPS_PROXY": "http://own.proxy:8080"})
    names = ["HTTPS_PROXY", "no_proxy", "HTTP_PROXY", "OPENAI_API_KEY", "GITHUB_TOKEN"]
    manager = McpManager([config])
    try:
        await manager.list_tools()
        seen = json.loads(await manager.call("mcp__faults__show_env", {"names": names}))
        # the server's own setting wins over Troupe's
        assert seen == {"HTTPS_PROXY": "http://own.proxy:8080", "no_proxy": "localhost,.corp.example",
                        "HTTP_PROXY": None, "OPENAI_API_KEY": None, "GITHUB_TOKEN": None}
        monkeypatch.delenv("HTTPS_PROXY")
        assert server_env(replace(config, env={}), {"HTTPS_PROXY": "http://p:1", "OPENAI_API_KEY": "k"}) \
            == {"HTTPS_PROXY": "http://p:1"}
    finally:
        await manager.close_all()
