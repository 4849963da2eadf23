"""The person's MCP servers: <data dir>/mcp_servers.json, in the `mcpServers` format.

The same format as Claude Desktop's and Cursor's config, so their file can be
imported as it is. Servers' env and headers may hold API keys: their values
go to the keychain (`mcp:<server>:env:<NAME>`, see app/providers/secrets.py) and the
file keeps only the names, with IN_KEYCHAIN as the value. The file is still
written readable by its owner only.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from agents.tools.mcp_client import (
    McpConfigError,
    McpServerConfig,
    mcp_servers_to_json,
    parse_mcp_servers,
    read_mcp_servers,
)
from app.paths import data_dir
from app.providers import secrets

IN_KEYCHAIN = "<in the keychain>"
"""What mcp_servers.json holds in place of an env or header value."""

__all__ = ["Imported", "import_servers", "load_servers", "read_servers_file", "save_servers", "servers_path"]


@dataclass(frozen=True)
class Imported:
    """What `import_servers` did."""

    servers: list[McpServerConfig]
    """Every server configured now (the kept ones and the imported ones)."""
    added: list[str]
    """The names of the servers taken from the file."""
    skipped: list[str]
    """One line per entry of the file that was left out, saying why."""


def servers_path() -> Path:
    """<data dir>/mcp_servers.json (it need not exist)."""
    return data_dir() / "mcp_servers.json"


def load_servers(path: Path | None = None) -> list[McpServerConfig]:
    """The configured servers; none when the file does not exist.

    Raises McpConfigError naming the file and every problem in it.
    """
    path = path or servers_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise McpConfigError([f"{path}: could not be read ({exc.strerror or exc})"]) from None
    return _parse_file(path, text)


def save_servers(servers: Iterable[McpServerConfig], path: Path | None = None) -> Path:
    """Write the servers atomically, readable by the owner only."""
    path = path or servers_path()
    servers = list(servers)
    _check_unique(servers)
    text = json.dumps(mcp_servers_to_json([_stash(s) for s in servers]), indent=2,
                      ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mcp_servers-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def import_servers(source: Path, path: Path | None = None) -> Imported:
    """Add the servers of another app's `mcpServers` file; a same-named one is replaced.

    Entries that cannot be used are skipped (and named, with why). Nothing is
    written, and McpConfigError raised, when the file is not an `mcpServers`
    file or none of its entries can be used.
    """
    found, skipped = read_servers_file(source)
    if not found:
        raise McpConfigError([f"{source}: {p}" for p in skipped] or [f"{source}: it lists no servers"])
    imported = {s.name: s for s in found}
    kept = [s for s in load_servers(path) if s.name not in imported]
    merged = kept + list(imported.values())
    save_servers(merged, path)
    return Imported(merged, list(imported), skipped)


def read_servers_file(source: Path) -> tuple[list[McpServerConfig], list[str]]:
    """Another app's `mcpServers` file: the servers that can be used, and one line per skipped entry.

    McpConfigError when the file cannot be read or is not an `mcpServers` file at all.
    """
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise McpConfigError([f"{source}: could not be read ({exc.strerror or exc})"]) from None
    try:
        found, skipped = read_mcp_servers(text)
    except McpConfigError as exc:
        raise McpConfigError([f"{source}: {p}" for p in exc.problems]) from None
    return [_unstash(s) for s in found], skipped


def _stash(server: McpServerConfig) -> McpServerConfig:
    """The server with its env and header values moved to the keychain."""
    return _map_values(server, _keep)


def _unstash(server: McpServerConfig) -> McpServerConfig:
    """The server with the keychain's values back in place of IN_KEYCHAIN."""
    return _map_values(server, _value)


def _map_values(server: McpServerConfig, change: Callable[[str, str], str]) -> McpServerConfig:
    """`change(keychain name, value)` applied to every env and header value."""
    env = {k: change(f"mcp:{server.name}:env:{k}", v) for k, v in server.env.items()}
    headers = {k: change(f"mcp:{server.name}:header:{k}", v) for k, v in server.headers.items()}
    return replace(server, env=env, headers=headers)


def _keep(name: str, value: str) -> str:
    if value != IN_KEYCHAIN:
        secrets.store_secret(name, value)
    return IN_KEYCHAIN


def _value(name: str, stored: str) -> str:
    if stored != IN_KEYCHAIN:
        return stored  # written by hand or by an older version
    return secrets.read_secret(name) or ""


def _parse_file(path: Path, text: str) -> list[McpServerConfig]:
    try:
        return [_unstash(s) for s in parse_mcp_servers(text)]
    except McpConfigError as exc:
        raise McpConfigError([f"{path}: {p}" for p in exc.problems]) from None


def _check_unique(servers: list[McpServerConfig]) -> None:
    names = [s.name for s in servers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise McpConfigError([f"two servers are named {n!r}" for n in twice])
