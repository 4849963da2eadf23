"""MCP tools as `agents.tools.base.Tool`s, so they join the registry like any other.

Each is marked `mcp=True`, so the policy asks before it runs unless a rule
says otherwise. Failures (the tool's own error, a crashed or silent server)
become `ToolError`s, which `invoke` hands back to the model as "error: ..." text.
"""

from __future__ import annotations

from typing import Any

from agents.tools.base import Risk, Tool, ToolContext, ToolError
from agents.tools.mcp_client import McpError, McpManager, McpTool

__all__ = ["as_tool", "mcp_tools"]


def as_tool(manager: McpManager, tool: McpTool) -> Tool:
    """One MCP tool as a Tool named `mcp__<server>__<tool>`."""

    async def handler(args: dict[str, Any], ctx: ToolContext) -> str:
        report = ctx.progress
        heard = (lambda p: report(p.describe())) if report is not None else None
        try:
            return await manager.call(tool.qualified_name, args, heard)
        except McpError as exc:
            raise ToolError(str(exc)) from exc

    return Tool(
        name=tool.qualified_name,
        description=f"[MCP server {tool.server}] {tool.description}",
        parameters=tool.parameters,
        risk=_risk(manager, tool),
        handler=handler,
        mcp=True,
    )


async def mcp_tools(manager: McpManager) -> list[Tool]:
    """Start the servers and list their tools as Tools (failed servers: `manager.failures`)."""
    return [as_tool(manager, t) for t in await manager.list_tools()]


def _risk(manager: McpManager, tool: McpTool) -> Risk:
    # the server's own read-only hint is a claim, not a proof: the policy still asks
    if tool.read_only:
        return Risk.READ
    connection = manager.connections[tool.server]
    return Risk.EXECUTE if connection.config.transport == "stdio" else Risk.NETWORK
