"""An MCP server for the MCP fault tests: `python -m tests.support.mcp_fault_server [http|sse PORT]`.

Tools: echo, slow (reports progress every `every` s for `seconds` s, then
answers), show_env (the values of the named environment variables) and
needs_task (marked execution.taskSupport "required", as servers using the
protocol's task feature mark theirs). Over stdio by default; `http PORT`
serves streamable HTTP and `sse PORT` the old SSE transport on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
import time

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import Tool, ToolExecution


class _Server(MCPServer):
    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        required = ToolExecution(task_support="required")
        return [t.model_copy(update={"execution": required}) if t.name == "needs_task" else t
                for t in tools]


server = _Server("faults")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
async def slow(seconds: float, every: float, ctx: Context) -> str:
    """Report progress every `every` seconds for `seconds` seconds, then answer."""
    start = time.monotonic()
    step = 0
    while (elapsed := time.monotonic() - start) < seconds:
        step += 1
        await ctx.report_progress(elapsed, seconds, f"step {step}")
        await anyio.sleep(every)
    return f"done after {step} steps"


@server.tool()
def show_env(names: list[str]) -> str:
    """The named environment variables' values (null: not set), as JSON."""
    return json.dumps({n: os.environ.get(n) for n in names})


@server.tool()
def needs_task() -> str:
    """Only callable as a task (its taskSupport is "required")."""
    return "ran without a task"


def main(argv: list[str]) -> None:
    if argv[:1] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(argv[1]))
    elif argv[:1] == ["sse"]:
        server.run("sse", host="127.0.0.1", port=int(argv[1]))
    else:
        server.run()


if __name__ == "__main__":
    main(sys.argv[1:])
