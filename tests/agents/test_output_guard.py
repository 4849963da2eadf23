"""Output guards: an answer that echoes its prompt or the chat template, or loops on one
line, is asked for once more (cooler), then fails its task: never a deliverable.

Against the local scripted server over real HTTP (LiteLLMClient), plus the checks alone.
"""

from __future__ import annotations

import pytest

from agents.llm.calls import RetryPolicy
from agents.llm.client import LiteLLMClient
from agents.llm.local_model import _request_options, set_local_models
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import ApproveAll, Message
from agents.run.agent import ModelSettings
from agents.run.guard import RETRY_TEMPERATURE, unusable
from agents.run.runner import Runner, RunOptions
from agents.run.state import TaskStatus
from agents.testing import RecordingSink
from tests.support.scripted_server import Reply

ROSTER = load_roster()
WRITER_PROMPT = ROSTER.get("writer").system_prompt
GOOD = "1. Water only when the top inch of soil is dry.\n2. Give them bright, indirect light."
ECHO = f"{WRITER_PROMPT}\n\n{WRITER_PROMPT}"
LOOP = "\n".join(["- Use a pot with a pot that can hold a pot of a plant."] * 8)
CHATML = "Sure.<|im_end|>\n<|im_start|>user\nWrite three tips<|im_end|>"


@pytest.fixture
async def llm():
    client = LiteLLMClient()
    yield client
    await client.aclose()


def runner_for(llm, server, *, synthesize: bool = False) -> tuple[Runner, RecordingSink]:
    plan = Plan.from_dict({"goal": "Write three tips for keeping houseplants alive", "tasks": [
        {"id": "t1", "title": "Tips", "agent": "writer", "instructions": "Write three tips."}]})
    sink = RecordingSink()
    settings = ModelSettings(model="openai/test-model", api_base=server.base_url, api_key="sk-test-x")
    runner = Runner(run_id="r", plan=plan, roster=ROSTER, llm=llm, settings=settings, sink=sink,
                    gate=ApproveAll(), options=RunOptions(retry=RetryPolicy(base_delay=0.01),
                                                          synthesize=synthesize))
    return runner, sink


@pytest.mark.parametrize("bad", [ECHO, LOOP, CHATML], ids=["system-prompt", "loop", "chat-template"])
async def test_a_bad_answer_is_asked_again_cooler_and_the_good_one_is_kept(llm, llm_server, bad):
    llm_server.enqueue(Reply(bad), Reply(GOOD))
    runner, _ = runner_for(llm, llm_server)

    outcome = await runner.run()

    assert outcome.status == "completed"
    assert runner.states["t1"].output == GOOD
    first, second = llm_server.chat_requests
    assert first.body.get("temperature") == ROSTER.get("writer").temperature
    assert second.body["temperature"] == RETRY_TEMPERATURE  # cooler; no repeat_penalty for a cloud API
    assert "repeat_penalty" not in second.body


async def test_twice_bad_fails_the_task_with_the_reason_and_no_deliverable(llm, llm_server):
    llm_server.enqueue(Reply(LOOP), Reply(LOOP))
    runner, _ = runner_for(llm, llm_server, synthesize=True)

    outcome = await runner.run()

    assert outcome.status == "failed" and outcome.deliverable is None
    state = runner.states["t1"]
    assert state.status is TaskStatus.FAILED
    assert "repeated one line 8 times" in state.error and "its answer was not used" in state.error
    assert "Use a pot" not in (state.output or "")
    assert len(llm_server.chat_requests) == 2  # asked once more, not retried as a failure


async def test_the_synthesizers_deliverable_is_guarded_too(llm, llm_server):
    llm_server.on(contains="Write three tips.", reply=GOOD)
    llm_server.enqueue(Reply(CHATML), Reply(CHATML))  # the synthesis call, twice
    runner, _ = runner_for(llm, llm_server, synthesize=True)

    outcome = await runner.run()

    assert outcome.status == "failed" and outcome.deliverable is None
    assert "the deliverable could not be written" in outcome.error
    assert "chat template (<|im_start|>)" in outcome.error


def test_what_counts_as_unusable() -> None:
    system = [Message("system", WRITER_PROMPT), Message("user", "Write three tips.")]
    assert unusable(GOOD, system) is None
    assert "system prompt" in (unusable(f"Sure! {WRITER_PROMPT}", system) or "")
    assert "chat template (<start_of_turn>)" in (unusable("<start_of_turn>model\nhi", system) or "")
    assert "Troupe's prompt" in (unusable("Reply with the result of your task only, in Markdown.",
                                          system) or "")
    assert "repeated one line 3 times" in (unusable(
        "Keep it cool. Keep the soil moist always. Keep the soil moist always. "
        "Keep the soil moist always.", system) or "")
    assert "repeated \"utensils\" 40 times in a row" in (unusable(
        "1. Flour, water, yeast, " + "utensils, " * 40, system) or "")
    # honest repetition: short lines, code, a few similar list items, "very, very"
    code = "```python\n" + "assert reverse('ab') == 'ba'\n" * 4 + "```\nRun it with pytest."
    assert unusable(code, system) is None
    assert unusable("---\n---\n---\nYes.\nYes.\nYes.", system) is None
    assert unusable("- Water weekly in summer.\n- Water monthly in winter.", system) is None
    assert unusable("It is very, very, very good: ha ha ha ha.", system) is None


def test_the_local_provider_passes_the_repeat_penalty_to_llama_cpp(tmp_path) -> None:
    from agents.llm.local_model import LocalModelSpec, local_models  # noqa: PLC0415

    before = local_models()
    set_local_models({"tiny": LocalModelSpec(tmp_path / "tiny.gguf")})
    try:
        options = _request_options("tiny", [{"role": "user", "content": "hi"}],
                                   {"temperature": 0.2, "repeat_penalty": 1.3})
        assert options["repeat_penalty"] == 1.3 and options["temperature"] == 0.2
        assert _request_options("tiny", [], {})["repeat_penalty"] is None  # llama.cpp's default
    finally:
        set_local_models(before)
