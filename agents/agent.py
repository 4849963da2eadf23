"""One task's agent: what it is told, and the call that does the work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.calls import CallContext, RetryPolicy, WaitHook, call_model
from agents.plan import Task
from agents.ports import LLMClient, LLMRequest, Message, Response
from agents.roster import Role


@dataclass(frozen=True)
class ModelSettings:
    """Which model a run uses and how to reach it (the key is never stored)."""

    model: str
    """Default litellm model string for task agents."""
    planner_model: str | None = None
    """Model for the orchestrator (planner, synthesizer); defaults to `model`."""
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    call_timeout: float = 120.0
    max_tokens: int | None = None

    @property
    def orchestrator_model(self) -> str:
        return self.planner_model or self.model

    def request(
        self, model: str, messages: Sequence[Message], *, temperature: float | None = None,
        json_schema: dict | None = None,
    ) -> LLMRequest:
        return LLMRequest(
            model=model, messages=tuple(messages), temperature=temperature,
            max_tokens=self.max_tokens, json_schema=json_schema, api_base=self.api_base,
            api_key=self.api_key, timeout=self.call_timeout,
        )


@dataclass(frozen=True)
class Input:
    """The output of a task this one depends on."""

    task_id: str
    title: str
    output: str


def task_messages(role: Role, goal: str, task: Task, inputs: Sequence[Input]) -> list[Message]:
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
    parts.append("Reply with the result of your task only, in Markdown.")
    return [Message("system", role.system_prompt), Message("user", "\n\n".join(parts))]


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
) -> tuple[Response, int]:
    """Run one task to its output; returns the response and attempts used."""
    request = settings.request(
        role.model or settings.model,
        task_messages(role, goal, task, inputs),
        temperature=role.temperature,
    )
    return await call_model(llm, request, ctx, policy, before_attempt)
