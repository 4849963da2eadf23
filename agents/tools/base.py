"""Tools an agent may call: what they are, where they run, who may run them.

A `Tool` is a name, a description, a JSON schema for its arguments, a risk
level and an `async run(args, ctx) -> str`. The `ToolRegistry` holds them and
gives the model the specs of the ones a role may use. The `ToolPolicy` says,
per tool, whether a call runs (allow), waits for the person (ask) or is
refused (deny). A failing tool never fails the task: `invoke` turns the
failure into "error: ..." text that goes back to the model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from agents.tools.sandbox import CodeLimits

__all__ = [
    "Permission",
    "ProgressFn",
    "Risk",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolLimits",
    "ToolPolicy",
    "ToolRegistry",
    "WarnFn",
    "invoke",
]


class Risk(StrEnum):
    """What a tool can do to the world; everything but READ asks by default."""

    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"
    NETWORK = "network"


class Permission(StrEnum):
    ASK = "ask"
    ALLOW = "allow"
    DENY = "deny"


class ToolError(Exception):
    """A tool's refusal or failure, worded for the model (and the person)."""


@dataclass(frozen=True)
class ToolLimits:
    """Bounds on what one tool call may take or give back."""

    timeout: float = 30.0
    """Seconds a subprocess or a fetch may take."""
    max_output: int = 20_000
    """Characters of output returned to the model."""
    max_fetch_bytes: int = 2_000_000
    """Bytes read from a URL before giving up."""
    code: CodeLimits = field(default_factory=CodeLimits)
    """What run_python and run_shell may use, and whether they have the network."""


SearchFn = Callable[[str], Awaitable[str]]
"""Searches this project's earlier outputs; returns the findings as text."""

WarnFn = Callable[[str, str], None]
"""Tells the person about a problem that does not stop the run: (message, source)."""

ProgressFn = Callable[[str], None]
"""Tells the person how far a running tool call is (one short line: "step 3 (40%)")."""


@dataclass(frozen=True)
class ToolContext:
    """Where and for whom a tool call runs."""

    workspace: Path
    """The project's workspace folder; file tools are confined to it."""
    run_id: str = ""
    task_id: str = ""
    search: SearchFn | None = None
    """The project's search over earlier outputs, if the app gives one."""
    limits: ToolLimits = field(default_factory=ToolLimits)
    allow_private_urls: bool = False
    """fetch_url may reach loopback, private, link-local and multicast addresses."""
    warn: WarnFn | None = None
    """Where a tool reports trouble beyond its own call (a crashed MCP server)."""
    progress: ProgressFn | None = None
    """Where the running call reports its progress (set per call by the tool loop)."""


RunFn = Callable[[dict[str, Any], ToolContext], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    """One tool."""

    name: str
    """What the model calls it (letters, digits, `_`, `-`; an `mcp__` prefix marks MCP tools)."""
    description: str
    parameters: dict[str, Any]
    """JSON schema of the arguments object."""
    risk: Risk
    handler: RunFn = field(repr=False)
    mcp: bool = False
    sandboxed: bool = False
    """Runs code in the sandbox of agents.tools.sandbox (what its approval card describes)."""
    """Served by an MCP server: asks by default, whatever its risk."""

    @property
    def is_mcp(self) -> bool:
        return self.mcp or self.name.startswith(("mcp:", "mcp__"))

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> str:
        return await self.handler(args, ctx)

    def spec(self) -> dict[str, Any]:
        """The OpenAI `tools=` entry for this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name, "description": self.description, "parameters": self.parameters,
            },
        }


class ToolRegistry:
    """The tools known to a run, by name."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def allowed(self, names: Iterable[str]) -> list[Tool]:
        """The registered tools among `names` (a role's list), in the role's order."""
        return [self._tools[n] for n in dict.fromkeys(names) if n in self._tools]

    def specs(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """`tools=` for a role allowed `names`; unknown names are left out."""
        return [tool.spec() for tool in self.allowed(names)]


@dataclass(frozen=True)
class ToolPolicy:
    """Ask / allow / deny per tool, for the project and per role.

    A role's rule beats the project's; without either, READ tools are allowed
    and every other tool (and every MCP tool) asks.
    """

    rules: Mapping[str, Permission] = field(default_factory=dict)
    """Tool name -> permission, for the whole project."""
    roles: Mapping[str, Mapping[str, Permission]] = field(default_factory=dict)
    """Role name -> tool name -> permission."""

    def permission(self, tool: Tool, role: str = "") -> Permission:
        rule = self.roles.get(role, {}).get(tool.name) or self.rules.get(tool.name)
        if rule is not None:
            return Permission(rule)
        return Permission.ALLOW if tool.risk is Risk.READ and not tool.is_mcp else Permission.ASK


async def invoke(tool: Tool, args: dict[str, Any], ctx: ToolContext) -> tuple[str, bool]:
    """Run a tool; returns (result, failed). Failures come back as "error: ..." text."""
    missing = [k for k in tool.parameters.get("required", ()) if k not in args]
    if missing:
        return f"error: {tool.name} needs the argument(s) {', '.join(missing)}", True
    try:
        return await tool.run(args, ctx), False
    except ToolError as exc:
        return f"error: {exc}", True
    except Exception as exc:  # a broken tool must not end the task
        return f"error: {tool.name} failed: {type(exc).__name__}: {exc}", True
