"""The synthesizer: one call that turns the task outputs into the deliverable.

An orchestrator too small to edit (ModelSettings.too_small: the embedded 135M
model, asked to combine three results, wrote "Your task is to write a detailed
and concise summary..." with nothing of the goal in it) makes no call: the
results are put together as they are, lines already said left out (`assemble`).
"""

from __future__ import annotations

from collections.abc import Mapping

from agents.llm.calls import CallContext, RetryPolicy
from agents.plan import Plan
from agents.plan.roster import ORCHESTRATOR, Roster
from agents.ports import LLMClient, Message, Response, Usage
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
    who = settings.too_small.get(models[0])
    if who:
        text = assemble(plan, outputs, missing, who)
        return Response(text=text, usage=Usage(), cost=0.0, cost_known=True, model=models[0],
                        latency_ms=0.0)
    response, _ = await call_with_fallbacks(
        llm, settings, models, synthesis_messages(plan, outputs, missing), ctx, policy, temperature=0.3
    )
    return response


_MIN_REPEAT = 20  # shorter lines ("---", a heading mark) may repeat honestly


def assemble(plan: Plan, outputs: Mapping[str, str], missing: Mapping[str, str] | None,
             who: str) -> str:
    """The deliverable without an editor: the goal, then each top-level task's result
    under its title, leaving out lines an earlier result already said (a tiny model
    copies what it reads), then what was not done."""
    seen: set[str] = set()
    parts = [f"# {plan.goal.strip()}"]
    for task in plan.tasks:
        kept, in_code = [], False
        for line in outputs.get(task.id, "").strip().splitlines():
            if line.lstrip().startswith("```"):
                in_code = not in_code
            key = " ".join(line.lower().split())
            if not in_code and len(key) >= _MIN_REPEAT and key in seen:
                continue  # code is kept whole: tests repeat the code they test
            seen.add(key)
            kept.append(line)
        body = "\n".join(kept).strip()
        if body:
            parts.append(f"## {task.title}\n\n{body}")
    if missing:
        parts.append("## Not covered\n\n" + "\n".join(f"- {why}" for why in missing.values()))
    parts.append(f"_Put together from the team's results as written: {who} is too small "
                 f"to edit them into one._")
    return "\n\n".join(parts) + "\n"
