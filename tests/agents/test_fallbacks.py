"""Model references resolved to endpoints, and the ordered fallback list."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agents.errors import AuthError
from agents.events import ModelFellBack
from agents.llm.calls import RetryPolicy
from agents.llm.client import LiteLLMClient
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import ApproveAll
from agents.run.agent import Endpoint, ModelSettings
from agents.run.runner import Runner, RunOptions
from agents.testing import RecordingSink
from tests.support.scripted_server import Reply


@pytest.fixture
async def llm():
    client = LiteLLMClient()
    yield client
    await client.aclose()


def settings_for(server, fallbacks=("backup/good",)) -> ModelSettings:
    return ModelSettings(
        model="primary/broken", fallbacks=fallbacks,
        endpoints={
            "primary/broken": Endpoint("openai/broken-model", server.base_url, "sk-primary-key"),
            "backup/good": Endpoint("openai/good-model", server.base_url, "sk-backup-key"),
        },
    )


def run(llm, settings, roster=None):
    sink = RecordingSink()
    plan = Plan.from_dict({"goal": "g", "tasks": [{"id": "a", "title": "A", "agent": "analyst"}]})
    runner = Runner(run_id="r", plan=plan, roster=roster or load_roster(), llm=llm, settings=settings,
                    sink=sink, gate=ApproveAll(),
                    options=RunOptions(retry=RetryPolicy(max_attempts=2, base_delay=0.01), synthesize=False))
    return runner, sink


async def test_a_failing_model_falls_back_to_the_next_after_its_retries(llm, llm_server):
    llm_server.on(predicate=lambda r: r.model == "broken-model", reply=Reply.server_error())
    llm_server.default = Reply("from the backup")
    runner, sink = run(llm, settings_for(llm_server))
    outcome = await runner.run()
    assert outcome.status == "completed"
    assert runner.states["a"].output == "from the backup"
    models = [r.model for r in llm_server.chat_requests]
    assert models == ["broken-model", "broken-model", "good-model"]  # two attempts, then the fallback
    keys = [r.headers["authorization"] for r in llm_server.chat_requests]
    assert keys == ["Bearer sk-primary-key"] * 2 + ["Bearer sk-backup-key"]  # each endpoint's own key
    [fell] = sink.of(ModelFellBack)
    assert (fell.task_id, fell.failed_model, fell.next_model) == ("a", "primary/broken", "backup/good")
    assert "500" in fell.error or "server" in fell.error.lower()


async def test_a_role_model_and_its_own_fallbacks_come_first(llm, llm_server):
    llm_server.on(predicate=lambda r: r.model == "broken-model", reply=Reply.unauthorized())
    llm_server.default = Reply("ok")
    roster = load_roster()
    analyst = replace(roster.get("analyst"), model="primary/broken", fallbacks=("backup/good",))
    roster = replace(roster, roles=tuple(analyst if r.name == "analyst" else r for r in roster))
    settings = replace(settings_for(llm_server, fallbacks=()), model="backup/good")
    runner, sink = run(llm, settings, roster)
    assert (await runner.run()).status == "completed"
    # a rejected key is permanent: one attempt, then the fallback
    assert [r.model for r in llm_server.chat_requests] == ["broken-model", "good-model"]
    assert len(sink.of(ModelFellBack)) == 1


async def test_when_every_model_fails_the_last_error_is_the_task_error(llm, llm_server):
    llm_server.on(predicate=lambda r: r.model == "broken-model", reply=Reply.server_error())
    llm_server.on(predicate=lambda r: r.model == "good-model", reply=Reply.unauthorized())
    runner, _ = run(llm, settings_for(llm_server))
    outcome = await runner.run()
    assert outcome.status == "failed"
    assert "key" in runner.states["a"].error.lower()


def test_a_reference_without_an_endpoint_goes_to_litellm_unchanged():
    settings = ModelSettings(model="openai/x", api_base="http://127.0.0.1:9/v1", api_key="k")
    request = settings.request("anthropic/claude", [])
    assert (request.model, request.api_base, request.api_key) == ("anthropic/claude", "http://127.0.0.1:9/v1", "k")
    assert AuthError  # the error type the auth case above surfaces
