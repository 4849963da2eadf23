"""One task's agent: what it is told, and the call that does the work."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from agents.errors import EmptyAnswer, LLMError, UnusableAnswer
from agents.events import ModelFellBack
from agents.llm.calls import CallContext, RetryPolicy, WaitHook, call_model
from agents.llm.prices import Price
from agents.plan import Task
from agents.plan.roster import Role
from agents.ports import ApprovalGate, Limits, LLMClient, LLMRequest, Message, Response
from agents.run.guard import RETRY_REPEAT_PENALTY, RETRY_TEMPERATURE, unusable
from agents.tools.loop import ToolSetup, run_tool_loop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    """How to reach one model: the litellm model string, base URL and key."""

    model: str
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    price: Price | None = None
    """What its tokens cost, when not litellm's cost map (free on this machine, or
    the person's price); None: the cost map's, or unknown."""
    provider: str = ""
    """The provider's name ("openai", "work"), as "waiting for <provider> rate limit" says it."""
    limits: Limits | None = None
    """How hard the provider may be driven (its rate limiter's settings); None: no settings."""


@dataclass(frozen=True)
class ModelSettings:
    """Which model a run uses and how to reach it (the key is never stored)."""

    model: str
    """Default model reference for task agents."""
    planner_model: str | None = None
    """Model for the orchestrator (planner, synthesizer); defaults to `model`."""
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    call_timeout: float = 600.0
    """Overall limit of one model call, in seconds."""
    idle_timeout: float | None = 60.0
    """Seconds a streamed call may receive nothing before it is given up; None: no limit."""
    max_tokens: int | None = None
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict, repr=False)
    """Model reference -> how to reach it, for references that name a
    configured provider; others go to litellm as they are, with api_base/api_key."""
    fallbacks: tuple[str, ...] = ()
    """Models tried in order when the default model fails after its retries."""
    too_small: Mapping[str, str] = field(default_factory=dict)
    """Model reference -> how to name it ("the embedded model"), for models too small
    to plan or to edit the team's results (tiny local GGUF models): the planner uses a
    built-in plan shape and the deliverable is put together without a call."""

    @property
    def orchestrator_model(self) -> str:
        return self.planner_model or self.model

    def models_for(self, role: Role, default: str | None = None) -> tuple[str, ...]:
        """The role's models, first choice first, then the run's fallbacks."""
        chain = role.models(default or self.model)
        return chain + tuple(m for m in self.fallbacks if m not in chain)

    def endpoint(self, model: str) -> Endpoint:
        return self.endpoints.get(model) or Endpoint(model, self.api_base, self.api_key)

    def request(
        self, model: str, messages: Sequence[Message], *, temperature: float | None = None,
        json_schema: dict | None = None, tools: Sequence[dict] | None = None,
    ) -> LLMRequest:
        where = self.endpoint(model)
        return LLMRequest(
            model=where.model, messages=tuple(messages), temperature=temperature,
            max_tokens=self.max_tokens, json_schema=json_schema, api_base=where.api_base,
            api_key=where.api_key, timeout=self.call_timeout, idle_timeout=self.idle_timeout,
            tools=tuple(tools) if tools else None, price=where.price,
            provider=where.provider, limits=where.limits, ref=model,
        )


async def call_with_fallbacks(
    llm: LLMClient,
    settings: ModelSettings,
    models: Sequence[str],
    messages: Sequence[Message],
    ctx: CallContext,
    policy: RetryPolicy,
    *,
    temperature: float | None = None,
    json_schema: dict | None = None,
    before_attempt: WaitHook | None = None,
    tools: Sequence[dict] | None = None,
) -> tuple[Response, int]:
    """Call the first model; when it fails after its retries, the next one.

    Returns the response and the attempts used over all models. The last
    model's error is raised if every one fails.
    """
    attempts = 0
    told = ctx.on_attempt

    def counted(number: int) -> None:
        nonlocal attempts
        attempts += 1
        if told is not None:
            told(number)

    # counted as they start (the wait hook may run more than once per attempt)
    counting = replace(ctx, on_attempt=counted)
    for number, model in enumerate(models, start=1):
        request = settings.request(
            model, messages, temperature=temperature, json_schema=json_schema, tools=tools
        )
        try:
            response, _ = await call_model(llm, request, counting, policy, before_attempt)
            if _empty(response):  # asked once more: an empty answer is usually a fluke
                response, _ = await call_model(llm, request, counting, policy, before_attempt)
            if _empty(response):
                raise EmptyAnswer(f"{model} answered with nothing, twice")
            if json_schema is None:  # a plan's JSON is checked by its parser
                response = await _guarded(llm, request, response, messages, counting, policy,
                                          before_attempt, model)
        except LLMError as exc:
            if number == len(models):
                raise
            ctx.sink.emit(ModelFellBack(run_id=ctx.run_id, task_id=ctx.task_id, failed_model=model,
                                        next_model=models[number], error=str(exc)))
            continue
        return response, attempts
    raise ValueError("call_with_fallbacks needs at least one model")


def _empty(response: Response) -> bool:
    return not response.text.strip() and not response.tool_calls


async def _guarded(llm: LLMClient, request: LLMRequest, response: Response,
                   messages: Sequence[Message], ctx: CallContext, policy: RetryPolicy,
                   before_attempt: WaitHook | None, model: str) -> Response:
    """`response`, or when it echoes its prompt or loops (agents/run/guard.py) the answer
    to one more try, cooler and with a repetition penalty; UnusableAnswer if that fails too."""
    why = unusable(response.text, messages)
    if why is None:
        return response
    log.warning("%s %s; asking once more, cooler", model, why)
    cooler = min(RETRY_TEMPERATURE, (request.temperature if request.temperature is not None else 1.0) / 2)
    # only llama.cpp (models on this machine) takes repeat_penalty; others may refuse it
    penalty = RETRY_REPEAT_PENALTY if request.model.startswith("local/") else None
    again, _ = await call_model(llm, replace(request, temperature=cooler, repeat_penalty=penalty),
                                ctx, policy, before_attempt)
    why_again = unusable(again.text, messages) if again.text.strip() else "answered with nothing"
    if why_again is None:
        return again
    how = f"at temperature {cooler:g}" + (" with a repetition penalty" if penalty else "")
    second = "" if why_again == why else f" ({why_again})"
    raise UnusableAnswer(f"{model} {why}, and again when asked once more {how}{second}; "
                         f"its answer was not used: try a larger model for this role")


@dataclass(frozen=True)
class Input:
    """The output of a task this one depends on."""

    task_id: str
    title: str
    output: str


CONTRADICTION = "CONTRADICTION:"
"""Starts a task's answer when the results it builds on contradict each other."""
_CONTRADICTION_ASK = (
    f"If the results you build on contradict each other on something that matters for your "
    f"task, start your reply with a line \"{CONTRADICTION} <what they disagree on, in one "
    f"sentence>\", then do the task as well as you can."
)


def task_messages(role: Role, goal: str, task: Task, inputs: Sequence[Input],
                  contradictions: bool = True) -> list[Message]:
    """Only what this task needs: role prompt, goal, instructions, its inputs."""
    parts = [
        f"Overall goal of the team: {goal}",
        f"Your task ({task.id}): {task.title}",
    ]
    if task.instructions.strip():
        parts.append(f"Instructions:\n{task.instructions.strip()}")
    if inputs:
        blocks = [f"### {i.title} ({i.task_id})\n{i.output.strip()}" for i in inputs]
        parts.append("Results of the tasks this one builds on:\n\n" + "\n\n".join(blocks))
    if contradictions and len(inputs) > 1:  # the person settles it (agents/run/team.py)
        parts.append(_CONTRADICTION_ASK)
    parts.append("Reply with the result of your task only, in Markdown.")
    return [Message("system", role.system_prompt), Message("user", "\n\n".join(parts))]


_FIRST_SENTENCE = re.compile(r"^.*?[.!?](?=\s|$)", re.DOTALL)


def tiny_task_messages(role: Role, goal: str, task: Task, inputs: Sequence[Input]) -> list[Message]:
    """What a tiny model (ModelSettings.too_small) can follow: the role's first sentence,
    the inputs as notes, the instructions last. Told the team's full brief, a 135M model
    repeated it ("Reply with the result of your task only") or looped on one line."""
    first = _FIRST_SENTENCE.match(role.system_prompt.strip())
    system = first.group(0) if first else role.system_prompt.strip()
    notes = "\n\n".join(i.output.strip() for i in inputs if i.output.strip())
    ask = task.instructions.strip() or task.title
    if goal.strip().lower().rstrip(".!?") not in ask.lower():
        ask = f"{ask}\n\n(The goal: {goal.strip()})"
    # "Notes:" made it rewrite the notes ("Here's a rewritten version..."); this did not
    user = f"Background from earlier work:\n\n{notes}\n\n{ask}" if notes else ask
    return [Message("system", system), Message("user", user)]


async def run_task_agent(
    llm: LLMClient,
    settings: ModelSettings,
    role: Role,
    goal: str,
    task: Task,
    inputs: Sequence[Input],
    ctx: CallContext,
    policy: RetryPolicy,
    before_attempt: WaitHook | None = None,
    tools: ToolSetup | None = None,
    gate: ApprovalGate | None = None,
) -> tuple[Response, int]:
    """Run one task to its output; returns the response and attempts used.

    With `tools` (and a role allowed some of them) the model may call tools
    first, in a bounded loop (agents/tools/loop.py); risky calls ask `gate`.
    """
    if settings.models_for(role)[0] in settings.too_small:  # a tiny model: a prompt it can follow
        return await call_with_fallbacks(
            llm, settings, settings.models_for(role), tiny_task_messages(role, goal, task, inputs), ctx,
            policy, temperature=role.temperature, before_attempt=before_attempt,
        )
    messages = task_messages(role, goal, task, inputs)
    if tools is not None and tools.registry.specs(role.tools):
        turn = ModelTurn(llm, settings, role, ctx, policy, before_attempt)
        return await run_tool_loop(turn.call, role, messages, tools, ctx, gate)
    return await call_with_fallbacks(
        llm, settings, settings.models_for(role), messages, ctx,
        policy, temperature=role.temperature, before_attempt=before_attempt,
    )


@dataclass(frozen=True)
class ModelTurn:
    """Everything one of a task's model calls needs but the messages."""

    llm: LLMClient
    settings: ModelSettings
    role: Role
    ctx: CallContext
    policy: RetryPolicy
    before_attempt: WaitHook | None = None
    models: tuple[str, ...] = ()
    """The models to try, first choice first; empty: the role's (and the run's fallbacks)."""

    async def call(self, messages: Sequence[Message], tools: Sequence[dict]) -> tuple[Response, int]:
        return await call_with_fallbacks(
            self.llm, self.settings, self.models or self.settings.models_for(self.role), messages, self.ctx,
            self.policy, temperature=self.role.temperature, before_attempt=self.before_attempt,
            tools=tools,
        )
