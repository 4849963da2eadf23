"""The tools of one run: built-ins, the person's MCP servers, policy, workspace, search.

MCP servers start lazily: only those whose tools (`mcp__<server>__...`) some
role of the roster names, and only when the run starts. A server that fails
to start is reported in `notes` (and the setup's `notices`, which the runner
shows the person as RunWarnings) and the run goes on without its tools. One
that crashes or stops answering later is reported once, as a RunWarning from
the call that met it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from agents.plan.roster import Roster
from agents.tools.base import SearchFn, Tool, ToolContext, ToolError, ToolLimits, ToolRegistry
from agents.tools.builtin import builtin_tools
from agents.tools.loop import ToolSetup
from agents.tools.mcp_client import (
    McpConfigError,
    McpError,
    McpManager,
    McpServerConfig,
    McpToolError,
    qualified_tool_name,
)
from agents.tools.mcp_tools import mcp_tools
from agents.tools.sandbox import CodeLimits
from app.logs import redact_thoroughly
from app.providers.secrets import register_environment_keys
from app.tools.mcp_config import load_servers
from app.tools.settings import load_policies, workspace_dir

if TYPE_CHECKING:
    from app.storage import Store

__all__ = ["RunTools", "list_tools", "open_run_tools", "project_search", "servers_named"]

log = logging.getLogger(__name__)

SEARCH_RUNS, SEARCH_CHARS = 5, 600
"""Earlier runs a search reports, and characters of each task output shown."""


@dataclass(eq=False)  # kept in a set by identity
class RunTools:
    """A run's ToolSetup (None: no role has tools) and the MCP servers to stop after it."""

    setup: ToolSetup | None = None
    manager: McpManager | None = None
    notes: list[str] = field(default_factory=list)
    """One line per problem (a server that did not start), already logged."""

    async def aclose(self) -> None:
        manager, self.manager = self.manager, None
        if manager is not None:
            await manager.close_all()


async def open_run_tools(roster: Roster, project: str, store: Store, run_id: str = "", *,
                         allow_private_urls: bool = False, code_network: bool = False) -> RunTools:
    """Everything the run's roles may call, for `project`."""
    wanted = {t for role in roster for t in role.tools}
    if not wanted:
        return RunTools()
    tools = RunTools()
    register_environment_keys()  # the run's own key is registered when read; these too
    configs = servers_named(_servers(tools.notes), wanted)
    mcp: list[Tool] = []
    if configs:
        tools.manager = McpManager(configs)
        warned: set[str] = set()  # servers already reported as failing mid-run
        listed = await _mcp_tools(tools.manager, tools.notes, wanted)
        mcp = [_watched(t, server_of(configs, t.name), warned) for t in listed]
    tools.setup = ToolSetup(
        registry=ToolRegistry([*builtin_tools(), *mcp]), workspace=workspace_dir(project),
        policy=load_policies().policy(project), search=project_search(store, project, run_id),
        allow_private_urls=allow_private_urls, notices=tuple(tools.notes), redact=redact_thoroughly,
        limits=ToolLimits(code=CodeLimits(network=code_network)),
    )
    return tools


async def list_tools(configs: Iterable[McpServerConfig], wait: float) -> tuple[list[Tool], list[str]]:
    """Built-in and MCP tools, each server given at most `wait` seconds; (tools, problems)."""
    quick = [replace(c, timeout=min(c.timeout, wait), start_timeout=min(c.start_timeout, wait))
             for c in configs]
    notes: list[str] = []
    manager = McpManager(quick)
    try:
        mcp = await _mcp_tools(manager, notes) if quick else []
    finally:
        await manager.close_all()
    return [*builtin_tools(), *mcp], notes


def servers_named(configs: list[McpServerConfig], tool_names: set[str]) -> list[McpServerConfig]:
    """The servers some of `tool_names` belong to."""
    return [c for c in configs
            if any(t.startswith(qualified_tool_name(c.name, "")) for t in tool_names)]


def server_of(configs: list[McpServerConfig], tool_name: str) -> str:
    """The server an `mcp__<server>__<tool>` name belongs to ("" if none)."""
    return next((c.name for c in configs if tool_name.startswith(qualified_tool_name(c.name, ""))), "")


def _watched(tool: Tool, server: str, warned: set[str]) -> Tool:
    """The MCP tool, telling the person (once per run) when its server crashed or hung."""
    warned_key = server or tool.name

    async def handler(args: dict[str, Any], ctx: ToolContext) -> str:
        try:
            return await tool.run(args, ctx)
        except ToolError as exc:
            cause = exc.__cause__
            server_failed = isinstance(cause, McpError) and not isinstance(cause, McpToolError)
            if server_failed and ctx.warn is not None and warned_key not in warned:
                warned.add(warned_key)
                ctx.warn(f"{_first_line(exc)}; its tools may keep failing in this run", f"mcp:{server}")
            raise

    return replace(tool, handler=handler)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _servers(notes: list[str]) -> list[McpServerConfig]:
    try:
        return load_servers()
    except McpConfigError as exc:
        _note(notes, f"MCP servers not used: {exc}")
        return []


async def _mcp_tools(manager: McpManager, notes: list[str], wanted: set[str] | None = None) -> list[Tool]:
    """The servers' tools; a server that failed, and a tool left out that is `wanted`, are notes."""
    tools = await mcp_tools(manager)
    for name, error in manager.failures.items():
        _note(notes, f"MCP server {name!r} is not available, its tools are left out: {_first_line(error)}")
    for name, why in manager.left_out.items():
        if wanted is None or name in wanted:
            _note(notes, f"MCP tool {name} is left out: {why}")
    return tools


def _note(notes: list[str], text: str) -> None:
    log.warning("%s", text)
    notes.append(text)


# --- search_history -------------------------------------------------------------------


def project_search(store: Store, project: str, run_id: str = "") -> SearchFn:
    """search_history for `project`: its other runs' task outputs matching the words."""

    async def search(query: str) -> str:
        return await asyncio.to_thread(_search, store, project, run_id, query)

    return search


def _search(store: Store, project: str, run_id: str, query: str) -> str:
    runs = [r for r in store.search_runs(query) if r.project == project and r.id != run_id]
    words = [w.lower() for w in query.split() if w.strip()]
    blocks = [_run_block(store, r.id, r.goal, words) for r in runs[:SEARCH_RUNS]]
    return "\n\n".join(b for b in blocks if b) or f"nothing in this project's earlier runs matches {query!r}"


def _run_block(store: Store, run_id: str, goal: str, words: list[str]) -> str:
    outputs = [(tid, f.output) for tid, f in store.finished_task_outputs(run_id).items()]
    # the run matched (goal, plan or deliverable) even when no output holds a word
    hits = [(tid, text) for tid, text in outputs if any(w in text.lower() for w in words)] or outputs[:1]
    lines = [f"run {run_id}: {goal}"]
    lines += [f"- task {tid}: {_clip(text)}" for tid, text in hits[:3]]
    return "\n".join(lines)


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SEARCH_CHARS else flat[:SEARCH_CHARS] + " [...]"
