"""A run's code tools see no keys, and a key a tool shows anyway (here: a file in the
workspace that holds it) is stored, announced and sent to the model only as [redacted]."""

from __future__ import annotations

import json

import pytest

from agents.events import ToolCallFinished
from agents.plan import Plan, Task
from agents.plan.roster import Role, Roster
from agents.testing import RecordingSink, ScriptedGate
from agents.tools.base import Permission
from app.runs.service import RunService
from app.settings import Settings
from app.storage import Store
from app.tools.settings import ToolPolicies, save_policies, workspace_dir
from tests.support.scripted_server import Reply

RUN_KEY = "plain-run-key-7d3f9e2a"  # no key shape: only registration can catch it
OTHER_KEY = "another-provider-key-51c8"  # in the environment, not used by this run
CODER = Role("coder", "You code.", tools=("run_shell", "run_python", "read_file"))
BOSS = Role("orchestrator", "You plan and sum up.")
CALLS = (
    {"name": "run_shell", "arguments": {"command": 'echo "key=$OPENAI_API_KEY"; env'}},
    {"name": "run_python", "arguments": {"code": "import os; print(dict(os.environ))"}},
    {"name": "read_file", "arguments": {"path": "leak.txt"}},
)


def echo_the_tools(request):
    """Asks for CALLS once, then answers with everything the tools returned (a naive model)."""
    results = [m["content"] for m in request.messages if m.get("role") == "tool"]
    if (request.body or {}).get("tools") and not results:
        return Reply("", tool_calls=CALLS)
    return "\n---\n".join(results) or "done"


@pytest.fixture
def service(store: Store, llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", RUN_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", OTHER_KEY)
    monkeypatch.setenv("HTTPS_PROXY", "http://me:proxy-pass-1@127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    settings = Settings(default_model="openai/test-model", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(store, settings=settings, roster=Roster((BOSS, CODER)))
    yield service
    service.close()


async def test_keys_reach_neither_the_tools_nor_the_record_nor_the_model(service, llm_server, store):
    save_policies(ToolPolicies().set("run_shell", Permission.ALLOW, project="Ops")
                  .set("run_python", Permission.ALLOW, project="Ops"))
    workspace = workspace_dir("Ops")
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "leak.txt").write_text(f"openai={RUN_KEY}\nanthropic={OTHER_KEY}\n")
    llm_server.script(echo_the_tools)
    run_id = service.create_run("Ops", "goal", service.config())
    sink = RecordingSink()
    try:
        handle = service.start(run_id, Plan("goal", (Task("c", "Code", agent="coder"),)), service.config(),
                               ScriptedGate(), [sink])
        outcome = await handle.run()
    finally:
        await service.aclose_llm()
    assert outcome.status == "completed", outcome.error

    shell, python, read = (e.result for e in sink.of(ToolCallFinished))
    assert "key=\n" in shell and f"HOME={workspace.resolve()}" in shell and "PROXY" not in shell.upper()
    assert "OPENAI_API_KEY" not in python and "proxy" not in python.lower()
    assert read == "openai=[redacted]\nanthropic=[redacted]\n"

    tool_messages = [m["content"] for r in llm_server.chat_requests for m in r.messages if m["role"] == "tool"]
    assert "openai=[redacted]\nanthropic=[redacted]\n" in tool_messages
    stored = json.dumps([store.events(run_id), [vars(c) for c in store.tool_calls(run_id)],
                         store.get_run(run_id).deliverable, str(store.get_run(run_id).tasks)])
    assert "[redacted]" in stored
    for key in (RUN_KEY, OTHER_KEY, "proxy-pass-1"):
        assert key not in stored and key not in json.dumps(tool_messages) and key not in repr(sink.events)
        assert store.search_runs(key) == []
    assert store.search_runs("redacted")  # the task output is there, without the key



def test_every_key_in_the_environment_is_registered_for_redaction(monkeypatch):
    from app.logs import redact  # noqa: PLC0415
    from app.providers.secrets import register_environment_keys  # noqa: PLC0415

    monkeypatch.setenv("MISTRAL_API_KEY", "mistral-key-0a1b2c")
    monkeypatch.setenv("GITHUB_TOKEN", "github-token-3d4e5f")
    monkeypatch.setenv("https_proxy", "http://me:proxy-pass-6a7b@proxy:3128")
    monkeypatch.setenv("EDITOR", "vim-editor-value")
    register_environment_keys()
    text = "mistral-key-0a1b2c github-token-3d4e5f proxy-pass-6a7b vim-editor-value"
    assert redact(text) == "[redacted] [redacted] [redacted] vim-editor-value"
