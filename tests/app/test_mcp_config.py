"""MCP servers stored in the data dir, and imported from another app's file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from agents.tools.mcp_client import McpConfigError, McpServerConfig
from app.tools.mcp_config import import_servers, load_servers, save_servers, servers_path

CLAUDE = {
    "mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time"]},
        "github": {"command": "docker", "args": ["run", "-i", "ghcr.io/github/github-mcp-server"],
                   "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_secret"}},
    }
}


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_no_file_means_no_servers(troupe_home: Path) -> None:
    assert servers_path() == troupe_home / "mcp_servers.json"
    assert load_servers() == []


def test_save_and_load_round_trip_owner_only(troupe_home: Path) -> None:
    servers = [
        McpServerConfig("echo", command="python", args=("-m", "echo"), env={"K": "v"}, timeout=5),
        McpServerConfig("web", "http", url="http://127.0.0.1:8000/mcp", headers={"A": "b"},
                        start_timeout=9),
    ]
    path = save_servers(servers)
    assert load_servers() == servers
    assert json.loads(path.read_text())["mcpServers"]["web"]["type"] == "http"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in troupe_home.iterdir()] == ["mcp_servers.json"]  # no temp file left


def test_import_merges_and_replaces_same_names(tmp_path: Path) -> None:
    save_servers([McpServerConfig("time", command="old"), McpServerConfig("mine", command="x")])
    merged = import_servers(write(tmp_path / "claude_desktop_config.json", CLAUDE)).servers
    assert [s.name for s in merged] == ["mine", "time", "github"]
    assert load_servers() == merged
    assert {s.name: s.command for s in merged}["time"] == "uvx"
    assert merged[2].env == {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_secret"}


def test_malformed_import_names_the_file_and_writes_nothing(tmp_path: Path) -> None:
    save_servers([McpServerConfig("mine", command="x")])
    before = servers_path().read_text()
    bad = write(tmp_path / "bad.json", {"mcpServers": {"a": {"command": 3}, "b": {}}})
    with pytest.raises(McpConfigError) as caught:
        import_servers(bad)
    assert len(caught.value.problems) == 2
    assert all(p.startswith(f"{bad}: server ") for p in caught.value.problems)
    assert servers_path().read_text() == before


def test_unreadable_or_broken_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(McpConfigError, match="could not be read"):
        import_servers(tmp_path / "missing.json")
    write(servers_path(), "{oops")
    with pytest.raises(McpConfigError, match="mcp_servers.json: not valid JSON"):
        load_servers()


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(McpConfigError, match="two servers are named 'a'"):
        save_servers([McpServerConfig("a", command="x"), McpServerConfig("a", command="y")])
    assert not servers_path().exists()


def test_env_and_header_values_live_in_the_keychain_not_the_file(troupe_home, memory_keyring):
    from agents.tools.mcp_client import McpServerConfig
    from app.tools.mcp_config import IN_KEYCHAIN, load_servers, save_servers, servers_path

    secret = "sk-mcp-SECRET-0123456789"
    save_servers([McpServerConfig(name="search", command="x", env={"API_KEY": secret}),
                  McpServerConfig(name="web", transport="http", url="http://127.0.0.1:9/mcp",
                                  headers={"Authorization": f"Bearer {secret}"})])
    text = servers_path().read_text()
    assert secret not in text and text.count(IN_KEYCHAIN) == 2
    assert memory_keyring.passwords[("troupe", "mcp:search:env:API_KEY")] == secret
    search, web = load_servers()
    assert search.env == {"API_KEY": secret}
    assert web.headers == {"Authorization": f"Bearer {secret}"}
    save_servers([search, web])  # saving again keeps them (no placeholder stored as a value)
    assert load_servers()[0].env == {"API_KEY": secret}


def test_without_a_keychain_the_values_last_for_the_session(troupe_home, fail_keyring):
    from agents.tools.mcp_client import McpServerConfig
    from app.providers import secrets
    from app.tools.mcp_config import load_servers, save_servers, servers_path

    try:
        save_servers([McpServerConfig(name="s", command="x", env={"TOKEN": "tok-123"})])
        assert "tok-123" not in servers_path().read_text()
        assert load_servers()[0].env == {"TOKEN": "tok-123"}
    finally:
        secrets._session_keys.clear()
