"""Start one MCP server to see its tools (Settings › Tools › List tools).

The server starts as a run would start it (agents/tools/mcp_client.py), is given
at most PROBE_WAIT seconds to start and answer (less if its own limits are
shorter), and is stopped again before the answer comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from agents.tools.base import Tool
from agents.tools.mcp_client import McpError, McpManager, McpServerConfig
from agents.tools.mcp_tools import mcp_tools

__all__ = ["PROBE_WAIT", "Probe", "probe_server"]

PROBE_WAIT = 30.0
"""Seconds a server gets to start and to list its tools (npx or uvx may download it first)."""


@dataclass(frozen=True)
class Probe:
    """What listing one server's tools found."""

    server: str
    """The server's name."""
    tools: list[Tool] = field(default_factory=list)
    """Its tools, named `mcp__<server>__<tool>`; for showing and rules only (the server is stopped)."""
    error: str = ""
    """Why it could not list them (did not start, crashed, timed out), with its last stderr lines."""
    left_out: dict[str, str] = field(default_factory=dict)
    """Tools it lists that are never offered (they could not run), by qualified name: why."""


async def probe_server(config: McpServerConfig, wait: float = PROBE_WAIT) -> Probe:
    """Start the server, list its tools, stop it."""
    quick = replace(config, timeout=min(config.timeout, wait), start_timeout=min(config.start_timeout, wait))
    manager = McpManager([quick])
    try:
        tools = await mcp_tools(manager)
    except McpError as exc:  # mcp_tools records server failures; this is anything else it raised
        return Probe(config.name, error=str(exc))
    finally:
        await manager.close_all()
    failure = manager.failures.get(config.name)
    if failure is not None:
        return Probe(config.name, error=str(failure))
    return Probe(config.name, tools, left_out=manager.left_out)
