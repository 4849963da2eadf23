"""MCP client against real servers: our echo server (stdio and streamable HTTP)
and mcp-server-time from PyPI, each a real child process."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.tools.base import Permission, ToolContext, ToolPolicy, invoke
from agents.tools.mcp_client import (
    McpConfigError,
    McpConnection,
    McpError,
    McpManager,
    McpServerConfig,
    McpToolError,
    parse_mcp_servers,
    qualified_tool_name,
)
from agents.tools.mcp_tools import mcp_tools

ROOT = Path(__file__).resolve().parents[2]
ECHO = ("-m", "tests.support.mcp_echo_server")


def echo_config(name: str = "echo", timeout: float = 10.0) -> McpServerConfig:
    return McpServerConfig(
        name, command=sys.executable, args=ECHO, env={"PYTHONPATH": str(ROOT)}, timeout=timeout
    )


def time_config() -> McpServerConfig:
    args = ("-m", "mcp_server_time", "--local-timezone", "UTC")
    return McpServerConfig("time", command=sys.executable, args=args, timeout=15)


def python_config(code: str, start_timeout: float = 10.0) -> McpServerConfig:
    args = ("-c", code)
    return McpServerConfig("broken", command=sys.executable, args=args, start_timeout=start_timeout)


def child_pids() -> set[int]:
    """Live child processes of this test process (Linux /proc)."""
    me, found = str(__import__("os").getpid()), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


# --- stdio: our echo server -------------------------------------------------------


async def test_stdio_lists_and_calls_tools() -> None:
    conn = McpConnection(echo_config())
    assert not conn.running  # lazy: nothing starts before the first request
    try:
        tools = {t.name: t for t in await conn.list_tools()}
        assert {"add", "echo", "crash", "hang"} <= set(tools)
        assert tools["add"].qualified_name == "mcp__echo__add"
        assert tools["add"].parameters["required"] == ["a", "b"]
        assert tools["echo"].description == "Return the text unchanged."
        assert await conn.call_tool("add", {"a": 2, "b": 3}) == "5"
        sums = [conn.call_tool("add", {"a": i, "b": i}) for i in range(5)]  # from other tasks
        assert await asyncio.gather(*sums) == ["0", "2", "4", "6", "8"]
        assert await conn.call_tool("echo", {"text": "héllo\nworld"}) == "héllo\nworld"
        with pytest.raises(McpToolError, match="Unknown tool"):
            await conn.call_tool("nope", {})
        with pytest.raises(McpToolError, match="validation error"):
            await conn.call_tool("add", {"a": "x"})
    finally:
        await conn.close()
    assert not conn.running


async def test_crash_is_a_clear_error_and_the_next_call_restarts() -> None:
    conn = McpConnection(echo_config())
    try:
        with pytest.raises(McpError) as caught:
            await conn.call_tool("crash", {})
        message = str(caught.value)
        assert "'echo'" in message and "closed the connection during call 'crash'" in message
        assert "crashing on purpose" in message  # the tail of its stderr
        assert await conn.call_tool("add", {"a": 1, "b": 1}) == "2"
    finally:
        await conn.close()


async def test_hang_times_out_within_the_configured_timeout() -> None:
    conn = McpConnection(echo_config(timeout=1.5))
    try:
        await conn.list_tools()
        start = time.monotonic()
        with pytest.raises(McpError, match=r"'echo' did not answer call 'hang' within 1.5 s"):
            await conn.call_tool("hang", {})
        assert time.monotonic() - start < 3
        assert await conn.call_tool("add", {"a": 2, "b": 2}) == "4"  # still serving
    finally:
        await conn.close()


async def test_server_that_exits_at_start_shows_its_stderr() -> None:
    code = "import sys; print('boom: BAD_KEY is not set', file=sys.stderr); sys.exit(2)"
    conn = McpConnection(python_config(code))
    with pytest.raises(McpError, match="'broken' did not start") as caught:
        await conn.list_tools()
    assert "boom: BAD_KEY is not set" in str(caught.value)
    await conn.close()


async def test_server_that_never_answers_at_start_times_out() -> None:
    before = child_pids()
    conn = McpConnection(python_config("import time; time.sleep(60)", start_timeout=1))
    start = time.monotonic()
    with pytest.raises(McpError, match="'broken' did not start within 1 s"):
        await conn.list_tools()
    assert time.monotonic() - start < 6
    await conn.close()
    assert child_pids() <= before


async def test_missing_command_is_a_clear_error() -> None:
    config = McpServerConfig("ghost", command="/nonexistent/mcp-server-ghost")
    with pytest.raises(McpError, match="'ghost' did not start.*mcp-server-ghost"):
        await McpConnection(config).call_tool("x", {})


# --- a real server from PyPI --------------------------------------------------------


async def test_mcp_server_time_from_pypi() -> None:
    conn = McpConnection(time_config())
    try:
        names = {t.name for t in await conn.list_tools()}
        assert {"get_current_time", "convert_time"} <= names
        answer = json.loads(await conn.call_tool("get_current_time", {"timezone": "Europe/Paris"}))
        assert answer["timezone"] == "Europe/Paris" and answer["datetime"][:2] == "20"
        converted = json.loads(await conn.call_tool("convert_time", {
            "source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo",
        }))
        assert converted["target"]["datetime"][11:16] == "21:00"
    finally:
        await conn.close()


# --- streamable HTTP ------------------------------------------------------------------


@pytest.fixture
def http_echo() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Our echo server over streamable HTTP on a free 127.0.0.1 port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, *ECHO, "http", str(port)], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp", proc
    finally:
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
    raise RuntimeError("the HTTP echo server did not start")


async def test_streamable_http_call_and_dead_server(http_echo) -> None:
    url, proc = http_echo
    config = McpServerConfig("web", "http", url=url, headers={"X-Token": "s3cret"}, timeout=5)
    manager = McpManager([config])
    try:
        tools = {t.qualified_name for t in await manager.list_tools()}
        assert "mcp__web__add" in tools
        assert await manager.call("mcp__web__add", {"a": 20, "b": 22}) == "42"
        proc.kill()
        proc.wait()
        start = time.monotonic()
        with pytest.raises(McpError, match="'web'") as caught:
            await manager.call("mcp__web__echo", {"text": "anyone?"})
        assert time.monotonic() - start < 6
        assert "closed the connection during call 'echo'" in str(caught.value)
    finally:
        await manager.close_all()


async def test_http_server_not_listening_is_a_clear_error() -> None:
    config = McpServerConfig("nobody", "http", url="http://127.0.0.1:9/mcp")
    with pytest.raises(McpError, match="'nobody' did not start.*ConnectError"):
        await McpConnection(config).list_tools()


# --- several servers, as registry tools ------------------------------------------------


async def test_manager_tools_join_the_registry_and_close_all_stops_children(tmp_path) -> None:
    before = child_pids()
    manager = McpManager([echo_config(), time_config(), python_config("import sys; sys.exit(1)")])
    try:
        tools = {t.name: t for t in await mcp_tools(manager)}
        assert "mcp__echo__add" in tools and "mcp__time__get_current_time" in tools
        assert set(manager.failures) == {"broken"}  # one broken server does not stop the rest
        assert len(child_pids() - before) == 2
        add = tools["mcp__echo__add"]
        assert add.is_mcp and ToolPolicy().permission(add) is Permission.ASK
        ctx = ToolContext(workspace=tmp_path)
        assert await invoke(add, {"a": 3, "b": 4}, ctx) == ("7", False)
        text, failed = await invoke(tools["mcp__echo__crash"], {}, ctx)
        assert failed and "closed the connection" in text
    finally:
        await manager.close_all()
    assert child_pids() <= before


# --- names and config -------------------------------------------------------------------


def test_qualified_names_are_function_name_safe() -> None:
    assert qualified_tool_name("my server", "read.file") == "mcp__my_server__read_file"
    long = qualified_tool_name("s" * 40, "t" * 40)
    assert len(long) == 64 and long != qualified_tool_name("s" * 40, "t" * 41)


CLAUDE_DESKTOP = """{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"]
    },
    "github": {
      "command": "docker", "args": ["run", "-i", "--rm", "ghcr.io/github/github-mcp-server"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_secret"}
    },
    "remote": {"type": "http", "url": "https://example.com/mcp",
               "headers": {"Authorization": "Bearer tok"}, "timeout": 12}
  }
}"""


def test_parse_claude_desktop_config() -> None:
    servers = {s.name: s for s in parse_mcp_servers(CLAUDE_DESKTOP)}
    fs, gh, remote = servers["filesystem"], servers["github"], servers["remote"]
    assert fs.transport == "stdio" and fs.command == "npx" and fs.args[-1] == "/Users/me/Desktop"
    assert gh.env == {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_secret"}
    assert remote.transport == "http" and remote.url == "https://example.com/mcp"
    assert remote.headers == {"Authorization": "Bearer tok"} and remote.timeout == 12
    assert "ghp_secret" not in repr(gh) and "Bearer" not in repr(remote)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"servers": {}}', '"mcpServers" object'),
        ('{"mcpServers": []}', '"mcpServers" object'),
        ('{"mcpServers": {"a": 3}}', "server 'a': expected an object"),
        ('{"mcpServers": {"a": {"args": []}}}', "server 'a': has neither a command"),
        ('{"mcpServers": {"a": {"command": ""}}}', "server 'a': command must be a non-empty"),
        ('{"mcpServers": {"a": {"command": "x", "args": "y"}}}', "args must be a list of strings"),
        ('{"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}', "env must be an object of strings"),
        ('{"mcpServers": {"a": {"url": "ftp://h"}}}', "url must start with http"),
        ('{"mcpServers": {"a": {"type": "sse", "command": "x"}}}', '"type": "sse" needs a url'),
        ('{"mcpServers": {"a": {"type": "websocket", "url": "ws://h"}}}', 'unknown "type"'),
        ('{"mcpServers": {"a": {"command": "x", "timeout": -1}}}', "timeout must be a positive"),
    ],
)
def test_parse_rejects_malformed_entries(text: str, problem: str) -> None:
    with pytest.raises(McpConfigError, match=problem):
        parse_mcp_servers(text)


def test_parse_reports_every_bad_entry() -> None:
    text = '{"mcpServers": {"ok": {"command": "x"}, "a": {}, "b": {"url": 5}}}'
    with pytest.raises(McpConfigError) as caught:
        parse_mcp_servers(text)
    assert [p.split(":")[0] for p in caught.value.problems] == ["server 'a'", "server 'b'"]
