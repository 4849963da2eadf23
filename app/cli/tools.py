"""`troupe tools list|allow|deny|ask|reset|grant|revoke` and `troupe mcp list|import|remove`.

Rules are for all projects unless --project names one, and for every role
unless --role names one (see app/tools/settings.py). `tools list` starts the
configured MCP servers to list their tools, each with a short time limit; a
server that does not answer is one line on stderr. `grant` and `revoke`
change which tools a role may call at all (its list in roster.json, what
Settings › Agents edits); a rule only matters for a tool the role has.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import sys
from collections.abc import Callable
from pathlib import Path

from agents.plan.roster import Role
from agents.tools.base import Permission, Tool
from agents.tools.builtin import builtin_tools
from agents.tools.mcp_client import McpConfigError, McpServerConfig, qualified_tool_name
from app.roster_store import (
    grant_tools,
    load_user_roster,
    read_user_roster,
    revoke_tools,
    save_user_roster,
)
from app.tools.mcp_config import import_servers, load_servers, save_servers
from app.tools.mcp_probe import Probe, probe_server
from app.tools.run_tools import list_tools, server_of, servers_named
from app.tools.settings import load_policies, save_policies

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
LIST_WAIT = 10.0
"""Seconds each MCP server gets to start and list its tools for `tools list`."""


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tools = sub.add_parser("tools", help="list tools and set who may run them (ask/allow/deny)")
    verbs = tools.add_subparsers(dest="verb", required=True, parser_class=type(tools))
    listing = verbs.add_parser("list", help="every tool, its risk, source and permission")
    _scope_options(listing)
    listing.add_argument("--json", action="store_true")
    for verb, text in (("allow", "run without asking"), ("deny", "refuse every call"),
                       ("ask", "ask the person before each call"),
                       ("reset", "remove the rule (the default applies again)")):
        rule = verbs.add_parser(verb, help=f"{text}: for all projects, or --project, --role")
        rule.add_argument("tool")
        _scope_options(rule)
    for verb, text in (("grant", "let a role call these tools (mcp__SERVER__* for all of a server's)"),
                       ("revoke", "take these tools from a role")):
        change = verbs.add_parser(verb, help=text)
        change.add_argument("tools", nargs="+", metavar="TOOL")
        change.add_argument("--role", required=True, help="the role (see Settings › Agents)")

    mcp = sub.add_parser("mcp", help="list, import or remove MCP servers")
    mcp_verbs = mcp.add_subparsers(dest="verb", required=True, parser_class=type(mcp))
    mcp_list = mcp_verbs.add_parser("list", help="configured servers (never their env values)")
    mcp_list.add_argument("--json", action="store_true")
    imported = mcp_verbs.add_parser("import", help='add the servers of an "mcpServers" JSON file')
    imported.add_argument("file", type=Path)
    removed = mcp_verbs.add_parser("remove", help="remove a server")
    removed.add_argument("name")


def _scope_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", help="only this project (default: all projects)")
    parser.add_argument("--role", help="only this role (default: every role)")


class _Refused(Exception):
    """Bad input for a tools command: one line for stderr, exit 2."""


def cmd_tools(args: argparse.Namespace) -> int:
    try:
        if args.verb in ("grant", "revoke"):
            return _change_role_tools(args)
        if args.role is not None and args.role not in load_user_roster():
            return _bad(f"no role named {args.role!r} in the roster")
        if args.verb == "list":
            return _list_tools(args)
        return _set_rule(args)
    except _Refused as exc:
        return _bad(str(exc))


def cmd_mcp(args: argparse.Namespace) -> int:
    verbs: dict[str, Callable[[argparse.Namespace], int]] = {
        "list": _list_servers, "import": _import, "remove": _remove}
    try:
        return verbs[args.verb](args)
    except McpConfigError as exc:
        return _bad(str(exc))


# --- tools ------------------------------------------------------------------------------


def _list_tools(args: argparse.Namespace) -> int:
    servers = _servers_or_none()
    if servers is None:
        return EXIT_BAD_INPUT
    role = load_user_roster().get(args.role) if args.role is not None else None
    if role is not None:  # only the servers the role uses, and only its tools
        servers = servers_named(servers, set(role.tools))
    tools, problems = asyncio.run(list_tools(servers, LIST_WAIT))
    for problem in problems:
        print(f"troupe: {problem}", file=sys.stderr)
    policy = load_policies().policy(args.project)
    rows = [{"name": t.name, "risk": t.risk.value, "source": _source(t, servers),
             "permission": policy.permission(t, args.role or "").value} for t in tools]
    if role is not None:
        rows = _role_rows(role, rows)
    if args.json:
        print(json.dumps(rows, indent=2))
    for r in [] if args.json else rows:
        print(f"{r['name']:<36} {r['risk']:<8} {r['source']:<20} {r['permission']}")
    return EXIT_OK


def _role_rows(role: Role, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows of the role's tools, in its order; one it has but nothing offers now says so."""
    by_name = {r["name"]: r for r in rows}
    missing = {"risk": "-", "source": "unavailable", "permission": "-"}
    return [by_name.get(t) or {"name": t, **missing} for t in role.tools]


def _source(tool: Tool, servers: list[McpServerConfig]) -> str:
    if not tool.is_mcp:
        return "builtin"
    server = next((s.name for s in servers if tool.name.startswith(qualified_tool_name(s.name, ""))), "?")
    return f"mcp:{server}"


def _set_rule(args: argparse.Namespace) -> int:
    servers = _servers_or_none()
    if servers is None:
        return EXIT_BAD_INPUT
    if not _known(args.tool, servers):
        return _bad(f"no tool named {args.tool!r}; see `troupe tools list`")
    permission = None if args.verb == "reset" else Permission(args.verb)
    if args.role is not None and permission in (Permission.ALLOW, Permission.ASK) \
            and args.tool not in load_user_roster().get(args.role).tools:
        return _bad(f"role {args.role!r} does not have the tool {args.tool!r}, so a rule would change "
                    f"nothing; give it first: `troupe tools grant {args.tool} --role {args.role}`")
    save_policies(load_policies().set(args.tool, permission, project=args.project, role=args.role))
    where = f"project {args.project!r}" if args.project else "all projects"
    who = f"role {args.role!r}" if args.role else "every role"
    print(f"{args.tool}: {permission.value if permission else 'default'} for {who} in {where}")
    return EXIT_OK


def _known(name: str, servers: list[McpServerConfig]) -> bool:
    """A built-in, or named like a tool of a configured server (no server is started)."""
    if any(t.name == name for t in builtin_tools()):
        return True
    return any(name.startswith(qualified_tool_name(s.name, "")) and len(name) > len(
        qualified_tool_name(s.name, "")) for s in servers)


def _servers_or_none() -> list[McpServerConfig] | None:
    try:
        return load_servers()
    except McpConfigError as exc:
        _bad(str(exc))
        return None


# --- a role's tools (grant / revoke) ------------------------------------------------------


def _change_role_tools(args: argparse.Namespace) -> int:
    loaded = read_user_roster()
    if loaded.warning:  # never overwrite a file the person has to fix
        raise _Refused(loaded.warning)
    if args.role not in loaded.roster:
        raise _Refused(f"no role named {args.role!r} in the roster")
    role = loaded.roster.get(args.role)
    if args.verb == "revoke":
        names = _owned(role, args.tools)
        save_user_roster(revoke_tools(loaded.roster, role.name, names))
        print(f"role {role.name} may no longer call: {', '.join(names)}")
        return EXIT_OK
    names = _grantable(args.tools)
    save_user_roster(grant_tools(loaded.roster, role.name, names))
    print(f"role {role.name} may now call: {', '.join(names)}"
          + ("; MCP tools ask before each call unless a rule allows them"
             if any(n.startswith("mcp__") for n in names) else ""))
    return EXIT_OK


def _owned(role: Role, patterns: list[str]) -> list[str]:
    """The role's tools matching the patterns; _Refused if one matches none."""
    names: list[str] = []
    for pattern in patterns:
        found = fnmatch.filter(role.tools, pattern)
        if not found:
            raise _Refused(f"role {role.name!r} has no tool {pattern!r}; it has: "
                           f"{', '.join(role.tools) or 'none'}")
        names += found
    return list(dict.fromkeys(names))


def _grantable(patterns: list[str]) -> list[str]:
    """Built-in names, and MCP names (or mcp__SERVER__* patterns) checked against their servers."""
    servers = _servers_or_none()
    if servers is None:
        raise _Refused("the MCP servers file must be fixed first")
    builtins = {t.name for t in builtin_tools()}
    for pattern in patterns:
        if pattern not in builtins and not server_of(servers, pattern):
            raise _Refused(f"no tool named {pattern!r}; see `troupe tools list`")
    probes = _probe(servers_named(servers, set(patterns) - builtins))
    names: list[str] = []
    for pattern in patterns:
        names += [pattern] if pattern in builtins else _match_mcp(pattern, probes[server_of(servers, pattern)])
    return list(dict.fromkeys(names))


def _probe(servers: list[McpServerConfig]) -> dict[str, Probe]:
    """Start these servers (at once, each for at most LIST_WAIT s) to see their tools."""
    async def all_of() -> list[Probe]:
        return await asyncio.gather(*(probe_server(s, LIST_WAIT) for s in servers))
    return {p.server: p for p in asyncio.run(all_of())} if servers else {}


def _match_mcp(pattern: str, probe: Probe) -> list[str]:
    if probe.error:
        reason = probe.error.splitlines()[0]
        if any(c in pattern for c in "*?["):
            raise _Refused(f"cannot expand {pattern!r}: {reason}")
        print(f"troupe: {pattern} granted without checking it: {reason}", file=sys.stderr)
        return [pattern]
    if pattern in probe.left_out:
        raise _Refused(f"{pattern} cannot be used: {probe.left_out[pattern]}")
    offered = [t.name for t in probe.tools]
    found = fnmatch.filter(offered, pattern)
    if not found:
        raise _Refused(f"MCP server {probe.server!r} has no tool {pattern!r}; "
                       f"it has: {', '.join(offered) or 'none'}")
    return found


# --- MCP servers ------------------------------------------------------------------------


def _list_servers(args: argparse.Namespace) -> int:
    rows = [_server_row(s) for s in load_servers()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no MCP servers configured; add some with `troupe mcp import FILE`", file=sys.stderr)
    for r in rows:
        secret_names = ", ".join([*r["env"], *r["headers"]])  # type: ignore[misc]
        print(f"{r['name']:<16} {r['transport']:<6} {r['target']}"
              + (f"  (env/headers: {secret_names})" if secret_names else ""))
    return EXIT_OK


def _server_row(server: McpServerConfig) -> dict[str, object]:
    # env and headers may hold keys: their names only, never their values
    target = " ".join([server.command, *server.args]) if server.transport == "stdio" else server.url
    return {"name": server.name, "transport": server.transport, "target": target,
            "env": sorted(server.env), "headers": sorted(server.headers)}


def _import(args: argparse.Namespace) -> int:
    done = import_servers(args.file)
    for reason in done.skipped:
        print(f"troupe: skipped {reason}", file=sys.stderr)
    print(f"imported {', '.join(done.added)} from {args.file}; MCP servers now: "
          f"{', '.join(s.name for s in done.servers)}")
    print("give a role their tools with `troupe tools grant 'mcp__SERVER__*' --role ROLE`")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    servers = load_servers()
    kept = [s for s in servers if s.name != args.name]
    if len(kept) == len(servers):
        return _bad(f"no MCP server named {args.name!r}; see `troupe mcp list`")
    save_servers(kept)
    print(f"removed MCP server {args.name}")
    return EXIT_OK


def _bad(message: str) -> int:
    print(f"troupe: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
