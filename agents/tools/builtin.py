"""The tools every project has: files in its workspace, Python, a shell, the web,
and a search over the project's earlier outputs (`search_history`, the
name the roster and Settings use).

File tools are confined to `ctx.workspace`: absolute paths and `..` are
refused outright, and whatever is left must still resolve (symlinks followed)
inside the workspace. Python and the shell run in the workspace, in the
sandbox of `agents.tools.sandbox` where the machine has one, under resource
limits, with a scrubbed environment (`subprocess_env`): an allow-list of
harmless variables, HOME set to the workspace; no keys, tokens or proxies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import socket
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from agents.tools import sandbox
from agents.tools.base import Risk, Tool, ToolContext, ToolError, ToolRegistry

__all__ = ["SAFE_VARIABLES", "builtin_registry", "builtin_tools", "confine", "subprocess_env"]

_MAX_LISTED = 500


# --- the workspace ---------------------------------------------------------------


def confine(ctx: ToolContext, relative: Any) -> Path:
    """The path `relative` names inside the workspace, or ToolError."""
    if not isinstance(relative, str) or not relative.strip():
        raise ToolError("give a path relative to the workspace, e.g. \"notes/plan.md\"")
    pure = PurePath(relative)
    if pure.is_absolute() or relative.startswith(("/", "\\", "~")) or pure.drive:
        raise ToolError(f"{relative!r} is an absolute path; use a path inside the workspace")
    if ".." in pure.parts or ".." in Path(relative.replace("\\", "/")).parts:
        raise ToolError(f"{relative!r} leaves the workspace ('..' is not allowed)")
    root = ctx.workspace.resolve()
    target = (root / pure).resolve()
    if not target.is_relative_to(root):
        raise ToolError(f"{relative!r} leads outside the workspace (through a symlink)")
    return target


def _shown(ctx: ToolContext, path: Path) -> str:
    return path.relative_to(ctx.workspace.resolve()).as_posix() or "."


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... cut: {len(text) - limit} more characters]"


async def list_files(args: dict[str, Any], ctx: ToolContext) -> str:
    folder = confine(ctx, args.get("path") or ".")
    if not folder.is_dir():
        raise ToolError(f"{args.get('path')!r} is not a folder in the workspace")
    return await asyncio.to_thread(_listing, ctx, folder)


def _listing(ctx: ToolContext, folder: Path) -> str:
    lines: list[str] = []
    for parent, dirs, files in os.walk(folder):  # does not follow symlinked folders
        dirs.sort()
        base = Path(parent)
        lines += [_shown(ctx, base / d) + "/" for d in dirs]
        lines += [_shown(ctx, base / f) for f in sorted(files)]
        if len(lines) >= _MAX_LISTED:
            return "\n".join(sorted(lines)[:_MAX_LISTED]) + f"\n[... more than {_MAX_LISTED} entries]"
    return "\n".join(sorted(lines)) or "(the folder is empty)"


async def read_file(args: dict[str, Any], ctx: ToolContext) -> str:
    path = confine(ctx, args.get("path"))
    if not path.is_file():
        raise ToolError(f"no file {args.get('path')!r} in the workspace")
    data = await asyncio.to_thread(path.read_bytes)
    return _clip(data.decode("utf-8", errors="replace"), ctx.limits.max_output)


async def write_file(args: dict[str, Any], ctx: ToolContext) -> str:
    path = confine(ctx, args.get("path"))
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolError("content must be a string")
    if path.is_dir():
        raise ToolError(f"{args.get('path')!r} is a folder")

    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")

    await asyncio.to_thread(write)
    return f"wrote {len(content)} characters to {_shown(ctx, path)}"


# --- subprocesses -----------------------------------------------------------------


async def run_python(args: dict[str, Any], ctx: ToolContext) -> str:
    code = args.get("code")
    if not isinstance(code, str):
        raise ToolError("code must be a string")
    # -I: isolated (no user site, no PYTHON* variables, cwd not on sys.path)
    return await _run_process(sandbox.python_command(code), ctx)


async def run_shell(args: dict[str, Any], ctx: ToolContext) -> str:
    command = args.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ToolError("command must be a non-empty string")
    return await _run_process(["/bin/sh", "-c", command] if os.name == "posix" else command, ctx)


SAFE_VARIABLES = frozenset({
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "TEMP", "TMP", "USER", "LOGNAME", "USERNAME",
    "SHELL", "LD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR",
    # Windows: what Python and cmd.exe need to start at all
    "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "OS", "NUMBER_OF_PROCESSORS",
    "PROCESSOR_ARCHITECTURE",
})
"""What run_python and run_shell get of Troupe's environment (and LC_*), nothing else:
an allow-list, so keys, tokens, *_PROXY (which can hold a password), SSH_AUTH_SOCK and
the session bus (the keychain's way in) stay out whatever they are called."""


def subprocess_env(workspace: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a tool's subprocess: the allowed variables of `environ`
    (this process's by default), with HOME (and on Windows USERPROFILE) the workspace."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k in SAFE_VARIABLES or k.startswith("LC_")}
    env["HOME"] = str(workspace)
    if os.name == "nt":
        env["USERPROFILE"] = str(workspace)
    return env


async def _run_process(command: list[str] | str, ctx: ToolContext) -> str:
    """Run in the workspace, sandboxed where possible; stdout and stderr together,
    cut at the output limit."""
    ctx.workspace.mkdir(parents=True, exist_ok=True)
    spawn: dict[str, Any] = {
        "cwd": ctx.workspace, "env": subprocess_env(ctx.workspace.resolve()),
        "stdin": asyncio.subprocess.DEVNULL,
        "stdout": asyncio.subprocess.PIPE, "stderr": asyncio.subprocess.STDOUT,
    }
    if isinstance(command, str):  # Windows: no sandbox, no resource limits
        return await _finish(await asyncio.create_subprocess_shell(command, **spawn), ctx)
    spawn["start_new_session"] = True  # its own process group: a kill takes its children too
    limits = ctx.limits.code
    argv = sandbox.launch_command(command, ctx.workspace, limits, sandbox.detect())
    with sandbox.pids_cgroup(limits.processes) as procs:
        proc = await asyncio.create_subprocess_exec(*sandbox.joined(argv, procs), **spawn)
        try:
            return await _finish(proc, ctx)
        finally:
            _kill_group(proc)


async def _finish(proc: asyncio.subprocess.Process, ctx: ToolContext) -> str:
    limit = ctx.limits.max_output
    try:
        async with asyncio.timeout(ctx.limits.timeout):
            out, overflow, code = await _collect(proc, limit)
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        raise ToolError(f"stopped after {ctx.limits.timeout:g} s (time limit)") from None
    except BaseException:  # cancelled: leave nothing running
        _kill(proc)
        raise
    text = out.decode("utf-8", errors="replace")
    if overflow:
        return text + f"\n[... output cut at {limit} bytes; the process was stopped]"
    return f"{text}\n{_ending(code, ctx.limits.code)}" if code else (text or "(no output)")


async def _collect(proc: asyncio.subprocess.Process, limit: int) -> tuple[bytes, bool, int]:
    """Output (cut at `limit`), whether it was cut, and the exit code. When the process
    ends first, what it left in the background is stopped: it would hold the output open
    (and asyncio's wait() waits for the output to close)."""
    reading = asyncio.ensure_future(_read_capped(proc, limit))
    try:
        while not reading.done():
            await asyncio.wait({reading}, timeout=0.1)
            if proc.returncode is not None and not reading.done():
                _kill_group(proc)
                await asyncio.wait({reading}, timeout=0.1)
        out, overflow = reading.result()
    finally:
        reading.cancel()
    if overflow:
        _kill(proc)
        # read on to the end: a full buffer pauses the pipe, and asyncio's wait() waits for
        # the pipe to close, which it would then never see
        assert proc.stdout is not None
        while await proc.stdout.read(65536):
            pass
    return out, overflow, await proc.wait()


def _ending(code: int, limits: sandbox.CodeLimits) -> str:
    """How a process that did not succeed ended, in words (bwrap reports a signal as 128+n)."""
    number = -code if code < 0 else code - 128 if code > 128 else 0
    if number and number == getattr(signal, "SIGXCPU", None):
        return f"[stopped: CPU time limit ({limits.cpu_seconds} s) reached]"
    if number and number == getattr(signal, "SIGXFSZ", None):
        return f"[stopped: file size limit ({limits.file_size_mb} MB) reached]"
    if number == signal.SIGKILL:
        return "[stopped: killed (SIGKILL)]"
    return f"[exit code {code}]"


async def _read_capped(proc: asyncio.subprocess.Process, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of output; True when there was more."""
    assert proc.stdout is not None
    out = bytearray()
    while chunk := await proc.stdout.read(65536):
        out += chunk
        if len(out) > limit:
            return bytes(out[:limit]), True
    return bytes(out), False


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """Stop whatever is left of the process's group (it leads its own session)."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


# --- the web and the project ---------------------------------------------------------

_TEXTUAL = ("text/", "application/json", "application/xml", "application/xhtml", "+json", "+xml")
_REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5
PRIVATE_REFUSED = ("fetch_url does not reach loopback, private, link-local or multicast addresses "
                   "unless Settings allow private URLs (allow_private_urls)")


class PrivateAddress(ToolError):
    """A URL's host is (or resolves to) an address fetch_url may not reach."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        self.host, self.address, self.kind = host, address, kind
        where = address if host == address else f"{host} ({address})"
        super().__init__(f"{where} is a {kind} address; {PRIVATE_REFUSED}")


def address_kind(address: str) -> str:
    """"loopback", "private", ... for an address fetch_url must not reach; "" for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope id is not part of it
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip  # ::ffff:127.0.0.1 is 127.0.0.1
    for kind, hit in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                      ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
                      ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if hit:
            return kind
    return ""


def _check_address(host: str, address: str) -> None:
    kind = address_kind(address)
    if kind:
        raise PrivateAddress(host, address, kind)


def _guarded_resolver() -> Any:
    """An aiohttp resolver that refuses a host when any of its addresses is not public.

    The connection then uses exactly the addresses checked: a second lookup
    cannot swap in another (DNS rebinding)."""
    from aiohttp.abc import AbstractResolver  # noqa: PLC0415
    from aiohttp.resolver import DefaultResolver  # noqa: PLC0415

    class GuardedResolver(AbstractResolver):
        def __init__(self) -> None:
            self._inner = DefaultResolver()

        async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> Any:
            found = await self._inner.resolve(host, port, family)
            for entry in found:
                _check_address(host, entry["host"])
            return found

        async def close(self) -> None:
            await self._inner.close()

    return GuardedResolver()


def _check_literal(url: Any) -> None:
    """A URL naming an IP address directly (the resolver never sees those)."""
    host = (url.host or "").strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    _check_address(host, host)


async def fetch_url(args: dict[str, Any], ctx: ToolContext) -> str:
    import aiohttp  # noqa: PLC0415 - only when a tool fetches

    url = args.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ToolError("url must start with http:// or https://")
    timeout = aiohttp.ClientTimeout(total=ctx.limits.timeout)
    guarded = not ctx.allow_private_urls
    connector = aiohttp.TCPConnector(resolver=_guarded_resolver() if guarded else None, use_dns_cache=not guarded)
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            status, data = await _follow(session, url, ctx, guarded)
    except TimeoutError:
        raise ToolError(f"no answer from {url} within {ctx.limits.timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise ToolError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from None
    text = data[: ctx.limits.max_fetch_bytes].decode("utf-8", errors="replace")
    head = f"HTTP {status}\n" if status >= 400 else ""
    return _clip(head + text, ctx.limits.max_output)


async def _follow(session: Any, url: str, ctx: ToolContext, guarded: bool) -> tuple[int, bytes]:
    """(status, body) of `url`, following redirects by hand so each hop is checked."""
    from yarl import URL  # noqa: PLC0415 - comes with aiohttp

    hop = URL(url)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            if guarded:
                _check_literal(hop)
            async with session.get(hop, allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status in _REDIRECTS and location:
                    hop = response.url.join(URL(location))
                    if hop.scheme not in ("http", "https"):
                        raise ToolError(f"{url} redirects to {hop}, which is not http(s)")
                    continue
                kind = response.headers.get("Content-Type", "")
                if not any(t in kind for t in _TEXTUAL):
                    raise ToolError(f"{hop} is not text ({kind or 'no content type'})")
                return response.status, await response.content.read(ctx.limits.max_fetch_bytes + 1)
        except PrivateAddress as exc:
            if str(hop) == url:
                raise ToolError(f"refused: {exc}") from None
            raise ToolError(f"refused: {url} redirects to {hop}; {exc}") from None
    raise ToolError(f"{url}: more than {MAX_REDIRECTS} redirects")


async def search_history(args: dict[str, Any], ctx: ToolContext) -> str:
    query = args.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ToolError("query must be a non-empty string")
    if ctx.search is None:
        raise ToolError("searching earlier outputs is not available here")
    return _clip(await ctx.search(query), ctx.limits.max_output) or "(nothing found)"


# --- the set ------------------------------------------------------------------------


def _schema(**props: str) -> dict[str, Any]:
    """An object schema of string properties (name -> description), all required
    except those whose description starts with "optional"."""
    return {
        "type": "object",
        "properties": {k: {"type": "string", "description": v} for k, v in props.items()},
        "required": [k for k, v in props.items() if not v.startswith("optional")],
    }


def builtin_tools() -> list[Tool]:
    path = "path relative to the workspace folder"
    return [
        Tool("list_files", "List the files under a folder of the workspace.",
             _schema(path="optional: folder relative to the workspace (default: the whole workspace)"),
             Risk.READ, list_files),
        Tool("read_file", "Read a text file of the workspace.", _schema(path=path), Risk.READ, read_file),
        Tool("write_file", "Write (create or replace) a text file in the workspace.",
             _schema(path=path, content="the whole new content of the file"), Risk.WRITE, write_file),
        Tool("run_python", "Run Python code in the workspace folder; returns what it prints.",
             _schema(code="Python source to run"), Risk.EXECUTE, run_python, sandboxed=True),
        Tool("run_shell", "Run a shell command in the workspace folder; returns its output.",
             _schema(command="the command line"), Risk.EXECUTE, run_shell, sandboxed=True),
        Tool("fetch_url", "Fetch a web page or text resource by URL.",
             _schema(url="an http(s) URL"), Risk.NETWORK, fetch_url),
        Tool("search_history", "Search this project's earlier task outputs.",
             _schema(query="words to look for"), Risk.READ, search_history),
    ]


def builtin_registry() -> ToolRegistry:
    return ToolRegistry(builtin_tools())
