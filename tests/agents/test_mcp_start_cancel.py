"""A server still starting when its caller is cancelled is stopped, not left running."""

from __future__ import annotations

import asyncio
import time

from agents.tools.mcp_client import McpConnection
from tests.agents.test_mcp_client import child_pids, python_config


async def test_cancelled_while_starting_stops_the_server(tmp_path) -> None:
    started = tmp_path / "started"
    code = f"import time; open({str(started)!r}, 'w').close(); time.sleep(60)"
    before = child_pids()
    conn = McpConnection(python_config(code, start_timeout=30))
    listing = asyncio.ensure_future(conn.list_tools())
    deadline = time.monotonic() + 20
    while not started.exists():
        assert time.monotonic() < deadline, "the server never started"
        await asyncio.sleep(0.02)
    assert child_pids() - before  # the server is running
    listing.cancel()
    await asyncio.gather(listing, return_exceptions=True)
    assert listing.cancelled()
    assert child_pids() <= before
    await conn.close()
