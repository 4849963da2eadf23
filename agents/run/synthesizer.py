"""The synthesizer: one call that turns the task outputs into the deliverable."""

from __future__ import annotations

from collections.abc import Mapping

from agents.llm.calls import CallContext, RetryPolicy
from agents.plan import Plan
from agents.plan.roster import ORCHESTRATOR, Roster
from agents.ports import LLMClient, Message, Response
from agents.run.agent import ModelSettings, call_with_fallbacks

_SYSTEM = (
    "You are the editor of a team of AI agents. You turn their separate results "
    "into one finished deliverable for the person who set the goal."
)
_INSTRUCTIONS = (
    "Compose the final deliverable for the person's goal from your team's results "
    "below. Write complete, well-structured Markdown: keep the substance, remove "
    "repetition, resolve contradictions, and do not mention the team or the tasks."
)


_PARTIAL = (
    "Some tasks were not done (listed under 'Not done'). Write the deliverable from "
    "the results you have, and end it with a short 'Not covered' section that names "
    "what is missing and why, in plain words."
)


def synthesis_messages(plan: Plan, outputs: Mapping[str, str],
                       missing: Mapping[str, str] | None = None) -> list[Message]:
    """`missing`: task id -> why it was not done (a partial deliverable)."""
    # Top-level tasks only: a group's output already holds its children's.
    blocks = [
        f"## {task.title}\n\n{outputs[task.id].strip()}"
        for task in plan.tasks
        if task.id in outputs and outputs[task.id].strip()
    ]
    user = f"Goal: {plan.goal}\n\n{_INSTRUCTIONS}\n\n# Results\n\n" + "\n\n".join(blocks)
    if missing:
        user += f"\n\n# Not done\n\n{_PARTIAL}\n\n" + "\n".join(f"- {why}" for why in missing.values())
    return [Message("system", _SYSTEM), Message("user", user)]


async def synthesize(
    llm: LLMClient,
    settings: ModelSettings,
    roster: Roster,
    plan: Plan,
    outputs: Mapping[str, str],
    ctx: CallContext,
    policy: RetryPolicy,
    missing: Mapping[str, str] | None = None,
) -> Response:
    role = roster.get(ORCHESTRATOR)
    models = settings.models_for(role, settings.orchestrator_model)
    response, _ = await call_with_fallbacks(
        llm, settings, models, synthesis_messages(plan, outputs, missing), ctx, policy, temperature=0.3
    )
    return response
