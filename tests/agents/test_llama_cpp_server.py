"""Troupe against the real llama-cpp-python server (`llama-cpp-python[server]`, dev lock)
on 127.0.0.1, running the embedded model's GGUF (whatever app.providers.local_models
resolves it to): a plan, parallel tasks, a tool call. One server for the module,
few requests, short answers; scripted copies of its ways: test_local_servers.py.

The server runs with `--chat_format chatml-function-calling` (the embedded model
speaks ChatML), the handler that calls tools: it answers tool calls only without
streaming, ends a stream cut short by another request with [DONE] and no finish
reason, and refuses `response_format` `json_schema` with a 500.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.errors import ToolStepsExhausted
from agents.events import LLMCallFinished, TaskRetried, ToolCallFinished
from agents.llm import quirks
from agents.llm.calls import CallContext, RetryPolicy
from agents.llm.client import LiteLLMClient
from agents.llm.limiter import limiter_for
from agents.llm.litellm_info import warm_up
from agents.plan import Plan, Task
from agents.plan.planner import Planner
from agents.plan.repair import tidy_plan
from agents.plan.roster import Role, load_roster
from agents.ports import ApproveAll, Message
from agents.run.agent import Endpoint, ModelSettings, run_task_agent
from agents.run.runner import Runner, RunOptions
from agents.testing import RecordingSink
from agents.tools.base import Risk, Tool, ToolPolicy, ToolRegistry
from agents.tools.loop import ToolSetup

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is in the dev lock")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

REF = "llm/smol"
RETRY = RetryPolicy(base_delay=0.2, jitter=0.0)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from app.providers.local_models import ensure_embedded_model

    model = ensure_embedded_model()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--model_alias", "smol", "--n_ctx", "2048", "--n_threads", "2",
               "--chat_format", "chatml-function-calling", "--seed", "7"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/v1/models", process, log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama-cpp-python's server ended: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"llama-cpp-python's server did not answer within 90 s: {log.read_text()[-2000:]}")


@pytest.fixture
async def llm() -> Iterator[LiteLLMClient]:
    await warm_up()
    client = LiteLLMClient()
    yield client
    await client.aclose()


def settings(url: str, max_tokens: int) -> ModelSettings:
    return ModelSettings(model=REF, max_tokens=max_tokens,
                         endpoints={REF: Endpoint("openai/smol", url, provider="llm")})


async def test_a_plan_comes_through_json_object_after_json_schema_is_refused(llm, server_url):
    quirks.forget()
    sink = RecordingSink()
    # tidied as the app tidies a small local planner's plans (a 135M model's ids and links are loose)
    planner = Planner(llm, load_roster(), settings(server_url, 300), retry=RETRY, fix=tidy_plan)
    result = await planner.plan(CallContext(run_id="r", sink=sink, purpose="plan"),
                                "Write three tips for keeping houseplants alive")
    assert result.plan.tasks
    # json_schema got its 500 and was sent again at once as json_object with the schema,
    # inside the one call (no retry, no failed call in the history)
    assert quirks.json_form(server_url, "smol") is quirks.JsonForm.OBJECT
    calls = sink.of(LLMCallFinished)
    assert calls and all(c.ok and c.model == REF and c.tokens_estimated for c in calls)
    assert not sink.of(TaskRetried)


async def test_parallel_tasks_all_finish_with_whole_answers(llm, server_url):
    tasks = [{"id": f"t{i}", "title": f"Name a colour ({i})", "agent": "writer",
              "instructions": "Reply with one word."} for i in range(2)]
    sink = RecordingSink()
    runner = Runner(run_id="r", plan=Plan.from_dict({"goal": "Colours", "tasks": tasks}),
                    roster=load_roster(), llm=llm, settings=settings(server_url, 12), sink=sink,
                    gate=ApproveAll(), options=RunOptions(retry=RETRY, synthesize=False, max_parallel=2))
    outcome = await runner.run()
    assert outcome.status == "completed", [s.error for s in runner.states.values()]
    assert all(runner.states[t["id"]].output.strip() for t in tasks)
    # the server cut the first stream short when the second request came: retried, one at a time since
    assert any("no finish reason" in r.error for r in sink.of(TaskRetried))
    assert limiter_for(settings(server_url, 12).request(REF, [Message("user", "")])).cap == 1


async def test_a_tool_is_called_through_unstreamed_steps(llm, server_url, tmp_path):
    async def clock(args: dict, ctx: object) -> str:
        return f"12:00 in {args.get('zone')}"

    tool = Tool("get_time", "Tells the current time in a time zone",
                {"type": "object", "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}},
                 "required": ["zone"]}, Risk.READ, clock)
    role = Role("clock", "You answer questions about time. Use the get_time tool.", tools=("get_time",))
    setup = ToolSetup(ToolRegistry([tool]), tmp_path, ToolPolicy(), max_steps=1)
    task = Task(id="t1", title="Time", agent="clock", instructions="What time is it in UTC? Call get_time.")
    sink = RecordingSink()
    with pytest.raises(ToolStepsExhausted):  # a 135M model calls the tool again and again
        await run_task_agent(llm, settings(server_url, 40), role, "Tell the time", task, [],
                             CallContext(run_id="r", sink=sink, task_id="t1"), RETRY, tools=setup,
                             gate=ApproveAll())
    (finished,) = sink.of(ToolCallFinished)
    assert finished.result == "12:00 in UTC" and not finished.error
    assert not quirks.streams_tools(server_url, "smol")
