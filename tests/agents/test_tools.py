"""The tool registry, the policy and the built-in tools (real files, real subprocesses)."""

import asyncio
import dataclasses
import os

import pytest
from aiohttp import web

from agents.tools import builtin as builtin_tools
from agents.tools.base import (
    Permission,
    Risk,
    Tool,
    ToolContext,
    ToolLimits,
    ToolPolicy,
    ToolRegistry,
    invoke,
)
from agents.tools.builtin import address_kind, builtin_registry


@pytest.fixture
def ws(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


@pytest.fixture
def ctx(ws):
    return ToolContext(workspace=ws, run_id="r", task_id="t", limits=ToolLimits(timeout=5, max_output=2000))


REG = builtin_registry()


async def call(name, args, ctx):
    return await invoke(REG.get(name), args, ctx)


# --- registry and policy ---------------------------------------------------------


async def _echo(args, ctx):
    return args["x"]


ECHO = Tool("echo", "Echo x.", {"type": "object", "properties": {"x": {"type": "string"}},
                                "required": ["x"]}, Risk.READ, _echo)


def test_specs_are_openai_tools_filtered_by_the_role():
    reg = ToolRegistry([ECHO])
    assert reg.specs(["echo", "nope"]) == [
        {"type": "function", "function": {"name": "echo", "description": "Echo x.",
                                          "parameters": ECHO.parameters}}
    ]
    assert reg.specs([]) == []
    with pytest.raises(ValueError, match="already"):
        reg.register(ECHO)


def test_policy_defaults_and_overrides():
    write = REG.get("write_file")
    mcp = Tool("mcp:files.read", "x", {}, Risk.READ, _echo)
    assert ToolPolicy().permission(REG.get("read_file")) is Permission.ALLOW
    assert ToolPolicy().permission(write) is Permission.ASK
    assert ToolPolicy().permission(REG.get("fetch_url")) is Permission.ASK
    assert ToolPolicy().permission(mcp) is Permission.ASK
    policy = ToolPolicy(rules={"write_file": Permission.ALLOW},
                        roles={"coder": {"write_file": Permission.DENY}})
    assert policy.permission(write, "writer") is Permission.ALLOW
    assert policy.permission(write, "coder") is Permission.DENY


async def test_tool_errors_come_back_as_text(ctx):
    async def broken(args, ctx):
        raise RuntimeError("boom")

    assert await invoke(Tool("b", "", {}, Risk.READ, broken), {}, ctx) == ("error: b failed: RuntimeError: boom", True)
    assert await invoke(ECHO, {}, ctx) == ("error: echo needs the argument(s) x", True)
    assert await invoke(ECHO, {"x": "hi"}, ctx) == ("hi", False)


# --- files, confined ---------------------------------------------------------------


async def test_write_read_and_list(ctx, ws):
    assert await call("write_file", {"path": "notes/a.md", "content": "hello"}, ctx) == (
        "wrote 5 characters to notes/a.md", False)
    assert (ws / "notes" / "a.md").read_text() == "hello"
    assert await call("read_file", {"path": "notes/a.md"}, ctx) == ("hello", False)
    assert await call("list_files", {}, ctx) == ("notes/\nnotes/a.md", False)


@pytest.mark.parametrize("path", ["../x", "notes/../../x", "/etc/passwd", "~/x", "..\\x"])
async def test_escapes_are_refused(ctx, ws, path):
    for name, args in [("read_file", {"path": path}), ("write_file", {"path": path, "content": "x"}),
                       ("list_files", {"path": path})]:
        result, failed = await call(name, args, ctx)
        assert failed and result.startswith("error: ") and ("absolute" in result or "leaves" in result)
    assert not (ws.parent / "x").exists()


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
async def test_symlinks_leading_outside_are_refused(ctx, ws, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    (ws / "link.txt").symlink_to(secret)
    (ws / "out").symlink_to(tmp_path)
    for name, args in [("read_file", {"path": "link.txt"}), ("write_file", {"path": "link.txt", "content": "x"}),
                       ("read_file", {"path": "out/secret.txt"}), ("list_files", {"path": "out"})]:
        result, failed = await call(name, args, ctx)
        assert failed and "outside the workspace" in result
    assert secret.read_text() == "top secret"
    (ws / "inside.txt").symlink_to(ws / "real.txt")
    (ws / "real.txt").write_text("fine")
    assert await call("read_file", {"path": "inside.txt"}, ctx) == ("fine", False)


# --- subprocesses -------------------------------------------------------------------


async def test_run_python_in_the_workspace(ctx, ws):
    result, failed = await call("run_python", {"code": "import os; print(os.getcwd())"}, ctx)
    assert not failed and result.strip() == str(ws.resolve())
    result, _ = await call("run_python", {"code": "import sys; print('bad', file=sys.stderr); sys.exit(3)"}, ctx)
    assert "bad" in result and "[exit code 3]" in result


async def test_run_python_timeout_kills_it(ws):
    ctx = ToolContext(workspace=ws, limits=ToolLimits(timeout=0.5))
    code = "import time, pathlib; time.sleep(3); pathlib.Path('late').write_text('x')"
    result, failed = await call("run_python", {"code": code}, ctx)
    assert failed and "time limit" in result
    await asyncio.sleep(3)
    assert not (ws / "late").exists()


async def test_run_python_output_limit(ctx):
    result, failed = await call("run_python", {"code": "while True: print('x' * 100)"}, ctx)
    assert not failed and "output cut at 2000 bytes" in result
    assert len(result) < 2100


async def test_run_shell(ctx, ws):
    (ws / "f.txt").write_text("abc")
    result, failed = await call("run_shell", {"command": "cat f.txt && echo done"}, ctx)
    assert not failed and result == "abcdone\n"


# --- the web and the project -----------------------------------------------------------


@pytest.fixture
async def web_server():
    """Start aiohttp apps on 127.0.0.x; yields start(routes, host) -> base URL."""
    runners = []

    async def start(routes: dict, host: str = "127.0.0.1") -> str:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        runners.append(runner)
        return f"http://{host}:{site._server.sockets[0].getsockname()[1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def text(body: str):
    async def handler(request):
        return web.Response(text=body, content_type="text/html")
    return handler


def redirect(to: str):
    async def handler(request):
        raise web.HTTPFound(to)
    return handler


async def test_fetch_url_text_only(ctx, web_server):
    async def binary(request):
        return web.Response(body=b"\0\1", content_type="application/octet-stream")

    base = await web_server({"/page": text("the page"), "/bin": binary, "/moved": redirect("/page")})
    ctx = dataclasses.replace(ctx, allow_private_urls=True)  # the test's server is on loopback
    assert await call("fetch_url", {"url": f"{base}/page"}, ctx) == ("the page", False)
    assert await call("fetch_url", {"url": f"{base}/moved"}, ctx) == ("the page", False)
    result, failed = await call("fetch_url", {"url": f"{base}/bin"}, ctx)
    assert failed and "not text" in result
    result, failed = await call("fetch_url", {"url": "file:///etc/passwd"}, ctx)
    assert failed and "http" in result


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0"])
async def test_fetch_url_refuses_local_addresses_by_default(ctx, web_server, host):
    hits = []

    async def page(request):
        hits.append(request.path)
        return web.Response(text="secret", content_type="text/plain")

    base = await web_server({"/": page})
    url = f"http://{host}:{base.rsplit(':', 1)[1]}/"
    result, failed = await call("fetch_url", {"url": url}, ctx)
    assert failed and result.startswith("error: refused: ") and "allow_private_urls" in result
    assert "loopback" in result or "unspecified" in result
    assert hits == []


@pytest.mark.parametrize(
    ("address", "kind"),
    [("10.1.2.3", "private"), ("192.168.0.9", "private"), ("172.16.5.5", "private"),
     ("169.254.169.254", "link-local"), ("fe80::1%eth0", "link-local"), ("224.0.0.251", "multicast"),
     ("ff02::1", "multicast"), ("fd00::1", "private"), ("::ffff:10.0.0.1", "private"),
     ("93.184.216.34", ""), ("2606:4700::1111", "")],
)
def test_address_kinds(address, kind):
    assert address_kind(address) == kind


async def test_fetch_url_refuses_a_redirect_to_a_private_address(ctx, web_server, monkeypatch):
    # 127.0.0.2 stands in for a public site: only 127.0.0.1 counts as loopback here
    monkeypatch.setattr(builtin_tools, "address_kind",
                        lambda a: "loopback" if a in ("127.0.0.1", "::1") else "")
    hits = []

    async def inside(request):
        hits.append(request.path)
        return web.Response(text="router admin page", content_type="text/html")

    inner = await web_server({"/admin": inside})
    port = inner.rsplit(":", 1)[1]
    outer = await web_server({"/ok": text("public page"), "/to-ip": redirect(f"{inner}/admin"),
                              "/to-name": redirect(f"http://localhost:{port}/admin")}, host="127.0.0.2")
    assert await call("fetch_url", {"url": f"{outer}/ok"}, ctx) == ("public page", False)
    for path in ("/to-ip", "/to-name"):
        result, failed = await call("fetch_url", {"url": f"{outer}{path}"}, ctx)
        assert failed and f"refused: {outer}{path} redirects to http://" in result
        assert "loopback" in result and "allow_private_urls" in result
    assert hits == []
    allowed = dataclasses.replace(ctx, allow_private_urls=True)
    assert await call("fetch_url", {"url": f"{outer}/to-ip"}, allowed) == ("router admin page", False)


async def test_search_history_uses_the_context(ws):
    async def search(query):
        return f"found {query}"

    assert await call("search_history", {"query": "x"}, ToolContext(ws, search=search)) == ("found x", False)
    result, failed = await call("search_history", {"query": "x"}, ToolContext(ws))
    assert failed and "not available" in result

