"""Code tools never see the person's keys, and a key a tool shows anyway is redacted
before it is recorded, announced or sent back to the model."""

from __future__ import annotations

import json
import os

import pytest

from agents.events import ToolCallFinished
from agents.llm.calls import CallContext
from agents.plan.roster import Role
from agents.ports import LedgerEntry, Message, Response, ToolCall, Usage
from agents.testing import MemoryLedger, RecordingSink
from agents.tools.base import (
    Permission,
    Risk,
    Tool,
    ToolContext,
    ToolError,
    ToolPolicy,
    ToolRegistry,
    invoke,
)
from agents.tools.builtin import SAFE_VARIABLES, builtin_registry, subprocess_env
from agents.tools.loop import ToolSetup, arguments_hash, run_tool_loop

KEY = "sk-proj-Zz9Yy8Xx7Ww6Vv5Uu4"
SECRETS = {
    "OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": "sk-ant-secret-abcdef", "GITHUB_TOKEN": "ghp_token123456",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-987654", "HTTPS_PROXY": "http://me:proxy-pass-1@proxy:3128",
    "http_proxy": "http://me:proxy-pass-2@proxy:3128", "ALL_PROXY": "socks5://me:proxy-pass-3@proxy",
    "SSH_AUTH_SOCK": "/tmp/ssh-agent.sock", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1/bus",
    "PYTHONPATH": "/somewhere/else", "TROUPE_HOME": "/the/data/folder",
}


@pytest.fixture
def leaky_env(monkeypatch):
    """Troupe's own environment full of keys, tokens and proxies with passwords."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("LC_TIME", "C")


@pytest.fixture
def ctx(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return ToolContext(workspace)


def _leaks(text: str) -> list[str]:
    leaked = [v for v in SECRETS.values() if v in text]
    return leaked + [n for n in SECRETS if f"{n}=" in text or f"'{n}'" in text]


def test_the_environment_is_an_allow_list_with_home_the_workspace(tmp_path):
    environ = {**SECRETS, "PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "HOME": "/home/me",
               "MY_ODD_CREDENTIAL": "whatever"}
    env = subprocess_env(tmp_path, environ)
    assert env == {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "HOME": str(tmp_path),
                   **({"USERPROFILE": str(tmp_path)} if os.name == "nt" else {})}
    assert not any("PROXY" in name.upper() or "KEY" in name or "TOKEN" in name for name in SAFE_VARIABLES)


@pytest.mark.skipif(os.name != "posix", reason="a POSIX shell")
async def test_run_shell_sees_no_key_no_proxy_and_home_is_the_workspace(leaky_env, ctx):
    result, failed = await invoke(builtin_registry().get("run_shell"),
                                  {"command": 'echo "key=$OPENAI_API_KEY"; echo "home=$HOME"; cd ~ && pwd; env'},
                                  ctx)
    assert not failed, result
    assert "key=\n" in result and _leaks(result) == []
    workspace = str(ctx.workspace.resolve())
    assert f"home={workspace}\n" in result and f"\n{workspace}\n" in result
    assert "LANG=C.UTF-8" in result and "LC_TIME=C" in result  # the harmless ones are kept
    assert "PATH=" in result


async def test_run_python_sees_no_key_no_proxy_and_home_is_the_workspace(leaky_env, ctx):
    code = "import os, json; print(json.dumps([dict(os.environ), os.path.expanduser('~')]))"
    result, failed = await invoke(builtin_registry().get("run_python"), {"code": code}, ctx)
    assert not failed, result
    env, home = json.loads(result)
    assert _leaks(result) == [] and "OPENAI_API_KEY" not in env
    assert not [name for name in env if "PROXY" in name.upper()]
    assert home == str(ctx.workspace.resolve())


# --- redaction in the loop --------------------------------------------------------------

ROLE = Role("coder", "You code.", tools=("show", "fail", "mcp__srv__show"))


def _registry() -> ToolRegistry:
    async def show(args, ctx):
        return f"the file says {KEY}"

    async def fail(args, ctx):
        raise ToolError(f"bad key {KEY}")

    return ToolRegistry([Tool("show", "show", {"type": "object"}, Risk.READ, show),
                         Tool("fail", "fail", {"type": "object"}, Risk.READ, fail),
                         Tool("mcp__srv__show", "show", {"type": "object"}, Risk.READ, show, mcp=True)])


def _redact(text: str) -> str:
    return text.replace(KEY, "[redacted]")


async def test_a_key_in_any_result_is_redacted_for_the_ledger_the_events_and_the_model():
    calls = (ToolCall("c0", "show", "{}"), ToolCall("c1", "fail", "{}"), ToolCall("c2", "mcp__srv__show", "{}"))
    seen: list[list[Message]] = []

    async def model(history, specs):
        seen.append(list(history))
        asked = () if any(m.role == "tool" for m in history) else calls
        return Response("done" if not asked else "", Usage(1, 1), 0.0, True, "m", 0.0, asked), 1

    ledger, sink = MemoryLedger(), RecordingSink()
    setup = ToolSetup(_registry(), workspace=None, ledger=ledger, redact=_redact,  # type: ignore[arg-type]
                      policy=ToolPolicy(rules={"mcp__srv__show": Permission.ALLOW}))
    await run_tool_loop(model, ROLE, [Message("user", "go")], setup, CallContext(run_id="r", sink=sink,
                                                                                   task_id="t"), None)

    to_model = [m.content for m in seen[-1] if m.role == "tool"]
    assert to_model == ["the file says [redacted]", "error: bad key [redacted]", "the file says [redacted]"]
    assert [e.result for e in sink.of(ToolCallFinished)] == to_model
    assert [e.result for e in ledger.entries.values()] == to_model
    assert not any(KEY in repr(e) for e in sink.events)


async def test_a_result_replayed_from_an_older_record_is_redacted_too():
    old = LedgerEntry("show", arguments_hash("show", {}), "{}", True, f"old {KEY}", False)
    ledger, sink = MemoryLedger({"r:t:1:0": old}), RecordingSink()
    setup = ToolSetup(_registry(), workspace=None, ledger=ledger, redact=_redact)  # type: ignore[arg-type]

    async def model(history, specs):
        asked = () if any(m.role == "tool" for m in history) else (ToolCall("c0", "show", "{}"),)
        return Response("done" if not asked else "", Usage(1, 1), 0.0, True, "m", 0.0, asked), 1

    await run_tool_loop(model, ROLE, [Message("user", "go")], setup, CallContext(run_id="r", sink=sink,
                                                                                   task_id="t"), None)
    [finished] = sink.of(ToolCallFinished)
    assert (finished.result, finished.permission) == ("old [redacted]", "replayed")
