"""MCP servers as tool providers, over the official `mcp` SDK.

    TroupeError
    └── McpError                a server could not start, crashed, hung or refused
        ├── McpConfigError      an `mcpServers` entry is malformed
        └── McpToolError        the tool ran and reported an error (`isError`)

`McpServerConfig` is one server (stdio command, streamable-HTTP or SSE URL);
`read_mcp_servers` reads the `{"mcpServers": {...}}` JSON of Claude Desktop
and Cursor, keeping what it can and naming what it skipped; `parse_mcp_servers`
accepts only a file with nothing to skip. `McpConnection` starts its server on first use, and one runner
task owns the SDK's context managers from open to close, because anyio's
cancel scopes must be entered and exited in the same task. Requests are made
from any task and raced against the server's death and the timeout, so a dead
or silent server gives an `McpError`, never a stuck run. `McpManager` holds
several connections and names their tools `mcp__<server>__<tool>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from agents.errors import TroupeError

__all__ = [
    "McpConfigError",
    "McpConnection",
    "McpError",
    "McpManager",
    "McpServerConfig",
    "McpTool",
    "McpToolError",
    "Progress",
    "ProgressFn",
    "mcp_servers_to_json",
    "parse_mcp_servers",
    "qualified_tool_name",
    "read_mcp_servers",
    "server_env",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
Transport = Literal["stdio", "http", "sse"]
DEFAULT_TIMEOUT = 60.0
DEFAULT_CALL_LIMIT = 600.0  # a call that keeps reporting progress may go on this long
DEFAULT_START_TIMEOUT = 30.0  # npx/uvx may download the server first
_CLOSE_GRACE = 5.0  # seconds the SDK gets to stop a server before we cancel it
_STDERR_TAIL_LINES = 8


class McpError(TroupeError):
    """An MCP server failed: it did not start, exited, timed out or refused."""


class McpConfigError(McpError):
    """MCP server settings are malformed; `problems` names every one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class McpToolError(McpError):
    """The tool ran and answered with an error (meant for the model to read)."""


# --- configuration ---------------------------------------------------------------


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server, as configured in settings or imported from `mcpServers`."""

    name: str
    """The key in `mcpServers`; the middle part of its tools' names."""
    transport: Transport = "stdio"
    """"stdio" (a child process), "http" (streamable HTTP) or "sse" (the older HTTP+SSE)."""
    command: str = ""
    """stdio: the program to start."""
    args: tuple[str, ...] = ()
    """stdio: its arguments."""
    env: Mapping[str, str] = field(default_factory=dict)
    """stdio: extra environment variables (may hold keys: never logged)."""
    url: str = ""
    """http, sse: the MCP endpoint."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """http, sse: extra request headers (may hold keys: never logged)."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds to wait for each answer, or for the next progress report of a tool call."""
    call_limit: float = DEFAULT_CALL_LIMIT
    """Seconds a tool call that keeps reporting progress may take in all."""
    start_timeout: float = DEFAULT_START_TIMEOUT
    """Seconds to wait for the server to start and introduce itself."""

    def __repr__(self) -> str:
        # env and headers often carry API keys: show names, never values
        where = f"{self.command} {' '.join(self.args)}".strip() if self.transport == "stdio" else self.url
        return (
            f"McpServerConfig({self.name!r}, {self.transport}, {where!r}, "
            f"env={sorted(self.env)}, headers={sorted(self.headers)}, "
            f"timeout={self.timeout}, start_timeout={self.start_timeout})"
        )


def parse_mcp_servers(data: str | bytes | Mapping[str, Any]) -> list[McpServerConfig]:
    """Read `{"mcpServers": {name: {command, args, env} | {url, headers}}}`.

    Raises McpConfigError naming every malformed entry.
    """
    configs, problems = read_mcp_servers(data)
    if problems:
        raise McpConfigError(problems)
    return configs


def read_mcp_servers(data: str | bytes | Mapping[str, Any]) -> tuple[list[McpServerConfig], list[str]]:
    """The entries that can be used, and one line per skipped entry saying why.

    Raises McpConfigError only when the document itself is not an `mcpServers` file.
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise McpConfigError([f"not valid JSON: {exc}"]) from None
    servers = data.get("mcpServers") if isinstance(data, Mapping) else None
    if not isinstance(servers, Mapping):
        raise McpConfigError(['expected a JSON object with an "mcpServers" object'])
    configs, problems = [], []
    for name, entry in servers.items():
        config, errors = _parse_entry(str(name), entry)
        problems += [f"server {name!r}: {e}" for e in errors]
        if config is not None:
            configs.append(config)
    return configs, problems


def _parse_entry(name: str, entry: Any) -> tuple[McpServerConfig | None, list[str]]:
    if not name.strip():
        return None, ["the name is empty"]
    if not isinstance(entry, Mapping):
        return None, ["expected an object with a command or a url"]
    errors: list[str] = []
    timeout = _number(entry.get("timeout", DEFAULT_TIMEOUT), "timeout", errors)
    start = _number(entry.get("startTimeout", DEFAULT_START_TIMEOUT), "startTimeout", errors)
    limit = _number(entry.get("callLimit", DEFAULT_CALL_LIMIT), "callLimit", errors)
    kind = str(entry.get("type", entry.get("transport", ""))).lower()
    if kind not in _KINDS:
        return None, [f'unknown "type" {kind!r} (stdio, http, streamable-http or sse)']
    if kind == "sse" and "url" not in entry:
        return None, ['"type": "sse" needs a url']
    if "command" in entry and "url" in entry:
        return None, ["has both a command and a url; give one"]
    if "command" in entry:
        config = McpServerConfig(
            name, "stdio", _text(entry["command"], "command", errors),
            args=tuple(_strings(entry.get("args", []), "args", errors)),
            env=_string_map(entry.get("env", {}), "env", errors),
            timeout=timeout, start_timeout=start, call_limit=limit,
        )
    elif "url" in entry:
        url = _text(entry["url"], "url", errors)
        if url and not url.startswith(("http://", "https://")):
            errors.append(f"url must start with http:// or https:// (got {url!r})")
        config = McpServerConfig(
            name, "sse" if kind == "sse" else "http", url=url,
            headers=_string_map(entry.get("headers", {}), "headers", errors),
            timeout=timeout, start_timeout=start, call_limit=limit,
        )
    else:
        return None, ["has neither a command (stdio) nor a url (streamable HTTP or SSE)"]
    return (None if errors else config), errors


_KINDS = {"", "stdio", "http", "streamable-http", "streamable_http", "streamablehttp", "sse"}
"""The "type"s other apps write (Cursor: "streamable-http"; VS Code: "http", "sse")."""


def _text(value: Any, key: str, errors: list[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{key} must be a non-empty string")
        return ""
    return value.strip()


def _strings(value: Any, key: str, errors: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"{key} must be a list of strings")
        return []
    return list(value)


def _string_map(value: Any, key: str, errors: list[str]) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        errors.append(f"{key} must be an object of strings")
        return {}
    return {str(k): v for k, v in value.items()}


def _number(value: Any, key: str, errors: list[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        errors.append(f"{key} must be a positive number of seconds")
        return DEFAULT_TIMEOUT
    return float(value)


def mcp_servers_to_json(configs: Iterable[McpServerConfig]) -> dict[str, Any]:
    """The `mcpServers` document for these servers (what parse_mcp_servers reads)."""
    servers: dict[str, Any] = {}
    for c in configs:
        if c.transport == "stdio":
            entry: dict[str, Any] = {"command": c.command, "args": list(c.args)}
            if c.env:
                entry["env"] = dict(c.env)
        else:
            entry = {"type": c.transport, "url": c.url}
            if c.headers:
                entry["headers"] = dict(c.headers)
        if c.timeout != DEFAULT_TIMEOUT:
            entry["timeout"] = c.timeout
        if c.start_timeout != DEFAULT_START_TIMEOUT:
            entry["startTimeout"] = c.start_timeout
        if c.call_limit != DEFAULT_CALL_LIMIT:
            entry["callLimit"] = c.call_limit
        servers[c.name] = entry
    return {"mcpServers": servers}


# --- one connection ---------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """One progress report of a running tool call."""

    done: float
    """How far it is (the server's own unit)."""
    total: float | None = None
    """Where it ends, when the server knows."""
    message: str = ""

    def describe(self) -> str:
        """"step 3 (40%)", "step 3", "40%" or "3"."""
        share = f"{self.done / self.total:.0%}" if self.total else ""
        if self.message:
            return f"{self.message} ({share})" if share else self.message
        return share or f"{self.done:g}"


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class McpTool:
    """A tool one MCP server offers."""

    server: str
    name: str
    """The server's own name for it."""
    qualified_name: str
    """`mcp__<server>__<tool>`, safe as a function name for every provider."""
    description: str
    parameters: dict[str, Any]
    """The tool's inputSchema (a JSON schema object)."""
    read_only: bool = False
    """The server says the tool changes nothing (its readOnlyHint)."""
    task_only: bool = False
    """It runs only as a task of the protocol's task feature (execution.taskSupport "required")."""


TASK_ONLY = 'it runs only as an MCP task (execution.taskSupport "required"), which Troupe does not support'
"""Why a task-only tool is left out."""


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def qualified_tool_name(server: str, tool: str) -> str:
    """`mcp__<server>__<tool>`, reduced to [A-Za-z0-9_-] and at most 64 characters."""
    name = f"mcp__{_UNSAFE.sub('_', server)}__{_UNSAFE.sub('_', tool)}"
    if len(name) <= 64:
        return name
    digest = hashlib.sha1(f"{server}\0{tool}".encode()).hexdigest()[:8]
    return f"{name[:55]}_{digest}"


class _Generation:
    """One start of a server: its runner task, session and stderr file."""

    def __init__(self) -> None:
        self.ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.stop = asyncio.Event()
        self.dead = asyncio.Event()
        self.failure: BaseException | None = None
        self.session: Any = None
        self.task: asyncio.Task[None] | None = None
        self.stderr_path: Path | None = None
        self.stderr_tail = ""


class McpConnection:
    """One MCP server; started on first use, restarted after it died."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.transport: Transport = config.transport
        """The transport in use: an "http" URL ending in /sse may turn out to be "sse"."""
        self._gen: _Generation | None = None
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._gen is not None and not self._gen.dead.is_set()

    async def list_tools(self) -> list[McpTool]:
        """The server's tools (all pages)."""
        result: list[McpTool] = []
        cursor: str | None = None
        while True:
            page = await self._list_page(cursor)
            result += [self._tool(t) for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                return result

    async def _list_page(self, cursor: str | None) -> Any:
        params = _page(cursor)
        return await self._request(lambda s, _: s.list_tools(params=params), "list tools")

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None,
                        on_progress: ProgressFn | None = None) -> str:
        """Call a tool; its text, or McpToolError if the tool reported an error.

        Each progress report the server sends goes to `on_progress` and
        restarts the timeout (up to the call limit).
        """
        result = await self._request(
            lambda s, heard: s.call_tool(name, dict(arguments or {}), progress_callback=heard),
            f"call {name!r}", on_progress,
        )
        text = result_text(result)
        if result.is_error:
            raise McpToolError(text or f"{name} failed without saying why")
        return text

    async def close(self) -> None:
        """Stop the server (if started) and wait until it is gone."""
        async with self._lock:
            gen, self._gen = self._gen, None
            if gen is not None:
                await _retire(gen)

    def _tool(self, tool: Any) -> McpTool:
        annotations = getattr(tool, "annotations", None)
        return McpTool(
            server=self.config.name, name=tool.name,
            qualified_name=qualified_tool_name(self.config.name, tool.name),
            description=tool.description or tool.title or tool.name,
            parameters=dict(tool.input_schema or {"type": "object", "properties": {}}),
            read_only=bool(annotations and annotations.read_only_hint),
            task_only=_task_only(tool),
        )

    # --- requests, raced against death and the clock ---

    async def _request(self, send: Callable[[Any, Any], Awaitable[T]], what: str,
                       on_progress: ProgressFn | None = None) -> T:
        """`send(session, progress_callback)`, raced against the server's death and the timeout."""
        gen = await self._started()
        heard = asyncio.Event()

        async def progress(done: float, total: float | None, message: str | None) -> None:
            heard.set()
            if on_progress is not None:
                on_progress(Progress(done, total, message or ""))

        call = asyncio.ensure_future(send(gen.session, progress))
        death = asyncio.ensure_future(gen.dead.wait())
        try:
            over = await self._await_quietly_bounded(call, death, heard)
        finally:
            death.cancel()
            if not call.done():
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)
        if call.done() and not call.cancelled():
            return await self._outcome(gen, call, what)
        if gen.dead.is_set():
            raise await self._died(gen, f"exited during {what}")
        name, c = self.config.name, self.config
        if over:
            raise McpError(f"MCP server {name!r} did not finish {what} within {c.call_limit:g} s "
                           "(its call limit), though it kept reporting progress")
        raise McpError(f"MCP server {name!r} did not answer {what} within {c.timeout:g} s")

    async def _await_quietly_bounded(self, call: asyncio.Future[Any], death: asyncio.Future[Any],
                                     heard: asyncio.Event) -> bool:
        """Wait for the call or the death; each progress report restarts the timeout, up to
        the call limit. True when the call limit (not the timeout) ran out."""
        loop = asyncio.get_running_loop()
        end = loop.time() + max(self.config.call_limit, self.config.timeout)
        while True:
            heard.clear()
            beat = asyncio.ensure_future(heard.wait())
            left = end - loop.time()
            try:
                done, _ = await asyncio.wait({call, death, beat}, timeout=min(self.config.timeout, left),
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                beat.cancel()
            if call in done or death in done:
                return False
            if beat not in done:  # silent for the whole timeout, or the limit reached
                return left <= self.config.timeout
            if end - loop.time() <= 0:
                return True

    async def _outcome(self, gen: _Generation, call: asyncio.Future[T], what: str) -> T:
        import anyio
        from mcp.shared.exceptions import MCPError
        from mcp_types import CONNECTION_CLOSED

        exc = call.exception()
        if exc is None:
            return call.result()
        closed = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError)
        if isinstance(exc, closed) or (isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED):
            raise await self._died(gen, f"closed the connection during {what}")
        if isinstance(exc, MCPError):
            raise McpError(f"MCP server {self.config.name!r} refused to {what}: {exc.message}")
        raise McpError(f"MCP server {self.config.name!r}: could not {what}: {_describe(exc)}") from exc

    async def _died(self, gen: _Generation, what: str) -> McpError:
        """Forget this generation (the next request restarts) and describe its end."""
        async with self._lock:
            if self._gen is gen:
                self._gen = None
        await _retire(gen)
        return McpError(f"MCP server {self.config.name!r} {what}{_reason(gen)}")

    # --- starting and the runner task ---

    async def _started(self) -> _Generation:
        async with self._lock:
            if self._gen is None or self._gen.dead.is_set():
                self._gen = await self._start_any()
            return self._gen

    async def _start_any(self) -> _Generation:
        """Start; an HTTP URL ending in /sse that fails is tried once more as SSE."""
        try:
            return await self._start()
        except McpError as first:
            if not self._may_be_sse():
                raise
            self.transport = "sse"
            try:
                gen = await self._start()
            except McpError:
                self.transport = "http"
                raise McpError(f'{first}; this looks like an SSE server: set "type": "sse"') from None
            log.warning('MCP server %r speaks SSE, not streamable HTTP; set "type": "sse" in its entry',
                        self.config.name)
            return gen

    def _may_be_sse(self) -> bool:
        path = urlsplit(self.config.url).path.rstrip("/")
        return self.transport == "http" and path.endswith("/sse")

    async def _start(self) -> _Generation:
        gen = _Generation()
        gen.task = asyncio.create_task(self._run(gen), name=f"mcp:{self.config.name}")
        limit = self.config.start_timeout
        try:
            done, _ = await asyncio.wait({gen.ready}, timeout=limit)
        except BaseException:  # cancelled while starting: the server must not outlive us
            await asyncio.shield(_retire(gen))
            raise
        if gen.ready in done and gen.ready.exception() is None:
            return gen
        why = "did not start" if done else f"did not start within {limit:g} s"
        await _retire(gen)
        raise McpError(f"MCP server {self.config.name!r} {why}{_reason(gen)}")

    async def _run(self, gen: _Generation) -> None:
        """Owns the transport and session from open to close (anyio needs one task)."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                gen.session = await self._open(stack, gen)
                gen.ready.set_result(None)
                await gen.stop.wait()
        except BaseException as exc:  # the server's death, reported to whoever waits
            gen.failure = exc
            if not gen.ready.done():
                gen.ready.set_exception(McpError(str(exc)))
                gen.ready.exception()  # retrieved: _start reports it
            if isinstance(exc, asyncio.CancelledError) and gen.stop.is_set():
                return  # our own close
        finally:
            gen.dead.set()

    async def _open(self, stack: contextlib.AsyncExitStack, gen: _Generation) -> Any:
        from mcp.client.session import ClientSession

        read, write = await self._transport(stack, gen)
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        return session

    async def _transport(self, stack: contextlib.AsyncExitStack, gen: _Generation) -> Any:
        c = self.config
        if self.transport == "sse":
            from mcp.client.sse import sse_client

            # our own race enforces c.timeout; the SDK's long read timeout keeps the stream open
            return await stack.enter_async_context(
                sse_client(c.url, headers=dict(c.headers), timeout=30, sse_read_timeout=300)
            )
        if self.transport == "http":
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            # our own race enforces c.timeout; the SDK's long read timeout keeps streams open
            client = await stack.enter_async_context(
                httpx2.AsyncClient(headers=dict(c.headers), timeout=httpx2.Timeout(30, read=300))
            )
            return await stack.enter_async_context(streamable_http_client(c.url, http_client=client))
        from mcp.client.stdio import StdioServerParameters, stdio_client

        fd, name = tempfile.mkstemp(prefix=f"mcp-{_UNSAFE.sub('_', c.name)}-", suffix=".log")
        gen.stderr_path = Path(name)
        errlog = stack.enter_context(os.fdopen(fd, "w", encoding="utf-8"))
        params = StdioServerParameters(command=c.command, args=list(c.args), env=server_env(c))
        return await stack.enter_async_context(stdio_client(params, errlog=errlog))


def _task_only(tool: Any) -> bool:
    execution = getattr(tool, "execution", None)
    return getattr(execution, "task_support", None) == "required"


PROXY_VARIABLES = tuple(n for v in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
                        for n in (v, v.lower()))
"""The proxy settings Troupe itself honours (from the environment), passed on to stdio servers."""


def server_env(config: McpServerConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a stdio server gets on top of the SDK's allow-list (HOME, PATH, USER, ...):
    Troupe's proxy settings, then the server's own env. Named one by one, so no key
    or token of Troupe's environment goes along."""
    source = os.environ if environ is None else environ
    return {**{n: source[n] for n in PROXY_VARIABLES if source.get(n)}, **config.env}


def _page(cursor: str | None) -> Any:
    from mcp_types import PaginatedRequestParams

    return PaginatedRequestParams(cursor=cursor) if cursor else None


async def _retire(gen: _Generation) -> None:
    """Ask the runner to close; cancel it if the SDK does not finish in time."""
    gen.stop.set()
    task = gen.task
    if task is not None and not task.done():
        # a runner still starting is not listening for stop: cancel it at once
        started = gen.ready.done() and not gen.ready.exception()
        _, pending = await asyncio.wait({task}, timeout=_CLOSE_GRACE if started else 0)
        if pending:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    _drop_stderr_file(gen)


def _drop_stderr_file(gen: _Generation) -> None:
    if gen.stderr_path is not None:
        gen.stderr_tail = _tail(gen.stderr_path)
        gen.stderr_path.unlink(missing_ok=True)
        gen.stderr_path = None


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(line.rstrip() for line in lines[-_STDERR_TAIL_LINES:] if line.strip())


def _reason(gen: _Generation) -> str:
    """': <cause>' plus the last lines of the server's stderr, when known."""
    parts = []
    cause = _describe(gen.failure) if gen.failure is not None else ""
    if cause:
        parts.append(f": {cause}")
    tail = gen.stderr_tail or (_tail(gen.stderr_path) if gen.stderr_path else "")
    if tail:
        parts.append(f"\nlast lines of its stderr:\n{tail}")
    return "".join(parts)


def _describe(exc: BaseException) -> str:
    """The innermost useful message of an exception (groups and cancels unwrapped)."""
    if isinstance(exc, BaseExceptionGroup):
        inner = [_describe(e) for e in exc.exceptions]
        return "; ".join(dict.fromkeys(m for m in inner if m))
    if isinstance(exc, asyncio.CancelledError):
        return ""
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def result_text(result: Any) -> str:
    """A CallToolResult as text: text parts joined, other parts described."""
    parts = [_part_text(p) for p in result.content]
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


def _part_text(part: Any) -> str:
    kind = getattr(part, "type", "")
    if kind == "text":
        return part.text
    if kind in ("image", "audio"):
        return f"[{kind} {part.mime_type}, {len(part.data) * 3 // 4} bytes]"
    if kind == "resource_link":
        return f"[resource {part.uri}]"
    if kind == "resource":
        res = part.resource
        text = getattr(res, "text", None)
        return text if text is not None else f"[resource {res.uri}, {res.mime_type or 'binary'}]"
    return f"[{kind or 'unknown'} content]"


# --- several servers --------------------------------------------------------------


class McpManager:
    """Several MCP servers; their tools, named `mcp__<server>__<tool>`."""

    def __init__(self, configs: Iterable[McpServerConfig]) -> None:
        self.connections = {c.name: McpConnection(c) for c in configs}
        self._tools: dict[str, McpTool] = {}
        self.failures: dict[str, McpError] = {}
        """Servers whose tools could not be listed, by name (last list_tools)."""
        self.left_out: dict[str, str] = {}
        """Tools listed but never offered (they could not run), by qualified name: why."""

    async def list_tools(self) -> list[McpTool]:
        """Start every server and list its tools; a failing server is left out
        (and recorded in `failures`) so one broken server does not stop a run."""
        names = list(self.connections)
        results = await asyncio.gather(
            *(self.connections[n].list_tools() for n in names), return_exceptions=True
        )
        self.failures, tools = {}, []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, McpError):
                self.failures[name] = result
            elif isinstance(result, BaseException):
                raise result
            else:
                tools += result
        # offered to the model they could only fail: a task-only tool refuses a plain call
        self.left_out = {t.qualified_name: TASK_ONLY for t in tools if t.task_only}
        tools = [t for t in tools if not t.task_only]
        self._tools = {t.qualified_name: t for t in tools}
        return tools

    async def call(self, qualified_name: str, arguments: Mapping[str, Any] | None = None,
                   on_progress: ProgressFn | None = None) -> str:
        tool = self._tools.get(qualified_name)
        if tool is None:
            raise McpError(f"no MCP tool named {qualified_name!r} (list the tools first)")
        return await self.connections[tool.server].call_tool(tool.name, arguments, on_progress)

    async def close_all(self) -> None:
        """Stop every server that was started."""
        await asyncio.gather(*(c.close() for c in self.connections.values()))
